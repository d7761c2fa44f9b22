"""A small local event bus playing SNS → SQS → Lambda and SES's asynchronous Lambda invocation.

SQS semantics as the stack configures them (stacks/messaging.py): batches of up to 10, partial batch
responses, a failed record received again (ApproximateReceiveCount + 1) after the visibility timeout,
moved to the DLQ after ``MAX_RECEIVE_COUNT`` receives. SES invokes inbound_email asynchronously: Lambda
retries a failed invocation twice, then parks the event on the on-failure destination. Timeouts are
scaled down (seconds, not minutes) so a demo or a test sees the outcome at once.

One worker thread runs every invocation, one at a time: like one Lambda instance per function, it
never runs a handler's module-level state (batch processor, logger keys) from two threads at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localrun.events import sns_notification, sqs_record
from localrun.lambdas import Function

log = logging.getLogger("localrun.bus")

MAX_RECEIVE_COUNT = 5  # stacks/messaging.py
BATCH_SIZE = 10
VISIBILITY_SECONDS = 0.4  # AWS: 6 × the function timeout; here, quick enough for a test to see the DLQ
ASYNC_RETRIES = 2  # Lambda's retry_attempts for the SES invocation (stacks/functions.py)
ASYNC_RETRY_SECONDS = 0.4


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class DeadLetter:
    source: str
    message_id: str
    body: str
    receive_count: int
    error: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def as_json(self) -> dict[str, Any]:
        return {"queue": self.source, "message_id": self.message_id, "receive_count": self.receive_count,
                "error": self.error, "at": self.at, "body": self.body}


@dataclass
class _Message:
    message_id: str
    body: str
    sent_at_ms: int
    visible_at: float
    receive_count: int = 0
    first_receive_ms: int = 0


class SqsQueue:
    """A queue with its Lambda event source mapping and its DLQ (``dead_letters``)."""

    def __init__(self, name: str, arn: str, function: Function, dead_letters: list[DeadLetter]) -> None:
        self.name, self.arn, self.function, self.dead_letters = name, arn, function, dead_letters
        self.lock: threading.RLock | threading.Condition = threading.RLock()  # the bus's, once subscribed
        self._messages: list[_Message] = []

    def send(self, body: str) -> str:
        message = _Message(str(uuid.uuid4()), body, _now_ms(), time.monotonic())
        self._messages.append(message)
        return message.message_id

    def pending(self) -> int:
        return len(self._messages)

    def next_due(self) -> float | None:
        return min((m.visible_at for m in self._messages), default=None)

    def receive(self, now: float) -> list[_Message]:
        batch = [m for m in self._messages if m.visible_at <= now][:BATCH_SIZE]
        for message in batch:
            message.receive_count += 1
            message.first_receive_ms = message.first_receive_ms or _now_ms()
            message.visible_at = now + VISIBILITY_SECONDS  # invisible while the function runs
        return batch

    def deliver(self, batch: list[_Message]) -> None:
        """Invoke the function with one SQS event; settle each record from its answer."""
        event = {"Records": [sqs_record(message_id=m.message_id, body=m.body, queue_arn=self.arn,
                                        receive_count=m.receive_count, sent_at_ms=m.sent_at_ms,
                                        first_receive_ms=m.first_receive_ms) for m in batch]}
        failed: set[str]
        error = "reported in batchItemFailures"
        try:
            response = self.function.invoke(event)
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except Exception as exc:  # noqa: BLE001 - a crashed invocation fails the whole batch, as in AWS
            log.exception("%s: invocation failed", self.function.name)
            failed, error = {m.message_id for m in batch}, f"{type(exc).__name__}: {exc}"
        with self.lock:
            self._settle(batch, failed, error)

    def _settle(self, batch: list[_Message], failed: set[str], error: str) -> None:
        for message in batch:
            if message.message_id not in failed:
                self._messages.remove(message)  # deleted by the event source mapping
            elif message.receive_count >= MAX_RECEIVE_COUNT:
                self._messages.remove(message)
                self.dead_letters.append(DeadLetter(self.name, message.message_id, message.body,
                                                    message.receive_count, error))
                log.warning("%s: message %s moved to the DLQ after %d receives", self.name,
                            message.message_id, message.receive_count)


@dataclass
class _Invocation:
    event_id: str
    event: dict
    visible_at: float
    attempts: int = 0


class AsyncFunction:
    """A function invoked with InvocationType=Event (SES's Lambda action): retried, then parked."""

    def __init__(self, name: str, function: Function, dead_letters: list[DeadLetter]) -> None:
        self.name, self.function, self.dead_letters = name, function, dead_letters
        self.lock: threading.RLock | threading.Condition = threading.RLock()
        self._queue: list[_Invocation] = []
        self.results: dict[str, Any] = {}  # event id → what the function returned (the sim shows it)

    def send(self, event_id: str, event: dict) -> None:
        self._queue.append(_Invocation(event_id, event, time.monotonic()))

    def pending(self) -> int:
        return len(self._queue)

    def next_due(self) -> float | None:
        return min((i.visible_at for i in self._queue), default=None)

    def receive(self, now: float) -> list[_Invocation]:
        due = [i for i in self._queue if i.visible_at <= now][:1]
        for invocation in due:
            invocation.attempts += 1
            invocation.visible_at = now + ASYNC_RETRY_SECONDS * invocation.attempts
        return due

    def deliver(self, batch: list[_Invocation]) -> None:
        for invocation in batch:
            try:
                result = self.function.invoke(invocation.event)
                with self.lock:
                    self.results[invocation.event_id] = result
                    self._queue.remove(invocation)
            except Exception as exc:  # noqa: BLE001 - Lambda retries, then the on-failure destination
                log.exception("%s: invocation failed (attempt %d)", self.function.name, invocation.attempts)
                with self.lock:
                    self._park(invocation, exc)

    def _park(self, invocation: _Invocation, exc: Exception) -> None:
        if invocation.attempts > ASYNC_RETRIES:
            self._queue.remove(invocation)
            self.results[invocation.event_id] = {"error": f"{type(exc).__name__}: {exc}"}
            self.dead_letters.append(DeadLetter(self.name, invocation.event_id, json.dumps(invocation.event),
                                                invocation.attempts, f"{type(exc).__name__}: {exc}"))


Source = SqsQueue | AsyncFunction


class EventBus:
    """Owns the sources and the worker thread that drains them."""

    def __init__(self) -> None:
        self.dead_letters: list[DeadLetter] = []
        self._sources: list[Source] = []
        self._topics: dict[str, tuple[str, SqsQueue]] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="localrun-bus", daemon=True)

    def subscribe(self, topic_arn: str, queue: SqsQueue) -> SqsQueue:
        """SNS topic → SQS queue, raw message delivery off: the queue gets the SNS envelope."""
        queue.lock = self._cond
        self._sources.append(queue)
        self._topics[topic_arn] = (topic_arn, queue)
        return queue

    def add(self, source: AsyncFunction) -> AsyncFunction:
        source.lock = self._cond
        self._sources.append(source)
        return source

    def publish(self, topic_arn: str, message: str) -> str:
        """Publish to an SNS topic: every subscribed queue gets the notification envelope."""
        _, queue = self._topics[topic_arn]
        note = sns_notification(message, topic_arn)
        return self._locked(lambda: queue.send(json.dumps(note)))

    def invoke_async(self, target: AsyncFunction, event_id: str, event: dict) -> None:
        self._locked(lambda: target.send(event_id, event))

    def pending(self) -> int:
        with self._cond:
            return sum(s.pending() for s in self._sources) + (1 if self._busy else 0)

    def start(self) -> None:
        self._thread.start()

    def stop_taking_work(self) -> None:
        """No batch is received after this; the one in flight, if any, runs on."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def wait_stopped(self, timeout: float) -> bool:
        """Whether the worker ended within ``timeout``. If not, its batch is abandoned: the thread is a
        daemon, and in AWS the records of a Lambda cut short are received again after the visibility
        timeout (here the run's state ends with the process)."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _locked(self, action: Callable[[], Any]) -> Any:
        with self._cond:
            result = action()
            self._cond.notify_all()
            return result

    def _run(self) -> None:
        while True:
            with self._cond:
                work = self._take()
                while not work and not self._stopping:
                    due = [d for d in (s.next_due() for s in self._sources) if d is not None]
                    self._cond.wait(timeout=max(0.01, min(due) - time.monotonic()) if due else None)
                    work = self._take()
                if self._stopping:
                    return
                self._busy = True
            try:
                for source, batch in work:
                    source.deliver(batch)  # type: ignore[arg-type]
            finally:
                with self._cond:
                    self._busy = False

    def _take(self) -> list[tuple[Source, list[Any]]]:
        now = time.monotonic()
        work: list[tuple[Source, list[Any]]] = []
        for source in self._sources:
            batch = source.receive(now)
            if batch:
                work.append((source, batch))
        return work
