"""The service requests table (issue 20) as a pynamodb model, registered in ``dynamodb.TABLES``.

One partition per city (``city_id``, the subscriber's GeoNames id as a string), so every read names
the tenant in its key condition. The sort key ``item_key`` holds three kinds of item:

- ``request#<reference>``: one service request with its status history;
- ``counter``: the city's last reference number (``last``), moved only in the transaction that
  writes the request it numbers, so numbers are never shared and never skipped;
- ``claim#<idempotency key>``: the reference one key filed (an answer's Message-ID), kept for a
  while (TTL) so that a redelivered answer finds its request instead of filing a second one.

Only request items carry ``requested_at`` and ``conversation_id``, so the two local secondary
indexes hold requests alone.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, LocalSecondaryIndex
from pynamodb.models import Model

REQUEST_KEY_PREFIX = "request#"
COUNTER_KEY = "counter"
CLAIM_KEY_PREFIX = "claim#"


class StatusChangeMap(MapAttribute):
    at = UTCDateTimeAttribute()
    status = UnicodeAttribute()
    note = UnicodeAttribute(default="")
    by = UnicodeAttribute()


class ByRequestedIndex(LocalSecondaryIndex["RequestModel"]):
    """A city's requests by filing time: the Open311 list and the console's."""

    class Meta:
        index_name = "by-requested"
        projection = AllProjection()

    city_id = UnicodeAttribute(hash_key=True)
    requested_at = UTCDateTimeAttribute(range_key=True)


class ByConversationIndex(LocalSecondaryIndex["RequestModel"]):
    """The requests filed from one conversation (a resident's STATUS, an agent's #status)."""

    class Meta:
        index_name = "by-conversation"
        projection = AllProjection()

    city_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)


class RequestModel(Model):
    class Meta:
        table_name = "text311-requests"

    city_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    # counter item
    last = NumberAttribute(null=True)
    # request item (and, for a claim item, the reference it filed)
    reference = UnicodeAttribute(null=True)
    service_code = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    lat = NumberAttribute(null=True)
    lon = NumberAttribute(null=True)
    requested_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    history = ListAttribute(of=StatusChangeMap, null=True)
    # claim item only: requests themselves are the city's records and do not expire
    expires_at = TTLAttribute(null=True)
    by_requested = ByRequestedIndex()
    by_conversation = ByConversationIndex()
