"""The paced sender of one origination identity: the only code that calls SendTextMessage.

One :class:`OutboundScheduler` per identity, in one process at a time (the drainer; the local run's
sender thread). It holds what it has received in a :class:`FairQueue`, and whenever the line is free
(:class:`Pacer`) it sends the best message *at that instant*: a STOP confirmation that arrived while
it waited goes before the 1,000 agent parts already queued.

    scheduler = OutboundScheduler(identity, mps, sender, ledger, clock, on_failed=tell_agent)
    scheduler.run(source, should_stop)          # the drainer's loop (SQS) or the local run's thread
    scheduler.status()                          # depth and expected waits, for metrics and notices

Per message: claim in the ledger → reserve the line → SendTextMessage → record → acknowledge. See
:mod:`text311.outbound.errors` for what each failure does and :mod:`text311.outbound.ledger` for
the crash window.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from text311.outbound.errors import FailureReason, Outcome, classify
from text311.outbound.fair_queue import FairQueue
from text311.outbound.ledger import LedgerState, SentLedger
from text311.outbound.message import OutboundMessage, Priority
from text311.outbound.pacing import Aimd, Clock, Pacer

NOTICE_THRESHOLD = 60.0  # seconds: above this the agent is told "queued, about N minutes"


class Sender(Protocol):
    """``text311.outbound.sms_api.EndUserMessagingApi`` or the adapter's ``EndUserMessagingSender``
    (built without internal retries). Returns an object with ``message_id`` or ``message_ids``."""

    def send(self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str]) -> Any: ...


class MessageSource(Protocol):
    """The durable queue as the drainer sees it (SQS in AWS, an in-process queue locally)."""

    def receive(self, wait: float) -> list[OutboundMessage]:
        """What has arrived; blocks up to ``wait`` seconds when nothing has (may return early)."""
        ...

    def ack(self, message: OutboundMessage) -> None:
        """Done with it for good (sent, failed, in doubt, duplicate): delete it from the queue."""
        ...

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        """Give it back to the queue, visible again after ``delay`` (it will come back or reach the DLQ)."""
        ...


class SendStatus(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # the ledger already had it: acknowledged, nothing sent
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    THROTTLED = "throttled"
    RETRY = "retry"  # transient failure: requeued at the head after a pause
    ABANDONED = "abandoned"  # transient failures past the limit: back to the durable queue


@dataclass(frozen=True)
class StepResult:
    message: OutboundMessage
    status: SendStatus
    at: float


@dataclass(frozen=True)
class QueueStatus:
    """What the drainer publishes (metrics, and a status item the producers read for the notice)."""

    identity: str
    mps: float
    rate: float  # current pace after AIMD, parts per second
    messages: int
    parts: int
    parts_by_priority: Mapping[str, int]
    wait_by_priority: Mapping[str, float]  # seconds a new 1-part message of that class would wait
    throttles: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity, "mps": self.mps, "rate": self.rate, "messages": self.messages,
            "parts": self.parts, "parts_by_priority": dict(self.parts_by_priority),
            "wait_by_priority": dict(self.wait_by_priority), "throttles": self.throttles,
        }


def about_minutes(wait_seconds: float) -> int | None:
    """Minutes to announce ("queued, about N minutes") or None when the wait is a minute or less."""
    if wait_seconds <= NOTICE_THRESHOLD:
        return None
    return math.ceil(wait_seconds / 60)


@dataclass
class OutboundScheduler:
    identity: str
    mps: float
    sender: Sender
    ledger: SentLedger
    clock: Clock
    on_failed: Callable[[OutboundMessage, FailureReason], None] = lambda message, reason: None
    on_sent: Callable[[OutboundMessage, float], None] = lambda message, at: None
    destination: Callable[[OutboundMessage], str] = lambda message: message.destination
    aimd: Aimd = field(default_factory=Aimd)
    quantum: int = 4  # DRR credit per visit, in parts (≥ a typical message: one visit, one message)
    poll_interval: float = 0.25  # while busy, look for new arrivals (a STOP) at least this often
    transient_backoff: float = 1.0  # first pause after a transient failure, doubled each time
    max_transient_attempts: int = 5

    def __post_init__(self) -> None:
        self.queue = FairQueue(self.quantum)
        self.pacer = Pacer(self.mps, self.aimd, start=self.clock.now())
        self._attempts: dict[str, int] = {}
        self._source: MessageSource | None = None

    # -- intake and visibility -----------------------------------------------------------------

    def enqueue(self, message: OutboundMessage) -> None:
        if message.identity != self.identity:
            raise ValueError(f"message for {message.identity!r} given to the {self.identity!r} scheduler")
        self.queue.push(message)

    def depth(self) -> dict[Priority, tuple[int, int]]:
        """(messages, parts) per class."""
        return {p: self.queue.depth(p) for p in Priority}

    def expected_wait_seconds(self, priority: Priority, city: int | None = None, parts: int = 1) -> float:
        """How long a new message of this class (and city) would wait before it starts: the line's
        remaining busy time plus the parts that go before it, at the current pace."""
        ahead = self.queue.parts_ahead(priority, city, parts)
        return self.pacer.delay(self.clock.now()) + ahead / self.pacer.rate

    def status(self) -> QueueStatus:
        depth = self.depth()
        return QueueStatus(
            identity=self.identity, mps=self.mps, rate=self.pacer.rate, messages=len(self.queue),
            parts=sum(p for _, p in depth.values()),
            parts_by_priority={p.name: depth[p][1] for p in Priority},
            wait_by_priority={p.name: round(self.expected_wait_seconds(p), 1) for p in Priority},
            throttles=self.pacer.throttles,
        )

    # -- sending -------------------------------------------------------------------------------

    def ready(self) -> bool:
        return bool(self.queue) and self.pacer.delay(self.clock.now()) == 0.0

    def send_next(self) -> StepResult | None:
        """Send the best queued message if the line is free; None if it is busy or nothing is queued."""
        now = self.clock.now()
        if self.pacer.delay(now) > 0:
            return None
        message = self.queue.pop()
        if message is None:
            return None
        entry = self.ledger.claim(message.id, self.identity)
        if entry.state is LedgerState.SENDING:
            # A drainer died between the call and the record: at most once, never resent.
            self.ledger.mark_in_doubt(message.id)
            return self._give_up(message, FailureReason.IN_DOUBT, SendStatus.IN_DOUBT, now)
        if entry.state is not LedgerState.NEW:
            self._ack(message)  # a redelivery of something already settled
            return StepResult(message, SendStatus.DUPLICATE, now)
        start = self.pacer.reserve(message.parts, now)
        try:
            result = self.sender.send(self.destination(message), message.body,
                                      idempotency_key=message.id, context=message.context)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none is swallowed blindly
            return self._failed(message, exc, now)
        self.ledger.mark_sent(message.id, _sms_id(result), message.parts)
        self.pacer.on_success(message.parts)
        self._attempts.pop(message.id, None)
        self._ack(message)
        self.on_sent(message, start)
        return StepResult(message, SendStatus.SENT, start)

    def _failed(self, message: OutboundMessage, exc: Exception, now: float) -> StepResult:
        verdict = classify(exc)
        if verdict.outcome is Outcome.THROTTLED:
            self.ledger.release(message.id)
            self.pacer.on_throttle(now)
            self.queue.push_front(message)
            return StepResult(message, SendStatus.THROTTLED, now)
        if verdict.outcome is Outcome.TRANSIENT:
            self.ledger.release(message.id)
            attempts = self._attempts.get(message.id, 0) + 1
            if attempts >= self.max_transient_attempts:
                self._attempts.pop(message.id, None)
                if self._source is not None:
                    self._source.abandon(message, delay=60.0)  # the queue's redrive policy decides (DLQ)
                return StepResult(message, SendStatus.ABANDONED, now)
            self._attempts[message.id] = attempts
            self.pacer.pause_until(now + self.transient_backoff * 2 ** (attempts - 1))
            self.queue.push_front(message)
            return StepResult(message, SendStatus.RETRY, now)
        reason = verdict.reason or FailureReason.REJECTED
        if verdict.outcome is Outcome.IN_DOUBT:
            self.ledger.mark_in_doubt(message.id)
            return self._give_up(message, reason, SendStatus.IN_DOUBT, now)
        self.ledger.mark_failed(message.id, reason.value)
        return self._give_up(message, reason, SendStatus.FAILED, now)

    def _give_up(self, message: OutboundMessage, reason: FailureReason, status: SendStatus,
                 now: float) -> StepResult:
        self._attempts.pop(message.id, None)
        self._ack(message)
        self.on_failed(message, reason)
        return StepResult(message, status, now)

    def _ack(self, message: OutboundMessage) -> None:
        if self._source is not None:
            self._source.ack(message)

    # -- the loop ------------------------------------------------------------------------------

    def run(self, source: MessageSource, should_stop: Callable[[], bool], idle_wait: float = 20.0) -> None:
        """Drain ``source`` until ``should_stop()``: wait for the line (listening for arrivals while
        it is busy), take what arrived, send the best message."""
        self._source = source
        last_poll = float("-inf")
        while not should_stop():
            now = self.clock.now()
            if not self.queue:
                self._take(source.receive(idle_wait))
                last_poll = self.clock.now()
                continue
            delay = self.pacer.delay(now)
            if delay > 0:
                arrived = source.receive(delay)
                last_poll = self.clock.now()
                self._take(arrived)
                if self.pacer.delay(self.clock.now()) > 0:
                    continue  # returned early: something arrived, or the source's wait was shorter
            elif now - last_poll >= self.poll_interval:
                self._take(source.receive(0.0))
                last_poll = now
            self.send_next()

    def _take(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            self.enqueue(message)

    def release_all(self) -> int:
        """Give every message held in memory back to the source (end of a drainer's life)."""
        released = 0
        while (message := self.queue.pop()) is not None:
            if self._source is not None:
                self._source.abandon(message, delay=0.0)
            released += 1
        return released


def _sms_id(result: Any) -> str:
    single = getattr(result, "message_id", None)
    if single:
        return str(single)
    many = getattr(result, "message_ids", None) or []
    return ",".join(str(m) for m in many)


class InMemorySource:
    """A thread-safe in-process queue for the local run (``put`` from handlers, ``run`` in a thread).
    Not durable: the local run's stand-in for the identity's SQS queue."""

    def __init__(self) -> None:
        self._queue: queue.Queue[OutboundMessage] = queue.Queue()
        self._lock = threading.Lock()
        self.acked: list[str] = []

    def put(self, message: OutboundMessage) -> None:
        self._queue.put(message)

    def receive(self, wait: float) -> list[OutboundMessage]:
        got: list[OutboundMessage] = []
        try:
            got.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
        except queue.Empty:
            return got
        while True:
            try:
                got.append(self._queue.get_nowait())
            except queue.Empty:
                return got

    def ack(self, message: OutboundMessage) -> None:
        with self._lock:
            self.acked.append(message.id)

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        if delay > 0:
            timer = threading.Timer(delay, self._queue.put, args=(message,))
            timer.daemon = True
            timer.start()
        else:
            self._queue.put(message)
