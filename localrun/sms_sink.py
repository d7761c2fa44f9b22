"""End User Messaging stand-in (moto has no pinpoint-sms-voice-v2): the phones' side of every SMS.

``SmsSink`` has the interface the core sends through (``send(destination, body, *, idempotency_key,
context)`` → ``.message_ids``, ``.parts``). It sends through the core's ``RecordingSmsSender``, which
splits a reply exactly as the real sender does (numbered parts, one segment each) and keeps its part
ledger; each part lands on the phone it went to, and End User Messaging's delivery event for it is
published to the configuration set's event destination.

Like the real identity, the sink takes at most ``mps`` message parts per second (``MpsLimit``, the
model the bench uses): a send above it is refused with the adapter's ``SendThrottled``
(``ThrottlingException``), nothing sent, so the drainer's AIMD slows down as it would on AWS.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localrun.events import sms_event
from text311.adapters.sms_sender import RecordingSmsSender, SendResult, SendThrottled
from text311.outbound.pacing import MpsLimit
from text311.sms import Encoding, encoding_of

JITTER = 1.05


@dataclass(frozen=True)
class PhoneMessage:
    direction: str  # "in": the phone texted us; "out": we texted the phone
    body: str
    at: datetime
    message_id: str

    def as_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "body": self.body,
                "at": self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "id": self.message_id}


@dataclass
class PhoneLog:
    """Every phone's conversation with Text311 as the phone sees it, oldest first."""

    _phones: dict[str, list[PhoneMessage]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    on_record: Callable[[str, PhoneMessage], None] = lambda number, message: None

    def record(self, number: str, direction: str, body: str, message_id: str) -> None:
        message = PhoneMessage(direction, body, datetime.now(UTC), message_id)
        with self._lock:
            self._phones.setdefault(number, []).append(message)
        self.on_record(number, message)

    def has_sent(self, number: str, message_id: str) -> bool:
        with self._lock:
            return any(m.direction == "in" and m.message_id == message_id for m in self._phones.get(number, []))

    def messages(self, number: str) -> list[PhoneMessage]:
        with self._lock:
            return list(self._phones.get(number, []))

    def numbers(self) -> list[str]:
        with self._lock:
            return sorted(self._phones)


class SmsSink:
    """The core's SMS sender, locally. ``recorder.opted_out`` / ``recorder.rejected`` make a number
    fail the way End User Messaging would refuse it."""

    def __init__(self, phones: PhoneLog, origination: str, publish_event: Callable[[str], Any], *,
                 mps: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.phones, self.origination, self.publish_event = phones, origination, publish_event
        self.recorder = RecordingSmsSender()
        self.mps, self.clock = mps, clock
        # A one-second bucket, as the service keeps, plus 5 % for the scheduling jitter of two clocks
        # in one process (a send due at t+1 s may start a millisecond early; AWS does not count µs).
        self.limit = MpsLimit(mps, burst=mps * JITTER)
        self.throttled = 0  # sends refused for going above the MPS (shown by /sim/status)
        self._limit_lock = threading.Lock()

    def send(self, destination: str, body: str, *, idempotency_key: str,
             context: dict[str, str] | None = None) -> SendResult:
        parts = len(self.recorder.segmenter.split(body))
        with self._limit_lock:
            if not self.limit.try_acquire(parts, self.clock()):
                self.throttled += 1
                raise SendThrottled(f"ThrottlingException: above {self.mps:g} MPS (local sink)",
                                    code="ThrottlingException")
        requested_ms = int(datetime.now(UTC).timestamp() * 1000)
        before = len(self.recorder.sent)
        result = self.recorder.send(destination, body, idempotency_key=idempotency_key, context=context)
        for part in self.recorder.sent[before:]:  # parts already sent under this key are not sent again
            self.phones.record(part.destination, "out", part.body, part.message_id)
            encoding = "UCS2" if encoding_of(part.body) is Encoding.UCS2 else "GSM"
            # What the configuration set's event destination publishes once the handset has it.
            event = sms_event(message_id=part.message_id, status="DELIVERED", final=True,
                              origination=self.origination, destination=part.destination, context=part.context,
                              parts=1, encoding=encoding, requested_ms=requested_ms)
            self.publish_event(json.dumps(event))
        return result
