"""The identity's SQS queue as the scheduler's :class:`~text311.outbound.scheduler.MessageSource`.

- ``receive(wait)``: a long poll (``WaitTimeSeconds`` up to 20 s, which returns as soon as a message
  arrives) when the line is free for a second or more; otherwise the sub-second remainder is slept
  on the clock and the queue short-polled, so a STOP confirmation is seen within the scheduler's
  ``poll_interval``. Full batches are followed by more short polls: the drainer holds everything the
  queue offers, or neither priority nor fairness could see the backlog.
- Each received message is hidden for a short while (``visibility()``: :data:`HOLD_FIRST` in the
  drainer), and :meth:`SqsMessageSource.heartbeat` extends what the drainer still holds before it
  reappears (ChangeMessageVisibilityBatch, ten a call). Given each message's expected turn (the
  drainer passes the scheduler's :meth:`~text311.outbound.scheduler.OutboundScheduler.turns`), a
  message is hidden until about its turn plus a margin (:data:`HOLD_MARGIN`; the drainer passes about
  its lease's length, 2 s while a 100-MPS line is busy): after a crash the backlog
  reappears at about the pace the dead drainer would have sent it, so its successor always has the
  next parts to send (issue 19; hidden for as long as each had waited, up to 600 s, the successor
  had little to send for minutes). Without turns, a message held *a* seconds is extended by *a*
  (within [:data:`HOLD_FIRST`, :data:`HOLD_LONGEST`]).
- ``backlogged``: the last poll came back full, so more is waiting: the scheduler then polls with
  several receivers at once (a STOP behind a burst of thousands is seen within a second).
- ``ack`` deletes; ``abandon(delay)`` makes it visible again after ``delay``; ``abandon_many`` gives
  back many, ten a call and :data:`GIVE_BACK_AT_ONCE` calls at a time (the end of a life), the first
  ten (the soonest turns) before the others.
- ``poll_for()``: how long the drainer will still take messages (its life's stop time). No poll
  waits past it, so a life that stops is never held up by its receiver's 20-s long poll, and a
  message that arrives after it is left on the queue for the successor.

**A body this drainer cannot read is given back, never deleted.** It is made visible again after
:data:`UNREADABLE_RETRY` seconds; the queue's redrive policy moves it to the DLQ once it has been
received ``maxReceiveCount`` times (about an hour), and the DLQ alarms at its first message. Two kinds:

- a newer schema version (``NewerSchema``, message.py): a deploy is under way and this is the old
  drainer; the new one, running within 15 minutes, reads it. Counted as ``OutboundNewerSchema``
  (no alarm: it is expected during a deploy; if no drainer ever reads it, the DLQ alarms).
- anything else (not JSON, a required field missing, an unknown ``kind`` without a new version): a
  producer's bug that no drainer version will read. Logged as an error and counted as
  ``OutboundUnreadable``, which alarms at once (stacks/observability.py); the DLQ keeps the body for
  someone to read and redrive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from text311.observability import logger, metrics
from text311.outbound.message import NewerSchema, OutboundMessage
from text311.outbound.pacing import Clock

LONG_POLL_MAX = 20  # seconds: SQS's longest WaitTimeSeconds
BATCH = 10  # SQS's largest MaxNumberOfMessages
MAX_VISIBILITY = 12 * 3600  # SQS's longest visibility timeout
# An unreadable body comes back after this long: 60 receives (the redrive's count) is an hour, far
# more than the 15 minutes an old drainer lives beside a new one during a deploy.
UNREADABLE_RETRY = 60
HOLD_FIRST = 10.0  # seconds a received message is hidden at first, and the shortest extension: a STOP held by a
# drainer that dies is seen again about when its successor takes the lease (10 s), not later
HOLD_MARGIN = 10.0  # an extension hides a message until its expected turn plus this: the lease's length
HOLD_MARGIN_MIN = 2.0  # ... and never less (the drainer passes the lease's length: 2 s busy at 100 MPS)
HOLD_LONGEST = 600.0  # the longest extension: a backlog message reappears at most this long after a crash
# Visibility calls in one heartbeat, soonest to reappear first: the heartbeat runs beside the lease's
# renewal, and the 500 calls due after a 5,000-message burst (7.5 s) would hold that up past its 10-s
# lease; 100 (1.5 s) cannot. Past the cap a message may reappear and be received again: held once (the
# scheduler keeps one copy), never sent twice. (20 was measured: too few after a burst at 3 MPS.)
HEARTBEAT_BATCHES = 100
# ChangeMessageVisibilityBatch calls under way at once when a life gives back what it holds: a hand-off
# at 3 MPS early in a drain holds about 3,600 messages, 360 calls, 5.4 s one after the other, while
# its successor waited (issue 19); 8 at a time, 0.7 s. Under the SQS client's pool of 10 connections.
GIVE_BACK_AT_ONCE = 8
# In the last second before the stop (no long poll fits) the queue is short-polled this often: the
# scheduler's poll interval while it is busy.
LAST_POLLS_EVERY = 0.25
# Once the drainer stops taking messages a receiver that asks again is told so after this long,
# without a call (until the control loop, every 0.25 s, sees the stop and ends it).
STOPPED_NAP = 0.05


class SqsMessageSource:
    def __init__(
        self,
        client: Any,
        queue_url: str,
        clock: Clock,
        visibility: Callable[[], float],
        *,
        long_poll: bool = True,
        max_batches: int = 10,
        poll_for: Callable[[], float] = lambda: math.inf,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.clock = clock
        self.visibility = visibility  # seconds to hide a received message: remaining life + margin
        self.long_poll = long_poll  # False where real time must not pass (a fake clock in tests)
        self.max_batches = max_batches
        self.poll_for = poll_for  # seconds until the drainer stops taking messages (module docstring)
        self.empty_since: float | None = None  # when receives started coming back empty (idle exit)
        self.unreadable = 0  # bodies no version can read (alarmed)
        self.newer = 0  # bodies of a newer schema, left for a newer drainer
        self._hidden: dict[str, tuple[float, float]] = {}  # receipt → (received at, hidden until)
        self.backlogged = False  # the last poll came back full: more is waiting on the queue

    def receive(self, wait: float) -> list[OutboundMessage]:
        left = self.poll_for()
        if left <= 0:  # stopped: the successor reads what comes now
            self.clock.sleep(min(wait, STOPPED_NAP))
            return []
        if self.long_poll and min(wait, left) >= 1.0:
            batch = self._poll(min(LONG_POLL_MAX, int(min(wait, left))))
        else:
            # A wait that would outlast the stop (under a second before it, a long poll cannot end in
            # time) is cut into short polls every LAST_POLLS_EVERY s until then, not one sleep to the
            # stop, which left a STOP or an answer that came in meanwhile unseen by this life (issue
            # 19: read at the stop, it went after the flood parts chosen in that last second).
            self.clock.sleep(min(left, LAST_POLLS_EVERY) if left < wait else wait)
            batch = self._poll(0)
        got = list(batch)
        batches = 1
        while len(batch) == BATCH and batches < self.max_batches:
            batch = self._poll(0)
            got.extend(batch)
            batches += 1
        self.backlogged = len(batch) == BATCH
        if got:
            self.empty_since = None
        elif self.empty_since is None:
            self.empty_since = self.clock.now()
        return got

    def _poll(self, wait_seconds: int) -> list[OutboundMessage]:
        hide = max(0, min(MAX_VISIBILITY, math.ceil(self.visibility())))
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=hide,
        )
        messages = []
        for raw in response.get("Messages", []):
            try:
                messages.append(OutboundMessage.from_json(raw["Body"], receipt=raw["ReceiptHandle"]))
                now = self.clock.now()
                self._hidden[raw["ReceiptHandle"]] = (now, now + hide)
            except NewerSchema as exc:
                logger.warning(
                    "outbound message of a newer schema left for a newer drainer",
                    extra={"sqs_message_id": raw.get("MessageId"), "version": str(exc.version)},
                )
                metrics.add_metric(name="OutboundNewerSchema", unit="Count", value=1)
                self.newer += 1
                self._give_back(raw)
            except (ValueError, TypeError, KeyError) as exc:
                # The body may hold a phone number: log the SQS id and the error, never the body.
                logger.error(
                    "unreadable outbound message given back for the DLQ",
                    extra={"sqs_message_id": raw.get("MessageId"), "error": f"{type(exc).__name__}: {exc}"},
                )
                metrics.add_metric(name="OutboundUnreadable", unit="Count", value=1)
                self.unreadable += 1
                self._give_back(raw)
        return messages

    def _give_back(self, raw: dict[str, Any]) -> None:
        """Visible again in :data:`UNREADABLE_RETRY` s: to a newer drainer, or after the redrive's
        count to the DLQ. Never deleted: the void is the one place a message must not go."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=UNREADABLE_RETRY
        )

    def ack(self, message: OutboundMessage) -> None:
        self._hidden.pop(message.receipt or "", None)
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt)

    def heartbeat(
        self,
        held: list[OutboundMessage],
        due_within: float,
        turns: Mapping[str, float] | None = None,
        margin: float = HOLD_MARGIN,
    ) -> int:
        """Extend the messages still held whose visibility ends within ``due_within`` seconds (the
        module docstring): until ``turns[id]`` (seconds to its expected turn; 0 when absent, a part on
        the line) + ``margin``; without ``turns``, by as long as each has been held, within
        [HOLD_FIRST, HOLD_LONGEST]. With ``turns``, a message hidden for longer than its turn + margin
        + ``due_within`` (a burst's first hide guessed it behind the whole burst, and it is a small
        city's answer that goes in a second) is brought back to its turn + margin too: after a crash it
        must reappear when it would have gone. Returns how many were changed."""
        now = self.clock.now()
        due: list[tuple[OutboundMessage, int]] = []
        soonest: list[tuple[float, int, OutboundMessage, int]] = []
        for n, message in enumerate(held):
            seen = self._hidden.get(message.receipt or "")
            if seen is None:
                continue
            left = seen[1] - now
            if turns is not None:
                wanted = turns.get(message.id, 0.0) + margin
                if left <= due_within or left > wanted + due_within:
                    soonest.append((seen[1], n, message, math.ceil(min(MAX_VISIBILITY, wanted))))
            elif left <= due_within:
                hide = math.ceil(min(HOLD_LONGEST, max(HOLD_FIRST, now - seen[0])))
                soonest.append((seen[1], n, message, hide))
        due = [(message, hide) for _, _, message, hide in sorted(soonest)[: HEARTBEAT_BATCHES * BATCH]]
        for start in range(0, len(due), BATCH):
            chunk = due[start : start + BATCH]
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt, "VisibilityTimeout": hide}
                    for n, (m, hide) in enumerate(chunk)
                ],
            )
            failed = {f.get("Id") for f in response.get("Failed", [])}
            for n, (message, hide) in enumerate(chunk):
                if str(n) in failed:  # a stale receipt (an older copy of one received again): it is the newer's
                    logger.warning("message visibility not extended", extra={"id": str(n)})
                    continue
                seen = self._hidden.get(message.receipt or "")
                if seen is not None:  # (not acknowledged meanwhile by a worker)
                    self._hidden[message.receipt or ""] = (seen[0], now + hide)
        return len(due)

    def bring_forward(
        self,
        received: list[OutboundMessage],
        turns: Callable[[], Mapping[str, float]],
        margin: float,
        slack: float,
    ) -> int:
        """Right after a poll, once its messages are queued: those whose turn + ``margin`` is more than
        ``slack`` sooner than the hide they were received with go down to it at once, as the next
        heartbeat would (:meth:`heartbeat`). A poll read while a backlog is read hides all its messages
        behind every part held (the drainer's first hide: 733 s at 3 MPS); a small city's answer or a
        STOP among them goes in seconds, and a life that died before its next heartbeat left it hidden
        for the whole backlog's time (issue 19, 734 s). Only those are changed: one call a poll of ten
        when the poll holds one, none otherwise, and ``turns`` (every held message's) is asked only
        when the poll's hide is long enough for one to need it. Returns how many were changed."""
        now = self.clock.now()
        seen = [self._hidden.get(message.receipt or "") for message in received]
        if max((s[1] - now for s in seen if s is not None), default=0.0) <= margin + slack:
            return 0  # (a turn is never below 0: none of them can be hidden more than ``slack`` too long)
        return self.heartbeat(received, due_within=slack, turns=turns(), margin=margin)

    def abandon_many(self, messages: list[OutboundMessage], delay: float) -> None:
        """``abandon`` for many at once (ChangeMessageVisibilityBatch, ten a call): a hand-off gives back
        the whole backlog it holds, thousands of messages at a slow identity. In the order given (the
        scheduler's: soonest turn first), and with a clock that runs threads :data:`GIVE_BACK_AT_ONCE`
        calls at a time. The first failure of a call is raised once all have ended."""
        hide = max(0, min(MAX_VISIBILITY, math.ceil(delay)))
        for message in messages:
            self._hidden.pop(message.receipt or "", None)
        chunks = [messages[start : start + BATCH] for start in range(0, len(messages), BATCH)]
        spawn = getattr(self.clock, "spawn", None)
        if spawn is not None and len(chunks) > 1:
            # The first ten (the soonest turns) go back alone, before the rest: visible first, they
            # are the successor's first read (SQS hands out the oldest first, as a best effort), so
            # what was about to go still goes first. In parallel, a chunk of flood messages could be
            # visible first, and the successor gave the flood a whole visit before a small city's
            # answer that was next (issue 19: 6 flood parts ahead at 1 MPS). One call's latency more.
            self._give_back_chunk(chunks[0], hide)
            chunks = chunks[1:]
        if spawn is None or len(chunks) < 2:
            for chunk in chunks:
                self._give_back_chunk(chunk, hide)
            return
        done: Any = self.clock.condition()  # type: ignore[attr-defined]
        state: dict[str, Any] = {"next": 0, "running": 0, "error": None}

        def give_back() -> None:
            try:
                while True:
                    with done:
                        n = state["next"]
                        if n >= len(chunks) or state["error"] is not None:
                            return
                        state["next"] = n + 1
                    self._give_back_chunk(chunks[n], hide)
            except BaseException as exc:  # noqa: BLE001 - raised by the caller, once every call ended
                with done:
                    state["error"] = state["error"] or exc
            finally:
                with done:
                    state["running"] -= 1
                    done.notify_all()

        workers = min(GIVE_BACK_AT_ONCE, len(chunks))
        state["running"] = workers
        for n in range(workers):
            spawn(give_back, f"outbound-give-back-{n}")
        with done:
            while state["running"] > 0:
                done.wait(1.0)
        if state["error"] is not None:
            raise state["error"]

    def _give_back_chunk(self, chunk: list[OutboundMessage], hide: int) -> None:
        response = self.client.change_message_visibility_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m.receipt, "VisibilityTimeout": hide} for n, m in enumerate(chunk)
            ],
        )
        for failed in response.get("Failed", []):  # e.g. a receipt handle gone stale: it reappears anyway
            logger.warning("message not given back", extra={"code": failed.get("Code"), "id": failed.get("Id")})

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        self._hidden.pop(message.receipt or "", None)
        self.client.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=message.receipt,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY, math.ceil(delay))),
        )
