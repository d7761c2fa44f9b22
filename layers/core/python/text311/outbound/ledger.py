"""The sent ledger: each outbound message id is sent at most once.

States of one id::

    (none) --claim--> SENDING --mark_sent--> SENT
                         |----mark_failed--> FAILED     (permanent: opted out, invalid, spend limit)
                         |----mark_in_doubt-> IN_DOUBT  (crash or timeout after the request left)
                         '----release------> (none)     (refused before sending: retry; a throttled
                                                        part keeps its claim for its retry, released
                                                        at a clean stop: scheduler.py)

``claim`` is a conditional put (the id must not exist) written *before* SendTextMessage is called.
A later claim of the same id finds its state and the drainer acts on it: SENT, FAILED or IN_DOUBT →
acknowledge, do nothing (a redelivery); SENDING → a drainer died between the call and
``mark_sent``. SendTextMessage takes no idempotency token, so nothing can tell whether that call
reached the service. We choose **at most once**: the message becomes IN_DOUBT, the agent is told
"may not have been delivered", and it is never sent again. A resident receiving an agent's answer
twice, or a STOP confirmation twice, is the failure the issue forbids; a rare in-doubt message is
visible and recoverable (End User Messaging's delivery events carry our id in ``Context`` and can
settle it with :meth:`settle`). The window is one API call long (~100 ms) and needs a crash in it.

Only one drainer per identity runs at a time (docs/outbound.md), so a SENDING record met by
``claim`` is never another live drainer's call in progress.

The scheduler records each *part* of a message under its own id (``<message id>#<part>``), so the
ids given here are part keys; the ledger itself does not care.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from text311.observability import logger, metrics

RETENTION = timedelta(days=15)  # longer than SQS's longest retention (14 days): no redelivery outlives its record


class LedgerState(StrEnum):
    NEW = "new"  # returned by claim only: this caller now owns the send
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class LedgerEntry:
    message_id: str
    state: LedgerState
    sms_message_id: str | None = None
    reason: str | None = None


class SentLedger(Protocol):
    def claim(self, message_id: str, identity: str) -> LedgerEntry:
        """Record SENDING if the id is unknown (→ state NEW); else return what is recorded."""
        ...

    def release(self, message_id: str) -> None:
        """The call was refused before sending (throttled, no connection): the id may be claimed again."""
        ...

    def mark_sent(self, message_id: str, sms_message_id: str, parts: int) -> None: ...

    def mark_failed(self, message_id: str, reason: str) -> None: ...

    def mark_in_doubt(self, message_id: str) -> None: ...


class InMemoryLedger:
    """For tests, the bench and the local run's single process."""

    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}

    def claim(self, message_id: str, identity: str) -> LedgerEntry:
        existing = self.entries.get(message_id)
        if existing is not None:
            return existing
        self.entries[message_id] = LedgerEntry(message_id, LedgerState.SENDING)
        return LedgerEntry(message_id, LedgerState.NEW)

    def release(self, message_id: str) -> None:
        if self.entries.get(message_id, LedgerEntry(message_id, LedgerState.NEW)).state is LedgerState.SENDING:
            del self.entries[message_id]

    def mark_sent(self, message_id: str, sms_message_id: str, parts: int) -> None:
        self.entries[message_id] = LedgerEntry(message_id, LedgerState.SENT, sms_message_id=sms_message_id)

    def mark_failed(self, message_id: str, reason: str) -> None:
        self.entries[message_id] = LedgerEntry(message_id, LedgerState.FAILED, reason=reason)

    def mark_in_doubt(self, message_id: str) -> None:
        self.entries[message_id] = LedgerEntry(message_id, LedgerState.IN_DOUBT, reason="in_doubt")

    def settle(self, message_id: str, sms_message_id: str) -> None:
        if self.entries.get(message_id) and self.entries[message_id].state is LedgerState.IN_DOUBT:
            self.mark_sent(message_id, sms_message_id, 0)


class LedgerUnavailable(Exception):  # noqa: N818 - a state of the table, not a bug
    """The ledger could not be written after every retry: nothing may be sent until it can."""


class _Sleeper(Protocol):
    def sleep(self, seconds: float) -> None: ...


@dataclass
class RetryingLedger:
    """A :class:`SentLedger` whose calls are retried (a DynamoDB throttle or 5xx is common and short),
    so one failed write never ends the drainer's life and with it the chain of drainers.

    - ``claim`` (before the call): retried; still failing, :class:`LedgerUnavailable`, and the
      scheduler gives the part back to the head of the queue and pauses (nothing is sent unclaimed).
      A retried claim whose first answer was lost finds its own claim: ``TableLedger`` gives a claim
      one token, kept across the calls that raised and dropped at its first answer, and answers NEW
      to its own token, not "a drainer died". A later claim has a new token: a ``sending`` record
      left by a write given up below is in doubt, even in the same warm container.
    - the writes after the call (``mark_sent``, ``mark_failed``, ``mark_in_doubt``, ``release``):
      retried; still failing, logged and counted (``OutboundLedgerWriteFailed``) and dropped. The part
      keeps its ``sending`` record, which a redelivery reads as in doubt: never sent twice.
    """

    inner: SentLedger
    clock: _Sleeper
    attempts: int = 4
    first_pause: float = 0.1  # doubled after each failure: 0.1 + 0.2 + 0.4 = 0.7 s at most
    failures: int = field(default=0, init=False)

    def _retried(self, what: str, call: Callable[[], LedgerEntry | None]) -> LedgerEntry | None:
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - any failure of the table is retried, then reported
                self.failures += 1
                if attempt == self.attempts:
                    logger.error(f"outbound ledger {what} failed after {attempt} attempts",
                                 extra={"error": f"{type(exc).__name__}: {exc}"})
                    raise LedgerUnavailable(what) from exc
                self.clock.sleep(self.first_pause * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _settle(self, what: str, call: Callable[[], None]) -> None:
        try:
            self._retried(what, lambda: call())
        except LedgerUnavailable:
            metrics.add_metric(name="OutboundLedgerWriteFailed", unit="Count", value=1)

    def claim(self, message_id: str, identity: str) -> LedgerEntry:
        entry = self._retried("claim", lambda: self.inner.claim(message_id, identity))
        assert entry is not None
        return entry

    def release(self, message_id: str) -> None:
        self._settle("release", lambda: self.inner.release(message_id))

    def mark_sent(self, message_id: str, sms_message_id: str, parts: int) -> None:
        self._settle("mark_sent", lambda: self.inner.mark_sent(message_id, sms_message_id, parts))

    def mark_failed(self, message_id: str, reason: str) -> None:
        self._settle("mark_failed", lambda: self.inner.mark_failed(message_id, reason))

    def mark_in_doubt(self, message_id: str) -> None:
        self._settle("mark_in_doubt", lambda: self.inner.mark_in_doubt(message_id))


class OutboundLedgerModel(Model):
    """One row per outbound message id. The lead adds this table to the Data construct
    (``message_id`` hash key, ``expires_at`` TTL, on-demand) and binds its name at cold start with
    :func:`bind_ledger_table`."""

    class Meta:
        table_name = "text311-outbound-ledger"

    message_id = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    identity = UnicodeAttribute()
    sms_message_id = UnicodeAttribute(null=True)
    parts = NumberAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


def bind_ledger_table(table_name: str, region: str | None = None, host: str | None = None) -> None:
    meta = OutboundLedgerModel.Meta
    meta.table_name = table_name
    meta.region = region  # type: ignore[attr-defined]
    meta.host = host  # type: ignore[attr-defined]
    OutboundLedgerModel._connection = None


def _conditional(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


class DynamoDbLedger:
    """Conditional writes on :class:`OutboundLedgerModel`: the claim is a put that fails if the id
    exists, every transition is conditioned on the state it leaves (SENDING)."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now

    def claim(self, message_id: str, identity: str) -> LedgerEntry:
        now = self._now()
        item = OutboundLedgerModel(
            message_id=message_id, state=LedgerState.SENDING.value, identity=identity,
            updated_at=now, expires_at=now + RETENTION,
        )
        try:
            item.save(condition=OutboundLedgerModel.message_id.does_not_exist())
            return LedgerEntry(message_id, LedgerState.NEW)
        except PutError as exc:
            if not _conditional(exc):
                raise
        try:
            found = OutboundLedgerModel.get(message_id, consistent_read=True)
        except DoesNotExist:  # released between our put and our read: let the redelivery retry
            return self.claim(message_id, identity)
        return LedgerEntry(message_id, LedgerState(found.state), found.sms_message_id, found.reason)

    def release(self, message_id: str) -> None:
        try:
            OutboundLedgerModel(message_id=message_id).delete(
                condition=OutboundLedgerModel.state == LedgerState.SENDING.value)
        except DeleteError as exc:
            if not _conditional(exc):
                raise

    def _finish(self, message_id: str, state: LedgerState, *, sms_message_id: str | None = None,
                parts: int | None = None, reason: str | None = None,
                expect: LedgerState = LedgerState.SENDING) -> None:
        m = OutboundLedgerModel
        actions: list[Action] = [m.state.set(state.value), m.updated_at.set(self._now())]
        if sms_message_id is not None:
            actions.append(m.sms_message_id.set(sms_message_id))
        if parts is not None:
            actions.append(m.parts.set(parts))
        if reason is not None:
            actions.append(m.reason.set(reason))
        try:
            m(message_id=message_id).update(actions=actions, condition=m.state == expect.value)
        except UpdateError as exc:
            if not _conditional(exc):
                raise

    def mark_sent(self, message_id: str, sms_message_id: str, parts: int) -> None:
        self._finish(message_id, LedgerState.SENT, sms_message_id=sms_message_id, parts=parts)

    def mark_failed(self, message_id: str, reason: str) -> None:
        self._finish(message_id, LedgerState.FAILED, reason=reason)

    def mark_in_doubt(self, message_id: str) -> None:
        self._finish(message_id, LedgerState.IN_DOUBT, reason="in_doubt")

    def settle(self, message_id: str, sms_message_id: str) -> None:
        """A delivery event named this id: an in-doubt message was in fact sent."""
        self._finish(message_id, LedgerState.SENT, sms_message_id=sms_message_id, expect=LedgerState.IN_DOUBT)

    def get(self, message_id: str) -> LedgerEntry | None:
        try:
            found = OutboundLedgerModel.get(message_id, consistent_read=True)
        except DoesNotExist:
            return None
        return LedgerEntry(message_id, LedgerState(found.state), found.sms_message_id, found.reason)
