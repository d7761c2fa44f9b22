"""The paced sender of one origination identity: the only code that calls SendTextMessage.

One :class:`OutboundScheduler` per identity, in one process at a time (the drainer; the local run's
sender thread). It holds what it has received in a :class:`FairQueue`, and whenever the line is free
(:class:`Pacer`) it sends the best *part* at that instant. A k-part answer is k numbered SMS
(``SmsSegmenter``: "1/3 …"), one call and one turn each, so a STOP confirmation that arrives while
an answer is on the line goes between two of its parts, not after all of them.

    scheduler = OutboundScheduler(identity, mps, sender, ledger, clock, on_failed=tell_agent)
    scheduler.run(source, should_stop)          # the drainer's loop (SQS) or the local run's thread
    scheduler.run(source, should_stop, in_flight=in_flight_for(mps))   # pipelined (below)
    scheduler.status()                          # depth and expected waits, for metrics and notices

Per part *i* of message *m*: claim ``m#i`` in the ledger → reserve the line → SendTextMessage →
record. The message is acknowledged to its source, and ``on_sent`` or ``on_failed`` called (once),
only when it is settled: its last part recorded, or a part failed or in doubt (the rest is then not
sent). See :mod:`text311.outbound.errors` for what each failure does and
:mod:`text311.outbound.ledger` for the crash window.

**Pipelined** (issue 19; ``run(..., in_flight=n)`` with n > 1 on a clock that can ``spawn``): a chain
of claim, send and record takes about 100 ms, so a serial line sends about 10 parts a second however
fast the identity is. Here n workers share the scheduler: each takes the best part once the line's
next free slot (counting the parts already taken and not yet started) is within ``claim_lead``,
claims it, then waits for a slot and reserves it *at the instant of its call* (under the lock, then
calls at once), so no sliding second ever holds more than MPS call starts. A receiver thread polls
the queue meanwhile (prefetch). Order: the best part is chosen when a worker takes it, so an urgent
message waits at most for the few parts already taken; a message's next part is queued again only
when the call of the part before it returned, so its parts go in order and never overlap; DRR
charges one part of credit per part taken (fair_queue.py). State is guarded by one lock (the clock's
``condition``), released around every call that waits on the network (ledger, sender, unsealing,
queue, callbacks).

**A life's first read** (pipelined): nothing is queued until the first read is complete, that is
until a poll comes back short or, on a backlog, until each burst receiver's first poll returned
(one poll's time, about 15 ms; :data:`FIRST_READ_LONGEST` at most); then all of it is queued at
once (:meth:`FairQueue.push_all`: cities that join together, fewest parts first). A successor's
first poll of ten held the flood's backlog given back at a hand-off and a message that arrived
meanwhile, and the answer that was next came in the poll after: the first part taken gave the flood
a whole new visit before it (issue 19, 6 flood parts at 3 MPS).

**Stragglers** (``detach_after``): at a stop, the calls under way end before anything is given back,
and a lost response holds its call for the client's read timeout (10 s), while the successor waits
for the lease. With ``detach_after`` set, once every thread still running is inside a send call and
the stop is that old, ``run`` returns with those calls under way: ``release_all`` gives back the
rest and hides their messages for :data:`STRAGGLER_HIDE` s instead, the caller drops the lease (no
call can start any more: every worker left is past its call's start, so its slot was counted in the
line the lease hands on), then ``settle_stragglers`` waits for them, each settling its own part
(sent, in doubt, refused), and gives back what they left (a message's next part, a refused part).
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
from text311.outbound.pacing import EPSILON, Aimd, Clock, Pacer
from text311.outbound.parts import split_parts

NOTICE_THRESHOLD = 60.0  # seconds: above this the agent is told "queued, about N minutes"
CALL_SECONDS = 0.25  # a claim, a send and a record, with room for jitter: what one worker holds a part
SPARE_WORKERS = 4  # workers left for calls stuck in a read timeout (10 s) while the line goes on
# How long a straggler's message stays hidden after the stop: its call's read timeout (10 s) and its
# record, with room. A life that dies before it settles leaves the part ``sending``; the message comes
# back after this and its successor reads it as in doubt (never sent twice).
STRAGGLER_HIDE = 60.0
# A life's first read (module docstring) is queued this long after its first poll returned at the latest:
# a burst receiver whose first poll is stuck (a lost response waits out its read timeout) must not hold
# the line. The scheduler's poll interval while busy, the delay already accepted for a STOP to be seen.
FIRST_READ_LONGEST = 0.25


# A part is taken this long before its slot: its claim and its unsealing (two calls of about 8 ms) with
# room, and no longer than one quantum of the line's parts: every part taken is chosen before whatever
# arrives meanwhile, so at 100 MPS a lead of 0.1 s put 10 flood parts, chosen already, before a small
# city's answer that came in (issue 19); 0.04 s is 4.
CLAIM_LEAD = 0.1
CLAIM_LEAD_SHORTEST = 0.04
QUANTUM = 4  # DRR credit per visit, in parts: what a small city's message waits behind at most


def claim_lead_for(mps: float, quantum: int) -> float:
    """The claim lead of a line of ``mps``: one quantum of its parts, within [0.04, 0.1] s."""
    return max(CLAIM_LEAD_SHORTEST, min(CLAIM_LEAD, quantum / mps))


def in_flight_for(mps: float, call_seconds: float = CALL_SECONDS, spare: int = SPARE_WORKERS) -> int:
    """Workers that keep a line of ``mps`` full: the parts started during one call, plus spares."""
    return max(1, math.ceil(mps * call_seconds)) + spare


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
            "identity": self.identity,
            "mps": self.mps,
            "rate": self.rate,
            "messages": self.messages,
            "parts": self.parts,
            "parts_by_priority": dict(self.parts_by_priority),
            "wait_by_priority": dict(self.wait_by_priority),
            "throttles": self.throttles,
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
    quantum: int = QUANTUM
    poll_interval: float = 0.25  # while busy, look for new arrivals (a STOP) at least this often
    transient_backoff: float = 1.0  # first pause after a transient failure, doubled each time
    max_transient_attempts: int = 5
    # Urgent calls are spaced at the MPS, not the AIMD pace (pacing.py), and a refused one gives its
    # slot back, until this many urgent calls in a row were throttled: then the service is refusing
    # even those, and they slow down too. (Three: a refusal given back costs the line no slot, and a STOP
    # refused twice at 1 MPS still goes within about 1.2 s instead of waiting out the AIMD pace.)
    urgent_fast_tries: int = 3
    # A refused call of any other class is a stray refusal (pacing.py, Pacer.on_refused: one back-off, its
    # slot given back or its pace left whole) only when at least this many calls were accepted since the
    # last refusal: the parts AIMD takes to recover from a cut (5). A refusal sooner is part of an
    # overload and gets AIMD's whole back-off. (A service that takes 50 MPS on a 100-MPS config, 2,000 parts:
    # 604 refused calls; 512 when every refusal cut the pace; 1,897 when only a refusal right after another
    # was an overload: at 100 MPS the calls return interleaved, and the refusals were seldom in a row.)
    isolated_after: int = 5
    split: Callable[[str], list[str]] = split_parts  # a body → the numbered SMS the resident receives
    claim_lead: float = CLAIM_LEAD  # pipelined: a part is taken this long before its slot (claim_lead_for)
    long_polls: bool = False  # pipelined: the source's receive returns at an arrival (SQS long poll)
    control_every: float = 1.0  # pipelined: how often ``should_stop`` is asked
    # Pipelined: receivers that poll at once while the source reports a backlog (``backlogged``: its
    # last poll came back full). One poll chain reads about 650 messages a second; a burst of 5,000
    # took 7 s, and a STOP that arrived meanwhile waited behind it.
    burst_receivers: int = 8
    # Pipelined: seconds the drainer's lease is still ours (Lease.left); no part is taken unless it can
    # start and end well before that: a successor may take the lease at its end. None: no fence.
    lease_left: Callable[[], float] | None = None
    lease_margin: float = 0.25  # beyond the claim lead: a call's own time and clocks a little apart
    # Called with each receive's messages once they are queued (their turns known), outside the lock:
    # the drainer brings down at once the first visibility of those due far sooner than it guessed.
    on_taken: Callable[[list[OutboundMessage]], None] = lambda messages: None
    # Pipelined: seconds after a clean stop from which calls still under way are left to finish on
    # their own (module docstring, "Stragglers"); None: the stop waits for every one.
    detach_after: float | None = None

    def __post_init__(self) -> None:
        self.queue = FairQueue(self.quantum)
        self.pacer = Pacer(self.mps, self.aimd, start=self.clock.now())
        self._attempts: dict[str, int] = {}
        self._source: MessageSource | None = None
        self._next_part: dict[str, int] = {}  # messages under way: the next part to send (from 1)
        # message id → its part whose call was refused (throttled): the claim is kept for the retry,
        # which goes first in its class, so the part is not chosen again after the others chosen meanwhile
        self._kept_claims: dict[str, int] = {}
        self._texts: dict[str, list[str]] = {}  # ... and their parts, split once
        self._urgent_throttled = 0  # urgent calls throttled in a row
        self._accepted_since_refusal = 1 << 30  # calls accepted since the last refusal (none yet: many)
        # id → every copy received of each message held (queued or on the line): a duplicate delivery
        # (SQS's, or a producer's second send) is not queued twice, so two workers never send the same
        # part; settling the message deletes every copy (SQS honours the newest receipt of each).
        self._held: dict[str, list[OutboundMessage]] = {}
        make_lock = getattr(self.clock, "condition", None)
        self._lock: Any = make_lock() if make_lock is not None else threading.Condition()
        self._pipelined = False
        self._booked = 0  # pipelined: parts taken by a worker whose call has not started
        self._stopping = False
        self._alive = 0  # pipelined: worker and receiver threads still running
        self._crash: BaseException | None = None
        self._backlogged = False  # pipelined: the last receive came back full (helpers poll too)
        # pipelined: what the life's first read holds until it is complete (None once it is), and the
        # helpers' first polls still to return (they poll only once the first receiver's came back full)
        self._first_read: list[OutboundMessage] | None = None
        self._first_polls_left = 0
        self._first_read_by = math.inf  # ... and when it is queued at the latest (FIRST_READ_LONGEST)
        self._calling: dict[str, OutboundMessage] = {}  # message id → message whose part's call is under way
        self._detached = False  # ``run`` returned with calls under way (settle_stragglers waits for them)
        self._wrapped: tuple[Any, ...] = ()  # pipelined: the real ledger, sender, callbacks and source

    # -- intake and visibility -----------------------------------------------------------------

    def enqueue(self, message: OutboundMessage) -> None:
        if self._hold(message):
            self.queue.push(message)

    def _hold(self, message: OutboundMessage) -> bool:
        """Keep ``message`` among the copies held; whether it is new, to be queued."""
        if message.identity != self.identity:
            raise ValueError(f"message for {message.identity!r} given to the {self.identity!r} scheduler")
        copies = self._held.setdefault(message.id, [])
        copies.append(message)
        return len(copies) == 1 or message.receipt is None  # (an in-memory source: the ledger sorts it out)

    def busy(self) -> bool:
        """Whether it holds any message (queued or on the line): the lease is short only then."""
        with self._lock:
            return bool(self._held)

    def held_parts(self) -> int:
        """Parts still to send of what is queued (a new message's turn is at most this ÷ the MPS)."""
        with self._lock:
            return sum(self.queue.depth(p)[1] for p in Priority)

    def held(self) -> list[OutboundMessage]:
        """Every copy of every message held (queued or on the line): what the heartbeat keeps hidden."""
        with self._lock:
            return [copy for copies in self._held.values() for copy in copies]

    def turns(self) -> dict[str, float]:
        """Message id → seconds until its next part is expected to start, at the MPS (the parts DRR
        sends before it); a message not queued (its part on the line) is absent: due now. The
        heartbeat hides each message until about then (sqs_source.py), so after a crash the backlog
        comes back at the pace it would have gone, not all at once nor minutes late."""
        with self._lock:
            ahead = self.queue.parts_ahead_of_each()
            return {message_id: parts / self.mps for message_id, parts in ahead.items()}

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
        with self._lock:
            return self._status()

    def _status(self) -> QueueStatus:
        depth = self.depth()
        return QueueStatus(
            identity=self.identity,
            mps=self.mps,
            rate=self.pacer.rate,
            messages=len(self.queue),
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
        return self._send_part(message, now)

    def _send_part(self, message: OutboundMessage, now: float, ticket: list[bool] | None = None) -> StepResult:
        """Claim, send and record the next part of ``message`` (taken from the queue)."""
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
        key = part_key(message.id, part)
        try:
            # Unsealed before the slot is taken: a KMS round trip between the slot and the call would
            # start the call late, and the next one, on time, closer than 1/MPS after it.
            destination = self.destination(message)
        except Exception as exc:  # noqa: BLE001 - classified like a failed call, as before
            return self._failed(message, part, len(texts), exc, now, urgent)
        start = self._slot(urgent, ticket)
        try:
            self._calling[message.id] = message
            try:
                result = self.sender.send(destination, texts[part - 1], idempotency_key=key, context=message.context)
            finally:
                self._calling.pop(message.id, None)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none is swallowed blindly
            return self._failed(message, part, len(texts), exc, now, urgent, slot=start)
        self.ledger.mark_sent(key, _sms_id(result), 1)
        self.pacer.on_success(1)
        self._accepted_since_refusal += 1
        self._attempts.pop(message.id, None)
        if urgent:
            self._urgent_throttled = 0
        if part < len(texts):
            # Give the line up at the part boundary: the rest waits at the head of its city, so a higher
            # class (a STOP) goes before the next part, and other cities only once its city's quantum is spent.
            self._next_part[message.id] = part + 1
            self.queue.push_next(message, len(texts) - part)
            return StepResult(message, SendStatus.PART, start, part)
        self._forget(message)
        self._ack(message)
        self.on_sent(message, start)
        return StepResult(message, SendStatus.SENT, start, part)

    def _claim_next(self, message: OutboundMessage, parts: int, now: float) -> tuple[int, StepResult | None]:
        """The first part of ``message`` not yet recorded as sent, claimed for this call; or the
        message settled (a redelivery of one done before, or a part a dead drainer left in doubt)."""
        part = self._next_part.get(message.id, 1)
        if self._kept_claims.pop(message.id, None) == part:
            return part, None  # claimed before its refused call, and still ours: it goes now
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

    def _ledger_down(
        self, message: OutboundMessage, now: float, attempt: Callable[[], StepResult] | None
    ) -> StepResult:
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

    def _failed(
        self,
        message: OutboundMessage,
        part: int,
        parts: int,
        exc: Exception,
        now: float,
        urgent: bool,
        slot: float | None = None,
    ) -> StepResult:
        verdict = classify(exc)
        key = part_key(message.id, part)
        if verdict.outcome is Outcome.THROTTLED:
            if urgent:
                self._urgent_throttled += 1
            isolated = self._fast(message.priority) if urgent else self._accepted_since_refusal >= self.isolated_after
            self._accepted_since_refusal = 0
            # No part went: a stray refusal gives its slot back (the retry waits for the line as it was
            # before it, at the cut pace), or, its slot already behind a later one, costs only that slot;
            # an overload's refusals keep their slots and cut the pace (pacing.py, Pacer.on_refused).
            self.pacer.on_refused(slot, now, isolated)
            # The claim is kept, not released and claimed again: the part keeps the turn DRR gave it.
            # Released, it was chosen again only after its refused call came back, and at 100 MPS the
            # 10 to 20 parts other workers chose meanwhile (a flood's) had gone ahead of a small city's
            # answer chosen within its quantum (issue 19, third pass). A drainer that dies before the
            # retry leaves it ``sending``: in doubt for its successor, never sent twice.
            self._kept_claims[message.id] = part
            self.queue.push_front(message, parts - part + 1)
            return StepResult(message, SendStatus.THROTTLED, now, part)
        if verdict.outcome is Outcome.TRANSIENT:
            self.ledger.release(key)
            attempts = self._attempts.get(message.id, 0) + 1
            if attempts >= self.max_transient_attempts:
                self._forget(message)
                if self._source is not None:
                    # The queue's redrive policy decides (DLQ); a redelivery resumes at this part.
                    for copy in self._settle_copies(message):
                        self._source.abandon(copy, delay=60.0)
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

    def _give_up(
        self, message: OutboundMessage, reason: FailureReason, status: SendStatus, now: float, part: int = 0
    ) -> StepResult:
        self._forget(message)
        self._ack(message)
        self.on_failed(message, reason)
        return StepResult(message, status, now, part)

    def _forget(self, message: OutboundMessage) -> None:
        self.queue.settled(message)
        self._attempts.pop(message.id, None)
        self._next_part.pop(message.id, None)
        self._texts.pop(message.id, None)

    def _ack(self, message: OutboundMessage) -> None:
        copies = self._settle_copies(message)
        if self._source is not None:
            for copy in copies:
                self._source.ack(copy)

    def _settle_copies(self, message: OutboundMessage) -> list[OutboundMessage]:
        """The copies that go with ``message`` when it is settled: all of them from SQS; from an
        in-memory source (no receipts) each copy is queued and settled on its own."""
        if message.receipt is not None:
            return self._held.pop(message.id, [message])
        copies = self._held.get(message.id, [])
        if message in copies:
            copies.remove(message)
        if not copies:
            self._held.pop(message.id, None)
        return [message]

    def _slot(self, urgent: bool, ticket: list[bool] | None) -> float:
        """Reserve the line for one call that starts now. Pipelined, wait (lock released) until the
        pacer allows a call at this very instant: the slot is taken at the call's own start."""
        if self._pipelined:
            while (wait := self.pacer.delay(self.clock.now(), urgent=urgent)) > 0:
                self._lock.wait(wait)
            self._unbook(ticket)
        return self.pacer.reserve(1, self.clock.now(), urgent=urgent)

    def _unbook(self, ticket: list[bool] | None) -> None:
        if ticket and ticket[0]:
            ticket[0] = False
            self._booked -= 1

    # -- the loop ------------------------------------------------------------------------------

    def run(
        self, source: MessageSource, should_stop: Callable[[], bool], idle_wait: float = 20.0, in_flight: int = 1
    ) -> None:
        """Drain ``source`` until ``should_stop()``: wait for the line (listening for arrivals while
        it is busy), take what arrived, send the best part. With ``in_flight`` > 1 (and a clock that
        can ``spawn``) that many parts are on their way at once (the module docstring)."""
        if in_flight > 1 and hasattr(self.clock, "spawn"):
            self._run_pipelined(source, should_stop, idle_wait, in_flight)
            return
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
        self.queue.push_all([message for message in messages if self._hold(message)])
        if messages and not self._pipelined:  # (pipelined, the receiver calls it with the lock released)
            self.on_taken(messages)

    # -- the pipelined loop --------------------------------------------------------------------

    def _run_pipelined(
        self, source: MessageSource, should_stop: Callable[[], bool], idle_wait: float, in_flight: int
    ) -> None:
        lock = self._lock
        real = (self.ledger, self.sender, self.on_sent, self.on_failed, self.destination)
        self._wrapped = (*real, source)
        # Calls that wait on the network run with the lock released, so the other parts go on.
        self.ledger, self.sender, self.on_sent, self.on_failed, self.destination = (
            _Unlocked(part, lock) for part in real
        )
        self._source = _Unlocked(source, lock)
        self._pipelined, self._stopping, self._crash = True, False, None
        self._backlogged = False
        helpers = self.burst_receivers - 1 if hasattr(source, "backlogged") else 0
        self._first_read, self._first_polls_left, self._first_read_by = [], helpers, math.inf
        self._alive = in_flight + 1 + helpers
        for n in range(in_flight):
            self.clock.spawn(self._thread(self._work), f"outbound-line-{n}")  # type: ignore[attr-defined]
        self.clock.spawn(self._thread(lambda: self._receive(source, idle_wait)), "outbound-receiver")  # type: ignore[attr-defined]
        for n in range(helpers):
            self.clock.spawn(  # type: ignore[attr-defined]
                self._thread(lambda: self._receive(source, idle_wait, helper=True)),
                f"outbound-receiver-{n + 1}",
            )
        try:
            while not should_stop():  # the caller's checks (lease, status) run here, lock free
                with lock:
                    if self._crash is not None:
                        break
                    lock.wait(self.control_every)
        finally:
            with lock:
                self._stopping = True
                lock.notify_all()
                stopped_at = self.clock.now()
                # every call under way ends (recorded) before anything is given back, unless only
                # stragglers are left (module docstring)
                while self._alive > 0:
                    left = self._straggling_for(stopped_at)
                    if left is not None and left <= 0:
                        break
                    lock.wait(1.0 if left is None else min(1.0, left))
                self._detached = self._alive > 0
                if not self._detached:
                    self._unwrap()
        if self._crash is not None:
            raise self._crash

    def _straggling_for(self, stopped_at: float) -> float | None:
        """Seconds until the threads still running may be left behind as stragglers; None while any
        of them is not inside a send call (or on a crash, or without ``detach_after``)."""
        if self.detach_after is None or self._crash is not None or self._alive != len(self._calling):
            return None
        return stopped_at + self.detach_after - self.clock.now()

    def _unwrap(self) -> None:
        self._pipelined = False
        self.ledger, self.sender, self.on_sent, self.on_failed, self.destination, self._source = self._wrapped

    def settle_stragglers(self) -> int:
        """After the lease is dropped: wait for the calls ``run`` left under way (each settles its own
        part), then give back what they left; the number given back. A straggler's crash is raised."""
        if not self._detached:
            return 0
        with self._lock:
            while self._alive > 0:
                self._lock.wait(1.0)
            self._detached = False
            self._unwrap()
        if self._crash is not None:
            raise self._crash
        return self.release_all()

    def _thread(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # noqa: BLE001 - handed to the control loop, which stops and raises it
                with self._lock:
                    self._crash = self._crash or exc
            finally:
                with self._lock:
                    self._alive -= 1
                    self._lock.notify_all()

        return run

    def _work(self) -> None:
        with self._lock:
            while (message := self._pick()) is not None:
                ticket = [True]
                try:
                    self._send_part(message, self.clock.now(), ticket)
                finally:
                    self._unbook(ticket)
                    self._lock.notify_all()  # a part back in the queue, or a slot taken

    def _pick(self) -> OutboundMessage | None:
        """The best part, once the line's next slot after those already taken is within the lead."""
        while not self._stopping and self._crash is None:
            if not self.queue:
                if self._first_read:  # a first read held up by a slow receiver: queued at its deadline
                    left = self._first_read_by - self.clock.now()
                    if left <= 0:
                        self._queue_first_read()  # (the heartbeat brings their hides down, not on_taken)
                    else:
                        self._lock.wait(left)
                    continue
                self._lock.wait(None)
                continue
            wait = self.delay() + self._booked / self.pacer.rate - self.claim_lead
            if self.lease_left is not None and self.lease_left() < wait + self.claim_lead + self.lease_margin:
                self._lock.wait(0.05)  # a renewal late or failing: send nothing until it succeeds
                continue
            if wait <= EPSILON:  # (instants built by addition: a wait of 1e-16 s would never pass)
                message = self.queue.pop()
                if message is not None:
                    self._booked += 1
                    return message
                continue
            self._lock.wait(wait)
        return None

    def _receive(self, source: MessageSource, idle_wait: float, helper: bool = False) -> None:
        """Prefetch: take what the queue offers while the line is busy, so the best part is known
        before the line is free. A long poll returns at an arrival; a short one is repeated. A
        ``helper`` polls only while the queue has a backlog (``burst_receivers``), so a burst is read
        in a fraction of the time and what arrived behind it (a STOP) is seen at once."""
        first = True
        while True:
            with self._lock:
                while helper and not self._backlogged and not self._stopping and self._crash is None:
                    self._lock.wait(None)
                if self._stopping or self._crash is not None:
                    return
                busy = bool(self.queue)
            wait = 0.0 if helper else idle_wait if self.long_polls or not busy else self.poll_interval
            arrived = source.receive(wait)
            with self._lock:
                self._backlogged = bool(getattr(source, "backlogged", False))
                if self._first_read is not None:
                    taken = self._read_first(arrived, helper, first)
                else:
                    self._take(arrived)  # even when stopping: release_all gives them back
                    taken = arrived
                self._lock.notify_all()
            first = False
            if taken:
                self.on_taken(taken)

    def _read_first(self, arrived: list[OutboundMessage], helper: bool, first: bool) -> list[OutboundMessage]:
        """A life's first read (module docstring): hold ``arrived`` until it is complete, then queue
        all of it at once and return it (none before). Complete when a poll came back short (nothing
        more is waiting), when each helper's first poll of the backlog returned, or
        :data:`FIRST_READ_LONGEST` after the first poll returned (a worker queues it then if no
        receiver returns)."""
        early = self._first_read
        assert early is not None
        early.extend(message for message in arrived if self._hold(message))
        if helper and first:
            self._first_polls_left -= 1
        elif first:  # the first receiver's first poll
            self._first_read_by = self.clock.now() + FIRST_READ_LONGEST
        if self._backlogged and self._first_polls_left > 0 and self.clock.now() < self._first_read_by:
            return []
        return self._queue_first_read()

    def _queue_first_read(self) -> list[OutboundMessage]:
        early, self._first_read = self._first_read or [], None
        self.queue.push_all(early)
        self._lock.notify_all()
        return early

    def release_all(self) -> int:
        """Give every message held in memory back to the source (end of a drainer's life). A message
        partly sent goes back too: its redelivery resumes at its first part not recorded as sent. The
        messages of stragglers (calls ``run`` left under way) are hidden for :data:`STRAGGLER_HIDE`
        instead: their calls settle them."""
        if not self._detached:
            return self._release_held(set())
        with self._lock:  # the stragglers share the state (their network calls release the lock)
            return self._release_held(set(self._calling))

    def _release_held(self, calling: set[str]) -> int:
        held: list[OutboundMessage] = []
        kept, self._kept_claims = self._kept_claims, {}
        for message_id, part in kept.items():  # refused, never sent: a redelivery claims it anew
            self.ledger.release(part_key(message_id, part))
        while (message := self.queue.pop()) is not None:
            self._forget(message)
            held.extend(self._settle_copies(message))
        for message_id in [i for i in self._held if i not in calling]:  # none after a clean stop
            held.extend(self._held.pop(message_id))
        hidden = [copy for message_id in calling for copy in self._held.get(message_id, [])]
        many = getattr(self._source, "abandon_many", None)  # SQS gives back ten a call
        if many is not None:
            many(held, 0.0)
            if hidden:
                many(hidden, STRAGGLER_HIDE)
        elif self._source is not None:
            for message in held:
                self._source.abandon(message, delay=0.0)
        return len(held)


class _Unlocked:
    """``inner`` (an object or a function) whose calls run with ``lock`` released: they wait on the
    network, and the other workers and the receiver go on meanwhile."""

    def __init__(self, inner: Any, lock: Any) -> None:
        self._inner = inner
        self._lock = lock

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._lock.release()
        try:
            return function(*args, **kwargs)
        finally:
            self._lock.acquire()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._inner, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: self._call(attr, *args, **kwargs)


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
