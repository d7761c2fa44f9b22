"""The identity's SQS queue as the scheduler's :class:`~text311.outbound.scheduler.MessageSource`.

- ``receive(wait)``: a long poll (``WaitTimeSeconds`` up to 20 s, which returns as soon as a message
  arrives) when the line is free for a second or more; otherwise the sub-second remainder is slept
  on the clock and the queue short-polled, so a STOP confirmation is seen within the scheduler's
  ``poll_interval``. Full batches are followed by more short polls: the drainer holds everything the
  queue offers, or neither priority nor fairness could see the backlog.
- Each received message is hidden for the drainer's remaining life plus a margin: no one else sees
  it while this drainer may still send it, and it comes back soon after a crash.
- ``ack`` deletes; ``abandon(delay)`` makes it visible again after ``delay``.

**A body that does not parse is deleted, logged as an error and counted** (``OutboundUnreadable``,
for an alarm). Only our own producers write to this queue (``OutboundMessage.to_json``), so such a
body is a bug that no retry can fix, and it names no destination or id we could act on. Left to the
redrive policy it would be re-received by every drainer until ``maxReceiveCount`` (60, set high for
handoffs), i.e. for up to 15 hours, before the DLQ alarm said anything; the metric says it at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from text311.observability import logger, metrics
from text311.outbound.message import OutboundMessage
from text311.outbound.pacing import Clock

LONG_POLL_MAX = 20  # seconds: SQS's longest WaitTimeSeconds
BATCH = 10  # SQS's largest MaxNumberOfMessages
MAX_VISIBILITY = 12 * 3600  # SQS's longest visibility timeout


class SqsMessageSource:
    def __init__(self, client: Any, queue_url: str, clock: Clock, visibility: Callable[[], float],
                 *, long_poll: bool = True, max_batches: int = 10) -> None:
        self.client = client
        self.queue_url = queue_url
        self.clock = clock
        self.visibility = visibility  # seconds to hide a received message: remaining life + margin
        self.long_poll = long_poll  # False where real time must not pass (a fake clock in tests)
        self.max_batches = max_batches
        self.empty_since: float | None = None  # when receives started coming back empty (idle exit)
        self.unreadable = 0

    def receive(self, wait: float) -> list[OutboundMessage]:
        if self.long_poll and wait >= 1.0:
            batch = self._poll(min(LONG_POLL_MAX, int(wait)))
        else:
            self.clock.sleep(wait)
            batch = self._poll(0)
        got = list(batch)
        batches = 1
        while len(batch) == BATCH and batches < self.max_batches:
            batch = self._poll(0)
            got.extend(batch)
            batches += 1
        if got:
            self.empty_since = None
        elif self.empty_since is None:
            self.empty_since = self.clock.now()
        return got

    def _poll(self, wait_seconds: int) -> list[OutboundMessage]:
        hide = max(0, min(MAX_VISIBILITY, math.ceil(self.visibility())))
        response = self.client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=hide,
        )
        messages = []
        for raw in response.get("Messages", []):
            try:
                messages.append(OutboundMessage.from_json(raw["Body"], receipt=raw["ReceiptHandle"]))
            except (ValueError, TypeError, KeyError) as exc:
                self._discard(raw, exc)
        return messages

    def _discard(self, raw: dict[str, Any], exc: Exception) -> None:
        # The body may hold a phone number: log the SQS id and the error, never the body.
        logger.error("unreadable outbound message deleted",
                     extra={"sqs_message_id": raw.get("MessageId"), "error": f"{type(exc).__name__}: {exc}"})
        metrics.add_metric(name="OutboundUnreadable", unit="Count", value=1)
        self.unreadable += 1
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=raw["ReceiptHandle"])

    def ack(self, message: OutboundMessage) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt)

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message.receipt,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY, math.ceil(delay))),
        )
