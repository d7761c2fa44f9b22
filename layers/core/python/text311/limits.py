"""Abuse and spend limits: DynamoDB counters in fixed time windows (table ``limits``, TTL'd).

- **Flood** (``FloodLimiter``): a resident's texts in one clock minute. The counter is read with the
  resident (one BatchGetItem, ``ConversationStore.resident_and_count``) and incremented atomically
  (``ADD``) inside the write the text makes anyway, so an ordinary text costs no extra call. A text
  beyond the limit is held: stored in the conversation as ``throttled``, counted (``FloodThrottled``),
  not mailed; the first one of the window, and only it, gets a notice by SMS (a conditional
  ``if_not_exists`` on the counter item decides which). Opt-out and opt-in keywords are never held.
  Texts processed at the same instant by several containers read the same count, so a burst can
  pass the limit by the number of texts in flight at once; the count itself is exact.
- **City outbound** (``CityOutboundLimiter``): SMS one city's agents may send per clock hour and per
  UTC day, checked before an answer goes out: both counters move in one transaction, conditional
  on both being under their cap, so a refused answer consumes nothing.

Keys name the window, so a new window starts from zero without any reset; an item expires an hour
after its window closes. The flood key holds a digest of the phone hash, not the hash itself: the
counters need no way back to a resident.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from text311.adapters.dynamodb import LimitModel

_KEPT_AFTER_WINDOW = timedelta(hours=1)


def _epoch(at: datetime, seconds: int) -> int:
    return int(at.astimezone(UTC).timestamp()) // seconds


@dataclass(frozen=True)
class Window:
    """One counter: its key and when its item may be deleted."""

    key: str
    expires_at: datetime

    def count_actions(self, by: int = 1) -> list:
        """The update that counts ``by`` more in this window (atomic ``ADD``), for any write."""
        return [LimitModel.hits.add(by), LimitModel.expires_at.set(self.expires_at)]


def _window(kind: str, whose: str, at: datetime, seconds: int, label: str = "") -> Window:
    number = _epoch(at, seconds)
    end = datetime.fromtimestamp((number + 1) * seconds, UTC)
    return Window(key=f"{kind}#{whose}#{label}{number}", expires_at=end + _KEPT_AFTER_WINDOW)


@dataclass(frozen=True)
class FloodLimiter:
    per_minute: int

    def window(self, phone_hash: str, at: datetime) -> Window:
        digest = hashlib.sha256(phone_hash.encode()).hexdigest()[:32]
        return _window("flood", digest, at, 60)

    def allows(self, texts_so_far: int) -> bool:
        """Whether one more text fits in the window that already counted ``texts_so_far``."""
        return texts_so_far < self.per_minute

    def hold(self, window: Window, inbound_id: str) -> bool:
        """Count a held text; True when it is the first held in this window (it sends the notice).
        One UpdateItem: ``noticed`` is set to the first held text's id and never overwritten, so a
        redelivery of that same text sends the notice again under the same SMS idempotency key."""
        counter = LimitModel(key=window.key)
        counter.update(
            actions=[*window.count_actions(), LimitModel.noticed.set(LimitModel.noticed | inbound_id)]
        )
        return counter.noticed == inbound_id


@dataclass(frozen=True)
class CityOutboundLimiter:
    per_hour: int
    per_day: int

    def windows(self, city_id: int, at: datetime) -> tuple[Window, Window]:
        return (
            _window("city-sms", str(city_id), at, 3600, "h"),
            _window("city-sms", str(city_id), at, 86_400, "d"),
        )

    def allow_outbound(self, city_id: int, *, count: int = 1, at: datetime | None = None) -> bool:
        """Take ``count`` SMS from the city's hourly and daily allowance; False (and nothing taken)
        when either is spent. One TransactWriteItems."""
        hour, day = self.windows(city_id, at or datetime.now(UTC))
        try:
            with TransactWrite(connection=LimitModel._get_connection().connection) as transaction:
                for window, cap in ((hour, self.per_hour), (day, self.per_day)):
                    under_cap = LimitModel.hits.does_not_exist() | (LimitModel.hits <= cap - count)
                    transaction.update(LimitModel(key=window.key), window.count_actions(count), condition=under_cap)
        except TransactWriteError as exc:
            if any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons):
                return False
            raise
        return True

    def used(self, city_id: int, at: datetime | None = None) -> tuple[int, int]:
        """SMS sent so far in the current hour and day (for the console and tests)."""
        hour, day = self.windows(city_id, at or datetime.now(UTC))
        counts = {c.key: int(c.hits) for c in LimitModel.batch_get([hour.key, day.key])}
        return counts.get(hour.key, 0), counts.get(day.key, 0)
