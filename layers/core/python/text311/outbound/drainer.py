"""One life of the identity's drainer: hold the lease, run the scheduler over SQS, hand over.

    report = Drainer(...).drain(lambda: context.get_remaining_time_in_millis() / 1000)

No lease, no sending: a second invocation while one runs returns at once (``lease_held=False``),
unless it was started to replace a drainer that died (``wait_for_lease``: Lambda's on-failure
destination, below), which takes the dead one's lease at once when the record names the invocation
that holds it (``replacing``: each life writes its request id with the lease), else waits for that
short lease to expire (at most ``LEASE_SECONDS``) and takes over. While it holds the lease the
drainer renews it from a thread of its own (:class:`LeaseKeeper`; the control loop every
``renew_every`` s in the serial loop), at a length that follows the work (1.5 s while a 100-MPS line
is busy, 10 s idle or slow: lease.py), extends the visibility of what it holds every
``heartbeat_every`` s or a third of a shorter lease (a heartbeat, run by the scheduler's control
loop, which no long poll or stuck call holds up), writes its queue status every ``status_every``
seconds (the status item producers read for "queued, about N minutes": :class:`StatusWriter`, on a
thread of its own, so a slow write never delays the heartbeat), prints the EMF metrics the alarms
watch every ``metrics_every`` seconds, and stops ``stop_margin`` seconds before the Lambda's end, or
after ``max_idle`` seconds with nothing to send (infinite in production: an idle drainer long-polls,
which is cheap, so a resident's reply never waits for the next tick). Stopped by its deadline, it
first marks its lease ``handoff`` and starts its ``successor`` (an asynchronous invocation of its
own function), then lets its calls under way end (no poll waits past the stop: sqs_source.py,
``poll_for``), gives back every message it holds but has not finished (``release_all``: visible
again at once, soonest turn first: the soonest ten alone, then eight calls at a time), posts a last
status and drops the lease. The successor, about 0.5 s later, finds the lease marked and waits for it
(:meth:`Drainer._acquire`), so a planned hand-off costs the line about one Lambda start, not the old
life's whole wind-down and then the start (2-10 s, issue 19). Stopped any other way it only gives
back and drops the lease. The one-minute tick stays the safety net. Two starters (a successor and a
tick) never both send: the lease decides.

A life that fails (an exception, a timeout, the sandbox killed) is followed at once by another: the
function's on-failure destination is the function itself (stacks/outbound.py), and Lambda invokes it
with the invocation record of the failed life (:func:`replaces_a_failed_drainer`,
:func:`failed_invocation`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from text311.observability import NAMESPACE, SERVICE, correlate, logger, metrics
from text311.outbound.errors import FailureReason
from text311.outbound.lease import LEASE_SECONDS, RENEW_EVERY, Lease, StatusBoard, lease_seconds_for, renew_every_for
from text311.outbound.ledger import RetryingLedger, SentLedger
from text311.outbound.message import OutboundMessage
from text311.outbound.pacing import Clock
from text311.outbound.scheduler import QUANTUM, OutboundScheduler, QueueStatus, Sender, claim_lead_for, in_flight_for
from text311.outbound.sqs_source import HOLD_FIRST, HOLD_MARGIN, HOLD_MARGIN_MIN, LONG_POLL_MAX, SqsMessageSource

# A starter that finds the lease being handed off looks again this often: its holder drops it as soon as
# its last calls ended and it gave back what it held (well under a second, usually).
HANDOFF_LOOK_EVERY = 0.1
# ... for at most this long: the holder's wind-down ends within its stop margin (45 s: Lambda ends it
# then), and its lease within LEASE_SECONDS after that if it died meanwhile.
HANDOFF_WAIT_MAX = 60.0
# A send still under way this long after the stop is left to settle after the lease is dropped
# (scheduler.py, "Stragglers"): a call takes about 60 ms, so one this slow is mostly a lost response
# waiting out its 10-s read timeout, which held the successor, and a STOP, that long (issue 19).
STRAGGLER_AFTER = 0.5

# Lambda's invocation record for an asynchronous invocation that failed (on-failure destination):
# ``requestContext.condition`` is ``RetriesExhausted`` or ``EventAgeExceeded`` ("Capturing records of
# Lambda asynchronous invocations", AWS Lambda Developer Guide).
FAILURE_CONDITIONS = frozenset({"RetriesExhausted", "EventAgeExceeded"})


def replaces_a_failed_drainer(event: Any) -> bool:
    """Whether this invocation is Lambda's record of a drainer life that failed."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    return isinstance(context, dict) and context.get("condition") in FAILURE_CONDITIONS


def failed_invocation(event: Any) -> str | None:
    """The request id of the failed life that Lambda's record reports (``requestContext.requestId``: the
    invocation's own request id), or None for any other event."""
    if not replaces_a_failed_drainer(event):
        return None
    request_id = event["requestContext"].get("requestId")
    return request_id if isinstance(request_id, str) and request_id else None


@dataclass(frozen=True)
class DrainReport:
    sent: int
    failed: int
    in_doubt: int
    released: int
    lease_held: bool
    handed_off: bool = False  # its successor was invoked (stopped by its deadline, not idle or ousted)


# How often the control loop (deadline, lost lease, visibility heartbeat, metric lines) looks: often enough
# for the heartbeat of a 1.5-s lease (every 0.5 s); nothing is called unless something is due.
CONTROL_EVERY = 0.25

# What the alarms and the dashboard read (stacks/observability.py): per identity and class.
QUEUE_PARTS = "OutboundQueueParts"
EXPECTED_WAIT = "OutboundExpectedWaitSeconds"


def publish_status(status: QueueStatus) -> None:
    """One EMF line per priority class, printed now: the handler's ``log_metrics`` flushes only at
    the end of a 15-minute life, and a backlog must show (and alarm) while it grows. An isolated
    metrics object per line, because the shared one would mix these dimensions into every metric."""
    for name, parts in status.parts_by_priority.items():
        line = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        line.add_dimension(name="identity", value=status.identity)
        line.add_dimension(name="class", value=name)
        line.add_metric(name=QUEUE_PARTS, unit=MetricUnit.Count, value=parts)
        line.add_metric(name=EXPECTED_WAIT, unit=MetricUnit.Seconds, value=status.wait_by_priority.get(name, 0.0))
        line.flush_metrics()


@dataclass(frozen=True)
class Successor:
    """The next life of this drainer: an asynchronous invocation of its own function (its name from
    ``AWS_LAMBDA_FUNCTION_NAME``; the role needs ``lambda:InvokeFunction`` on its own ARN)."""

    client: Any  # a boto3 Lambda client
    function_name: str

    def start(self) -> bool:
        try:
            self.client.invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps({"handoff": True}).encode()
            )
            return True
        except (BotoCoreError, ClientError) as exc:
            # Not raised: the messages are back on the queue and the lease is free, so the next tick
            # (within a minute) starts a drainer anyway. Counted, so a lost permission shows.
            logger.error("drainer could not start its successor", extra={"error": f"{type(exc).__name__}: {exc}"})
            metrics.add_metric(name="OutboundHandoffFailed", unit="Count", value=1)
            return False


class PeriodicThread:
    """A thread of its own (the clock's ``spawn``) that calls ``beat`` at once, then every ``period``
    seconds until ``stop`` or until ``beat`` returns False. The lease and the status item each get one,
    so that no slow or stuck call of one holds up the other or the control loop. A ``stop`` that waits
    also waits for a call under way: no thread of this life calls AWS after it, even frozen and thawed
    by Lambda."""

    name = "outbound-periodic"

    def __init__(self, clock: Clock, period: float) -> None:
        self.clock = clock
        self.period = period
        self._stopping = False
        self._running = False
        self._wake: Any = clock.condition()  # type: ignore[attr-defined]

    def beat(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        self._running = True
        self.clock.spawn(self._run, self.name)  # type: ignore[attr-defined]

    def stop(self, wait: bool = True) -> None:
        """No beat after the one under way; with ``wait``, also wait for that one to end."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
            while wait and self._running:
                self._wake.wait(min(self.period, 1.0))

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    if self._stopping:
                        return
                if not self.beat():
                    return
                next_at = self.clock.now() + self.period
                with self._wake:
                    while not self._stopping and (left := next_at - self.clock.now()) > 0:
                        self._wake.wait(left if math.isfinite(left) else None)
        except BaseException:  # noqa: BLE001 - the process is going (a simulated death): nothing to keep
            return
        finally:
            with self._wake:
                self._running = False
                self._wake.notify_all()


class LeaseKeeper(PeriodicThread):
    """Renews the lease every 0.4 of its length (checked every ``check_every`` s), at the length
    ``length()`` asks for now: short while the line is busy at a high MPS, long while it is idle
    (lease.py, ``lease_seconds_for``). A change of length is written at once, so the item always tells
    a successor when this holder's lease really ends. On its own thread no visibility heartbeat (up to
    1.5 s of SQS calls), status write or stuck call holds a 1.5-s lease up. A failed renewal is logged
    and tried again at the next check; ``lost`` is set when another drainer holds the lease (the
    drainer then stops)."""

    name = "outbound-lease"

    def __init__(self, lease: Lease, clock: Clock, length: Callable[[], float], check_every: float = 0.25) -> None:
        super().__init__(clock, check_every)
        self.lease = lease
        self.length = length
        self.lost = False
        self._renewed_at = clock.now()

    def beat(self) -> bool:
        want = self.length()
        now = self.clock.now()
        if want == self.lease.seconds and now - self._renewed_at < renew_every_for(self.lease.seconds):
            return True
        try:
            renewed = _tolerated("lease renewal", partial(self.lease.renew, want))
        except Exception:  # noqa: BLE001 - never end the thread that keeps the lease: tried again
            logger.exception("drainer lease renewal failed unexpectedly; tried again")
            renewed = None
        if renewed is False:
            logger.error("drainer lost its lease: stopping", extra={"identity": self.lease.key["id"]["S"]})
            self.lost = True
            return False
        if renewed:
            self._renewed_at = now
        return True


class StatusWriter(PeriodicThread):
    """Writes the queue status item (a DynamoDB PutItem) every ``every`` seconds, the first at once.
    On the control loop a slow or stuck write (a throttled table, a read timeout) held up the
    visibility heartbeat beside it, and a held part's short visibility (2 s past its turn at 100 MPS)
    lapsed: it was received again. A failed write is logged and tried at the next period."""

    name = "outbound-status"

    def __init__(self, board: StatusBoard, clock: Clock, status: Callable[[], QueueStatus], every: float) -> None:
        super().__init__(clock, every)
        self.board = board
        self.status = status

    def beat(self) -> bool:
        try:
            _tolerated("status write", lambda: self.board.write(self.status().to_dict()))
        except Exception:  # noqa: BLE001 - a notice's figures, never worth this thread: tried again
            logger.exception("drainer status write failed unexpectedly; tried again")
        return True


@dataclass
class Drainer:
    sqs: Any
    queue_url: str
    identity: str
    mps: float
    line: Sender  # the direct sender, with no retries of its own (services.sms_line)
    ledger: SentLedger
    lease: Lease
    board: StatusBoard
    clock: Clock
    on_sent: Callable[[OutboundMessage, float], None] = lambda message, at: None
    on_failed: Callable[[OutboundMessage, FailureReason], None] = lambda message, reason: None
    stop_margin: float = 45.0  # seconds left when it stops taking messages: time to give them back
    renew_every: float = RENEW_EVERY
    heartbeat_every: float = 2.0  # held messages whose visibility ends within 3 heartbeats are extended
    hold_first: float = HOLD_FIRST  # a received message's first visibility timeout (sqs_source.py)
    # The status item producers read for "about N minutes" (a DynamoDB write, so once a minute: fresh
    # enough for a notice in minutes), and the EMF lines the alarms read (log lines, no AWS call: often,
    # so that every minute of the per-minute alarm has its data point).
    status_every: float = 60.0
    metrics_every: float = 10.0
    max_idle: float = 120.0  # nothing to send for this long: exit (math.inf in production: stay for the life)
    long_poll: bool = True
    # The number to text for a message: the queue carries it sealed (queued.py), this unseals it.
    destination: Callable[[OutboundMessage], str] = lambda message: message.destination
    successor: Successor | None = None  # started at a deadline stop (production); None: the tick restarts
    # Parts on their way at once (scheduler.py, "Pipelined"); None: sized from the MPS when the clock
    # runs threads (SystemClock, SimClock), else 1 (a single-threaded FakeClock: the serial loop).
    in_flight: int | None = None

    def drain(
        self,
        remaining_seconds: Callable[[], float],
        wait_for_lease: bool = False,
        *,
        invocation: str | None = None,
        replacing: str | None = None,
    ) -> DrainReport:
        """One life. ``invocation``: this Lambda invocation's request id, written with the lease;
        ``replacing``: the request id of the failed life this one replaces (Lambda's record of it), whose
        lease it takes at once instead of waiting for it to expire."""
        self.lease.invocation = invocation
        if not self._acquire(remaining_seconds, wait_for_lease, replacing):
            logger.info("another drainer holds the lease", extra={"identity": self.identity})
            return DrainReport(0, 0, 0, 0, lease_held=False)
        counts = {"sent": 0, "failed": 0, "in_doubt": 0}
        scheduler = OutboundScheduler(
            self.identity,
            self.mps,
            self.line,
            RetryingLedger(self.ledger, self.clock),
            self.clock,
            on_failed=self._counted_failure(counts),
            on_sent=self._counted_send(counts),
            destination=self.destination,
            long_polls=self.long_poll,
            control_every=CONTROL_EVERY,
            claim_lead=claim_lead_for(self.mps, QUANTUM),
            on_taken=lambda received: self._bring_forward(source, scheduler, received),
        )
        self._after_predecessor(scheduler)
        in_flight = self._in_flight()
        if in_flight > 1:  # the keeper renews on its own thread: parts are taken only inside the lease
            scheduler.lease_left = self.lease.left
            scheduler.detach_after = STRAGGLER_AFTER
        source = SqsMessageSource(
            self.sqs,
            self.queue_url,
            self.clock,
            visibility=lambda: self._first_hide(source, scheduler),
            long_poll=self.long_poll,
            # Pipelined, each poll's messages go to the scheduler as soon as they are read: its receivers
            # poll again at once. A chain of ten polls (150 ms) held a small city's answer from the
            # scheduler while 15 flood parts were chosen at 100 MPS. The serial loop reads a backlog
            # in chains, between two parts.
            max_batches=1 if in_flight > 1 else 10,
            poll_for=lambda: remaining_seconds() - self.stop_margin,
        )
        released, why, still_ours = 0, {"stop": "error"}, False
        handoff: dict[str, bool | None] = {}  # "started": the successor was started at the stop (None: not tried)
        keeper = writer = None
        if in_flight > 1:  # threads: the lease and the status item each on its own, off the control loop
            keeper = LeaseKeeper(self.lease, self.clock, lambda: lease_seconds_for(self.mps, scheduler.busy()))
            keeper.start()
            writer = StatusWriter(self.board, self.clock, scheduler.status, self.status_every)
            writer.start()
        try:
            scheduler.run(
                source,
                self._stopper(
                    scheduler, source, remaining_seconds, why, keeper, inline_status=writer is None, handoff=handoff
                ),
                idle_wait=LONG_POLL_MAX,
                in_flight=in_flight,
            )
        finally:
            try:
                if keeper is not None:
                    keeper.stop()
                if writer is not None:  # no new write; one under way does not hold up the give-back
                    writer.stop(wait=False)
                released = scheduler.release_all()
                if writer is not None:  # the last status below is written after any older one
                    writer.stop()
                self._post(scheduler.status())
                # (the next holder's first part waits for this one's last: the MPS is the line's)
                still_ours = self.lease.release(line_free_in=scheduler.pacer.line_free_at - self.clock.now())
            finally:
                # A send left under way at the stop settles now, off the lease, and before the life
                # returns or fails, whatever failed above: a frozen sandbox would finish it minutes later.
                released += scheduler.settle_stragglers()
        # Only a life ended by its deadline and still holding its lease starts the next: after an idle
        # exit nothing waits, a drainer whose lease another took over (it stalled past the expiry, and
        # its deadline came before its next renewal) would start a second chain beside that one's, and
        # after a crash the tick restarts (no hot loop). Started at the stop already, or now if the
        # lease could not be marked then (a failed write: the successor would not have waited).
        handed_off = bool(handoff.get("started"))
        if handoff.get("started") is None and why["stop"] == "deadline" and still_ours and self.successor is not None:
            handed_off = self.successor.start()
        logger.info(
            "drainer stopped",
            extra={
                "identity": self.identity,
                **counts,
                "released": released,
                "stop": why["stop"],
                "handed_off": handed_off,
            },
        )
        return DrainReport(
            counts["sent"], counts["failed"], counts["in_doubt"], released, lease_held=True, handed_off=handed_off
        )

    def _acquire(self, remaining_seconds: Callable[[], float], wait: bool, replacing: str | None = None) -> bool:
        """The lease; replacing a failed drainer, wait for its lease to expire (it cannot be renewed
        any more), checking again at its announced expiry; finding it handed off (the successor, or a
        tick that came at that moment), wait for its holder to drop it, looking every
        :data:`HANDOFF_LOOK_EVERY` s (or for it to expire, if that holder died meanwhile). For at most
        two lease lengths, or :data:`HANDOFF_WAIT_MAX` for a hand-off. Any other holder: return at
        once (one read more than the put). The lease of the failed life ``replacing`` is taken at once."""
        if self.lease.acquire(replacing=replacing):
            return True
        began = self.clock.now()
        give_up = began + 2 * LEASE_SECONDS
        while self.clock.now() < give_up and remaining_seconds() > self.stop_margin:
            free_in, handing_off = self.lease.holder()
            if free_in is None:
                return True
            if free_in <= 0 and self.lease.acquire():  # dropped (or expired) since the first try
                return True
            if not (wait or handing_off):
                return False
            if handing_off:
                give_up = max(give_up, began + HANDOFF_WAIT_MAX)
            look_in = min(free_in + 0.05, HANDOFF_LOOK_EVERY) if handing_off else free_in + 0.05
            self.clock.sleep(min(look_in, max(0.0, give_up - self.clock.now())))
            if self.lease.acquire():
                return True
        return False

    def _hold_margin(self) -> float:
        """How long past its expected turn a held message is hidden: about the lease's length, so that
        after a crash it reappears when the successor can hold the lease (10 s idle or slow, 2 s while
        a 100-MPS line is busy), within [HOLD_MARGIN_MIN, HOLD_MARGIN]."""
        return min(HOLD_MARGIN, max(HOLD_MARGIN_MIN, math.ceil(self.lease.seconds)))

    def _beat_every(self) -> float:
        """The visibility heartbeat's period: ``heartbeat_every``, or a third of a shorter lease (what it
        extends is due within three periods, so a 2-s margin is kept without letting anything reappear)."""
        return min(self.heartbeat_every, self.lease.seconds / 3)

    def _first_hide(self, source: SqsMessageSource, scheduler: OutboundScheduler) -> float:
        """A received message's first visibility. With no backlog on the queue: ``hold_first``, or the
        margin when the lease is short (what arrives then is sent within a second or two, and a STOP
        held by a drainer that dies comes back with its successor, not 10 s later). While a burst is
        read: about its turn, behind every part already held (its parts ÷ the MPS + the margin), at
        least ``hold_first``. A burst's messages hidden alike for 10 s all fell due in the same second,
        thousands of them at 100 calls a heartbeat, and came back: after a crash the successor found
        nothing to send for seconds. Right after the poll, the messages due far sooner than that (a
        small city's answer, a STOP) are brought down to their turn (``_bring_forward``), and the
        heartbeat corrects the rest of the guess (sqs_source.py)."""
        margin = self._hold_margin()
        if not source.backlogged:
            return min(self.hold_first, margin)
        return max(self.hold_first, scheduler.held_parts() / self.mps + margin)

    def _bring_forward(
        self, source: SqsMessageSource, scheduler: OutboundScheduler, received: list[OutboundMessage]
    ) -> None:
        """Right after a poll: what ``_first_hide`` hid behind the whole backlog but goes far sooner (a
        small city's answer, a STOP) is brought down to its turn + the margin at once, not at the next
        heartbeat. A life that died in between (2 s at most) left such an answer hidden for the whole
        backlog's time: 734 s at 3 MPS after a crash (issue 19). Far sooner: by more than the
        heartbeat's window, the same rule as the heartbeat's."""
        _tolerated(
            "first visibility correction",
            lambda: source.bring_forward(
                received, scheduler.turns, margin=self._hold_margin(), slack=3 * self._beat_every()
            ),
        )

    def _after_predecessor(self, scheduler: OutboundScheduler) -> None:
        """No part before the previous holder's line is free (``Lease.line_free_at``, its last part's
        start + its parts ÷ the MPS): a successor that takes over within 0.6 s of the last call
        was refused by the service at 1 MPS, twice, and cut its pace. At most two parts' time (clocks
        a little apart must not stop a line)."""
        if self.lease.line_free_at is None:
            return
        wait = min(2 / self.mps, self.lease.line_free_at - self.lease.now())
        if wait > 0:
            scheduler.pacer.pause_until(self.clock.now() + wait)

    def _start_successor(self, keeper: LeaseKeeper | None) -> bool | None:
        """At the deadline stop, before the wind-down: mark the lease handed off, then start the
        successor, whose Lambda start (about 0.5 s) runs while this life's last calls end and it gives
        back what it holds; the successor waits for the lease. False: the lease is no longer ours (no
        successor: the new holder has its own chain) or the invoke failed (the tick restarts); None:
        the mark could not be written, so the successor is started after the release, as a plain
        start that finds the lease free."""
        if self.successor is None or (keeper is not None and keeper.lost):
            return False
        marked = _tolerated("hand-off mark", self.lease.hand_off)
        if marked is None:
            return None
        return bool(marked) and self.successor.start()

    def _in_flight(self) -> int:
        if self.in_flight is not None:
            return self.in_flight
        return in_flight_for(self.mps) if hasattr(self.clock, "spawn") else 1

    def _post(self, status: QueueStatus) -> None:
        self.board.write(status.to_dict())
        publish_status(status)

    def _stopper(
        self,
        scheduler: OutboundScheduler,
        source: SqsMessageSource,
        remaining_seconds: Callable[[], float],
        why: dict[str, str],
        keeper: LeaseKeeper | None = None,
        inline_status: bool = True,
        handoff: dict[str, bool | None] | None = None,
    ) -> Callable[[], bool]:
        last = {"renew": self.clock.now(), "status": float("-inf"), "metrics": float("-inf"), "beat": self.clock.now()}

        def should_stop() -> bool:
            now = self.clock.now()
            if remaining_seconds() < self.stop_margin:
                why["stop"] = "deadline"
                if handoff is not None and "started" not in handoff:
                    handoff["started"] = self._start_successor(keeper)
                return True
            if keeper is not None and keeper.lost:
                why["stop"] = "lease_lost"
                return True
            if keeper is None and now - last["renew"] >= self.renew_every:
                renewed = _tolerated("lease renewal", self.lease.renew)
                if renewed is False:
                    # Another drainer took over (we stalled past the expiry): two senders would break
                    # the pace and the ledger's "sending means died" rule.
                    logger.error("drainer lost its lease: stopping", extra={"identity": self.identity})
                    why["stop"] = "lease_lost"
                    return True
                if renewed:  # (None: the call failed; tried again next second, the lease lasts 10 s)
                    last["renew"] = now
            beat_every = self._beat_every()
            if now - last["beat"] >= beat_every:
                # What is held is hidden until its turn + about the lease's length: after a crash it
                # reappears about when the successor holds the lease (lease_seconds_for), not later.
                margin = self._hold_margin()
                extended = _tolerated(
                    "visibility heartbeat",
                    lambda: source.heartbeat(
                        scheduler.held(), due_within=3 * beat_every, turns=scheduler.turns(), margin=margin
                    ),
                )
                if extended is not None:
                    last["beat"] = now
            if now - last["metrics"] >= self.metrics_every:
                status = scheduler.status()
                if inline_status and now - last["status"] >= self.status_every:  # (the serial loop's)
                    _tolerated("status write", lambda: self.board.write(status.to_dict()))
                    last["status"] = now
                publish_status(status)
                if metrics.metric_set:  # sends and failures so far: shown now, not 15 minutes later
                    metrics.flush_metrics()  # (the rest goes with the handler's log_metrics)
                last["metrics"] = now
            idle_since = source.empty_since
            if not scheduler.queue and idle_since is not None and now - idle_since >= self.max_idle:
                why["stop"] = "idle"
                return True
            return False

        return should_stop

    def _counted_send(self, counts: dict[str, int]) -> Callable[[OutboundMessage, float], None]:
        def on_sent(message: OutboundMessage, at: float) -> None:
            counts["sent"] += 1
            metrics.add_metric(name="OutboundSent", unit="Count", value=1)
            _guarded("on_sent", message, lambda: self.on_sent(message, at))

        return on_sent

    def _counted_failure(self, counts: dict[str, int]) -> Callable[[OutboundMessage, FailureReason], None]:
        def on_failed(message: OutboundMessage, reason: FailureReason) -> None:
            counts["in_doubt" if reason is FailureReason.IN_DOUBT else "failed"] += 1
            metrics.add_metric(name="OutboundFailed", unit="Count", value=1)
            if reason is FailureReason.SPEND_LIMIT:  # every SMS after it fails too: an alarm, not a notice
                logger.error("the account's monthly SMS spend limit is reached", extra={"outbound_id": message.id})
                metrics.add_metric(name="OutboundSpendLimit", unit="Count", value=1)
            _guarded("on_failed", message, lambda: self.on_failed(message, reason))

        return on_failed


def _tolerated(what: str, call: Callable[[], Any]) -> Any:
    """One of the heartbeat's calls; a failed one (a DynamoDB or SQS 5xx, a throttle) is logged,
    counted and tried again at the next beat instead of ending the life: the lease outlives two
    missed renewals, a held message two missed extensions. Returns None when it failed."""
    try:
        return call()
    except (BotoCoreError, ClientError) as exc:
        logger.warning(f"drainer {what} failed; tried again", extra={"error": f"{type(exc).__name__}: {exc}"})
        metrics.add_metric(name="OutboundHeartbeatFailed", unit="Count", value=1)
        return None


def _guarded(what: str, message: OutboundMessage, call: Callable[[], None]) -> None:
    """The SMS is settled (ledger, queue) before its callback runs: a failing record or notice must
    not stop the line for every other resident. Logged and counted for the alarm instead. The
    callback's logs carry the message's conversation as correlation id, and only its logs."""
    correlate(message.context.get("conversation") or None)
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - see above
        logger.exception(
            f"drainer {what} callback failed", extra={"outbound_id": message.id, "error": type(exc).__name__}
        )
        metrics.add_metric(name="OutboundCallbackFailed", unit="Count", value=1)
    finally:
        correlate(None)
