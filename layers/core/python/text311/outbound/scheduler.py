"""The paced sender of one origination identity: the only code that calls SendTextMessage.

One :class:`OutboundScheduler` per identity, in one process at a time (the drainer; the local run's
sender thread). It holds what it has received in a :class:`FairQueue`, and whenever the line is free
(:class:`Pacer`) it sends the best *part* at that instant. A k-part answer is k numbered SMS
(``SmsSegmenter``: "1/3 …"), one call and one turn each, so a STOP confirmation that arrives while
an answer is on the line goes between two of its parts, not after all of them.

    scheduler = OutboundScheduler(identity, mps, sender, ledger, clock, on_failed=tell_agent)
    scheduler.run(source, should_stop)          # the drainer's loop (SQS) or the local run's thread
    scheduler.status()                          # depth and expected waits, for metrics and notices

Per part *i* of message *m*: claim ``m#i`` in the ledger → reserve the line → SendTextMessage →
record. The message is acknowledged to its source, and ``on_sent`` or ``on_failed`` called (once),
only when it is settled: its last part recorded, or a part failed or in doubt (the rest is then not
sent). See :mod:`text311.outbound.errors` for what each failure does and
:mod:`text311.outbound.ledger` for the crash window.
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
from text311.outbound.ledger import LedgerState, LedgerUnavailable, SentLedger
from text311.outbound.message import OutboundMessage, Priority
from text311.outbound.pacing import Aimd, Clock, Pacer
from text311.outbound.parts import split_parts

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
    PART = "part"  # one part sent and recorded; the message has more to send
    SENT = "sent"  # the message's last part sent and recorded
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
    part: int = 0  # the part (from 1) this step sent or tried; 0 when no call was made


def part_key(message_id: str, part: int) -> str:
    """The idempotency key of one part: its ledger record, and the key the sender is given."""
    return f"{message_id}#{part}"


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
    # Urgent calls are spaced at the MPS, not the AIMD pace (pacing.py), until this many urgent calls
    # in a row were throttled: then the service is refusing even those, and they slow down too.
    urgent_fast_tries: int = 2
    split: Callable[[str], list[str]] = split_parts  # a body → the numbered SMS the resident receives

    def __post_init__(self) -> None:
        self.queue = FairQueue(self.quantum)
        self.pacer = Pacer(self.mps, self.aimd, start=self.clock.now())
        self._attempts: dict[str, int] = {}
        self._source: MessageSource | None = None
        self._next_part: dict[str, int] = {}  # messages under way: the next part to send (from 1)
        self._texts: dict[str, list[str]] = {}  # ... and their parts, split once
        self._urgent_throttled = 0  # urgent calls throttled in a row

    # -- intake and visibility -----------------------------------------------------------------

    def enqueue(self, message: OutboundMessage) -> None:
        if message.identity != self.identity:
            raise ValueError(f"message for {message.identity!r} given to the {self.identity!r} scheduler")
        self.queue.push(message)

    def depth(self) -> dict[Priority, tuple[int, int]]:
        """(messages, parts still to send) per class."""
        return {p: self.queue.depth(p) for p in Priority}

    def expected_wait_seconds(self, priority: Priority, city: int | None = None, parts: int = 1) -> float:
        """How long a new message of this class (and city) would wait before it starts: the line's
        remaining busy time plus the parts that go before it, at the current pace."""
        ahead = self.queue.parts_ahead(priority, city, parts)
        fast = self._fast(priority)
        return self.pacer.delay(self.clock.now(), urgent=fast) + ahead / (self.mps if fast else self.pacer.rate)

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

    def _fast(self, priority: Priority) -> bool:
        return priority is Priority.URGENT and self._urgent_throttled < self.urgent_fast_tries

    def delay(self, now: float | None = None) -> float:
        """Seconds until the part at the head of the queue may go (0 when it may, or nothing is queued)."""
        head = self.queue.head_priority()
        now = self.clock.now() if now is None else now
        return self.pacer.delay(now, urgent=head is not None and self._fast(head))

    def ready(self) -> bool:
        return bool(self.queue) and self.delay() == 0.0

    def send_next(self) -> StepResult | None:
        """Send the next part of the best queued message if the line is free; None if it is busy or
        nothing is queued."""
        now = self.clock.now()
        if self.delay(now) > 0:
            return None
        message = self.queue.pop()
        if message is None:
            return None
        try:
            texts = self._texts.get(message.id) or self.split(message.body)
        except ValueError:  # blank, or longer than the segmenter sends (ReplyTooLong): nothing can go
            return self._ledger_down(message, now, lambda: self._unsendable(message, now))
        try:
            part, settled = self._claim_next(message, len(texts), now)
        except LedgerUnavailable:
            return self._ledger_down(message, now, None)
        if settled is not None:
            return settled
        self._texts[message.id], self._next_part[message.id] = texts, part
        urgent = self._fast(message.priority)
        # The slot is reserved at the call's own instant, after the claim: reserved at ``now`` (before
        # the claim's round trip) a call could start closer than 1/MPS to the one before it.
        start = self.pacer.reserve(1, self.clock.now(), urgent=urgent)
        key = part_key(message.id, part)
        try:
            result = self.sender.send(self.destination(message), texts[part - 1],
                                      idempotency_key=key, context=message.context)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none is swallowed blindly
            return self._failed(message, part, len(texts), exc, now, urgent)
        self.ledger.mark_sent(key, _sms_id(result), 1)
        self.pacer.on_success(1)
        self._attempts.pop(message.id, None)
        if urgent:
            self._urgent_throttled = 0
        if part < len(texts):
            # Give the line up at the part boundary: the rest waits at the head of its class, so only
            # a higher class (a STOP) goes before the next part, and no other answer starts before it.
            self._next_part[message.id] = part + 1
            self.queue.push_front(message, len(texts) - part)
            return StepResult(message, SendStatus.PART, start, part)
        self._forget(message)
        self._ack(message)
        self.on_sent(message, start)
        return StepResult(message, SendStatus.SENT, start, part)

    def _claim_next(self, message: OutboundMessage, parts: int, now: float) -> tuple[int, StepResult | None]:
        """The first part of ``message`` not yet recorded as sent, claimed for this call; or the
        message settled (a redelivery of one done before, or a part a dead drainer left in doubt)."""
        part = self._next_part.get(message.id, 1)
        while part <= parts:
            key = part_key(message.id, part)
            entry = self.ledger.claim(key, self.identity)
            if entry.state is LedgerState.NEW:
                return part, None
            if entry.state is LedgerState.SENDING:
                # A drainer died between this part's call and its record: at most once, never resent,
                # and the parts after it are not sent either (see docs/outbound.md, "Never twice").
                self.ledger.mark_in_doubt(key)
                return part, self._give_up(message, FailureReason.IN_DOUBT, SendStatus.IN_DOUBT, now, part)
            if entry.state is not LedgerState.SENT:
                break  # failed or in doubt in an earlier life: already told, settled
            part += 1  # recorded: a redelivery resumes after it
        self._forget(message)
        self._ack(message)
        return part, StepResult(message, SendStatus.DUPLICATE, now)

    def _ledger_down(self, message: OutboundMessage, now: float,
                     attempt: Callable[[], StepResult] | None) -> StepResult:
        """Nothing is sent unclaimed: with the ledger unwritable the message goes back to the head
        of its class and the line pauses, as after a transient failure; the drainer lives on."""
        if attempt is not None:
            try:
                return attempt()
            except LedgerUnavailable:
                pass
        self.queue.push_front(message, message.parts - self._next_part.get(message.id, 1) + 1)
        self.pacer.pause_until(now + self.transient_backoff)
        return StepResult(message, SendStatus.RETRY, now)

    def _unsendable(self, message: OutboundMessage, now: float) -> StepResult:
        # Recorded under part 1 like any permanent failure, so a redelivery is a duplicate and the
        # agent is told once.
        key = part_key(message.id, 1)
        if self.ledger.claim(key, self.identity).state is not LedgerState.NEW:
            self._forget(message)
            self._ack(message)
            return StepResult(message, SendStatus.DUPLICATE, now)
        self.ledger.mark_failed(key, FailureReason.REJECTED.value)
        return self._give_up(message, FailureReason.REJECTED, SendStatus.FAILED, now)

    def _failed(self, message: OutboundMessage, part: int, parts: int, exc: Exception, now: float,
                urgent: bool) -> StepResult:
        verdict = classify(exc)
        key = part_key(message.id, part)
        if verdict.outcome is Outcome.THROTTLED:
            self.ledger.release(key)
            self.pacer.on_throttle(now)
            if urgent:
                self._urgent_throttled += 1
            self.queue.push_front(message, parts - part + 1)
            return StepResult(message, SendStatus.THROTTLED, now, part)
        if verdict.outcome is Outcome.TRANSIENT:
            self.ledger.release(key)
            attempts = self._attempts.get(message.id, 0) + 1
            if attempts >= self.max_transient_attempts:
                self._forget(message)
                if self._source is not None:
                    # The queue's redrive policy decides (DLQ); a redelivery resumes at this part.
                    self._source.abandon(message, delay=60.0)
                return StepResult(message, SendStatus.ABANDONED, now, part)
            self._attempts[message.id] = attempts
            self.pacer.pause_until(now + self.transient_backoff * 2 ** (attempts - 1))
            self.queue.push_front(message, parts - part + 1)
            return StepResult(message, SendStatus.RETRY, now, part)
        reason = verdict.reason or FailureReason.REJECTED
        if verdict.outcome is Outcome.IN_DOUBT:
            self.ledger.mark_in_doubt(key)
            return self._give_up(message, reason, SendStatus.IN_DOUBT, now, part)
        self.ledger.mark_failed(key, reason.value)
        return self._give_up(message, reason, SendStatus.FAILED, now, part)

    def _give_up(self, message: OutboundMessage, reason: FailureReason, status: SendStatus,
                 now: float, part: int = 0) -> StepResult:
        self._forget(message)
        self._ack(message)
        self.on_failed(message, reason)
        return StepResult(message, status, now, part)

    def _forget(self, message: OutboundMessage) -> None:
        self._attempts.pop(message.id, None)
        self._next_part.pop(message.id, None)
        self._texts.pop(message.id, None)

    def _ack(self, message: OutboundMessage) -> None:
        if self._source is not None:
            self._source.ack(message)

    # -- the loop ------------------------------------------------------------------------------

    def run(self, source: MessageSource, should_stop: Callable[[], bool], idle_wait: float = 20.0) -> None:
        """Drain ``source`` until ``should_stop()``: wait for the line (listening for arrivals while
        it is busy), take what arrived, send the best part."""
        self._source = source
        last_poll = float("-inf")
        while not should_stop():
            now = self.clock.now()
            if not self.queue:
                self._take(source.receive(idle_wait))
                last_poll = self.clock.now()
                continue
            delay = self.delay(now)
            if delay > 0:
                arrived = source.receive(delay)
                last_poll = self.clock.now()
                self._take(arrived)
                if self.delay() > 0:
                    continue  # returned early: something arrived, or the source's wait was shorter
            elif now - last_poll >= self.poll_interval:
                self._take(source.receive(0.0))
                last_poll = now
            self.send_next()

    def _take(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            self.enqueue(message)

    def release_all(self) -> int:
        """Give every message held in memory back to the source (end of a drainer's life). A message
        partly sent goes back too: its redelivery resumes at its first part not recorded as sent."""
        held: list[OutboundMessage] = []
        while (message := self.queue.pop()) is not None:
            self._forget(message)
            held.append(message)
        many = getattr(self._source, "abandon_many", None)  # SQS gives back ten a call
        if many is not None:
            many(held, 0.0)
        elif self._source is not None:
            for message in held:
                self._source.abandon(message, delay=0.0)
        return len(held)


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
