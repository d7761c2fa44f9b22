"""The audit table (issue 22, item 5) as a pynamodb model, registered in ``dynamodb.TABLES``.

One partition per city (``city_id``, the subscriber's GeoNames id), sorted by ``entry_key``
``<ISO time, ms, UTC>#<entry id>``: a city's entries between two instants are one Query with a
``BETWEEN`` key condition, and two entries of the same millisecond never share a key. The sparse
``by-conversation`` index holds only the entries that name a conversation, in time order: a thread's
history is one Query of that index.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class ByConversationIndex(GlobalSecondaryIndex["AuditModel"]):
    """A conversation's entries in time order (entries without a conversation are not in it)."""

    class Meta:
        index_name = "by-conversation"
        projection = AllProjection()

    conversation_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)


class AuditModel(Model):
    """Who did what, when, to a conversation or to the city's settings."""

    class Meta:
        table_name = "text311-audit"

    city_id = NumberAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)  # "<ISO time>#<entry id>": ordered by time
    conversation_id = UnicodeAttribute(null=True)  # absent for a change to the city's settings
    actor = UnicodeAttribute()  # an agent's address, or "cli:<operator>"
    action = UnicodeAttribute()  # text311.audit.Action
    detail = UnicodeAttribute(default="")
    at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
    by_conversation = ByConversationIndex()
