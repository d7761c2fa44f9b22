"""The sent ledger (:class:`~text311.outbound.ledger.SentLedger`) in the functions' idempotency table.

The contract of issue 12 keeps every outbound record in the existing idempotency table (hash key
``id``, TTL ``expiration``), so no new table is deployed. ``DynamoDbLedger`` is bound to its own
model (hash key ``message_id``), which that table cannot hold; this is the same state machine
(ledger.py's docstring) over the table's plain client, one item ``outbound#<key>`` per key the
scheduler claims. Every transition is conditioned on the state it leaves, as there.

A claim also names its ``owner``: a token of that one claim, not of the drainer or the container.
A claim retried after its first answer was lost (``RetryingLedger``) carries the same token, finds
its own ``sending`` record and answers NEW instead of putting an unsent part in doubt: the call that
lost its answer returned nothing, so nothing was sent under it. The token is dropped as soon as a
claim answers; a later claim of the same key (a redelivery, or the same warm container's next
drainer after ``mark_sent`` gave up) has a new token, so the ``sending`` record it meets is someone
else's call, perhaps sent: in doubt, never sent twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from text311.outbound.ledger import RETENTION, LedgerEntry, LedgerState

PREFIX = "outbound#"


def _conditional(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TableLedger:
    def __init__(self, client: Any, table: str, now: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table
        self.now = now
        # key → the token of its claim that has not answered yet (a call that raised): only its retry reuses it
        self._unanswered: dict[str, str] = {}

    def _key(self, message_id: str) -> dict[str, Any]:
        return {"id": {"S": PREFIX + message_id}}

    def claim(self, message_id: str, identity: str) -> LedgerEntry:
        token = self._unanswered.setdefault(message_id, uuid.uuid4().hex)
        entry = self._claim(message_id, identity, token)  # raises: the token stays for the retry
        del self._unanswered[message_id]  # answered: this claim is over, the next one is another
        return entry

    def _claim(self, message_id: str, identity: str, token: str) -> LedgerEntry:
        now = self.now()
        try:
            self.client.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(id)",
                Item={**self._key(message_id), "state": {"S": LedgerState.SENDING.value},
                      "identity": {"S": identity}, "owner": {"S": token}, "updated_at": {"N": repr(now)},
                      "expiration": {"N": str(int(now + RETENTION.total_seconds()))}},
            )
            return LedgerEntry(message_id, LedgerState.NEW)
        except ClientError as exc:
            if not _conditional(exc):
                raise
        item = self._item(message_id)
        if item is None:  # released between our put and our read: claim it now
            return self._claim(message_id, identity, token)
        found = _entry(message_id, item)
        if found.state is LedgerState.SENDING and item.get("owner", {}).get("S") == token:
            return LedgerEntry(message_id, LedgerState.NEW)  # this claim's own put, its answer lost
        return found

    def _item(self, message_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=self._key(message_id), ConsistentRead=True).get("Item")
        return item

    def get(self, message_id: str) -> LedgerEntry | None:
        item = self._item(message_id)
        return None if item is None else _entry(message_id, item)

    def release(self, message_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table, Key=self._key(message_id), ConditionExpression="#s = :sending",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":sending": {"S": LedgerState.SENDING.value}},
            )
        except ClientError as exc:
            if not _conditional(exc):
                raise

    def _finish(self, message_id: str, state: LedgerState, expect: LedgerState = LedgerState.SENDING,
                **fields: str | int) -> None:
        names = {"#s": "state"}
        values: dict[str, Any] = {":new": {"S": state.value}, ":expect": {"S": expect.value},
                                  ":at": {"N": repr(self.now())}}
        sets = ["#s = :new", "updated_at = :at"]
        for name, value in fields.items():
            names[f"#{name}"] = name
            values[f":{name}"] = {"N": str(value)} if isinstance(value, int) else {"S": value}
            sets.append(f"#{name} = :{name}")
        try:
            self.client.update_item(
                TableName=self.table, Key=self._key(message_id), UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#s = :expect", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not _conditional(exc):
                raise  # a record that left SENDING already keeps its first ending

    def mark_sent(self, message_id: str, sms_message_id: str, parts: int) -> None:
        self._finish(message_id, LedgerState.SENT, sms_message_id=sms_message_id or "-", parts=parts)

    def mark_failed(self, message_id: str, reason: str) -> None:
        self._finish(message_id, LedgerState.FAILED, reason=reason)

    def mark_in_doubt(self, message_id: str) -> None:
        self._finish(message_id, LedgerState.IN_DOUBT, reason="in_doubt")

    def settle(self, message_id: str, sms_message_id: str) -> None:
        """A delivery event named this key: an in-doubt send did go out."""
        self._finish(message_id, LedgerState.SENT, expect=LedgerState.IN_DOUBT, sms_message_id=sms_message_id)


def _entry(message_id: str, item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(message_id, LedgerState(item["state"]["S"]),
                       item.get("sms_message_id", {}).get("S"), item.get("reason", {}).get("S"))
