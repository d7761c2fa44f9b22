"""What the reliability tests and the soak put around the real handlers: faults and AWS delivery semantics.

- :class:`FaultPlan` decides which AWS calls fail (seeded random rates, or scripted one by one) and when
  the Lambda invocation is cut short; :func:`inject_faults` applies it to every botocore client in the
  process (the clients built by ``text311.services``, pynamodb's own DynamoDB clients, the SMS client),
  by wrapping ``BaseClient._make_api_call``. An injected error is raised by botocore's own error class
  for its code, above botocore's retry loop: it is what the application sees once the SDK has given up.
- :class:`SimulatedEndUserMessaging` answers ``SendTextMessage`` at the HTTP layer (moto has no
  ``pinpoint-sms-voice-v2``) and records every SMS it accepts, so the real ``EndUserMessagingSender``
  (its retries, its part ledger) runs in the tests.
- :class:`SimulatedSqsQueue` hands records to a handler the way an SQS event source mapping does:
  batches in any order, a record in ``batchItemFailures`` (or in an invocation that raised) comes back,
  after ``maxReceiveCount`` receives it goes to the DLQ; SNS may deliver the same notification twice.
- :class:`SimulatedAsyncInvoker` invokes the SES-triggered function the way Lambda's asynchronous
  invocation does: retried ``retry_attempts`` times, then parked on the on-failure destination.

The limits come from the stack's own source (read, not imported: importing CDK starts a Node process).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ReadTimeoutError

from text311.adapters.sms_sender import client_config

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def stack_setting(file_name: str, pattern: str) -> int:
    """An integer the stack source sets (``MAX_RECEIVE_COUNT = 5``, ``retry_attempts=2``)."""
    found = re.search(pattern, (STACKS / file_name).read_text())
    if found is None:
        raise LookupError(f"{pattern!r} not found in stacks/{file_name}")
    return int(found.group(1))


MAX_RECEIVE_COUNT = stack_setting("messaging.py", r"(?m)^MAX_RECEIVE_COUNT = (\d+)$")
BATCH_SIZE = stack_setting("messaging.py", r"(?m)^BATCH_SIZE = (\d+)$")
ASYNC_RETRY_ATTEMPTS = stack_setting("functions.py", r"retry_attempts=(\d+)")


class SimulatedLambdaTimeout(BaseException):
    """Lambda stopped the invocation. A BaseException, so that no ``except Exception`` in the handler,
    in Powertools or in the core can catch it: nothing after this point runs, as in a real timeout."""


@dataclass(frozen=True)
class Fault:
    code: str
    status: int


# Throttling and 5xx errors each service really returns (codes as in the botocore service models).
SERVICE_FAULTS: dict[str, tuple[Fault, ...]] = {
    "dynamodb": (
        Fault("ProvisionedThroughputExceededException", 400),
        Fault("ThrottlingException", 400),
        Fault("InternalServerError", 500),
    ),
    "sesv2": (Fault("TooManyRequestsException", 429), Fault("ServiceUnavailable", 503)),
    "pinpoint-sms-voice-v2": (Fault("ThrottlingException", 400), Fault("InternalServerException", 500)),
}
# Calls after which the invocation may time out: the ones that change something outside the process.
SIDE_EFFECTS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "SendEmail",
                          "SendTextMessage", "SendMessage"})


@dataclass
class ScriptedFault:
    service: str
    operation: str | None  # None: any operation of the service
    fault: Fault | None  # None: a Lambda timeout right after the call succeeds
    skip: int = 0  # matching calls to let through first
    table: str | None = None  # DynamoDB only: the table the call must name


@dataclass
class FaultPlan:
    """Which AWS calls fail. ``rates`` are per service (probability that one call fails);
    ``timeout_rate`` is the probability that the invocation times out right after a call in
    :data:`SIDE_EFFECTS` succeeds. Scripted faults come first, then the random ones; ``enabled``
    turns everything off (set-up, DLQ redrive)."""

    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    timeout_rate: float = 0.0
    enabled: bool = True
    scripted: list[ScriptedFault] = field(default_factory=list)
    injected: Counter = field(default_factory=Counter)  # "service code" → count, "timeout" → count
    on_timeout: Callable[[str, str], None] | None = None  # told (service, operation) when it cuts an invocation
    calls: Counter = field(default_factory=Counter)  # "service.operation" → count

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def fail(self, service: str, operation: str | None = None, *, code: str, status: int, times: int = 1,
             skip: int = 0, table: str | None = None) -> FaultPlan:
        for _ in range(times):
            self.scripted.append(ScriptedFault(service, operation, Fault(code, status), skip, table))
        return self

    def time_out_after(self, service: str, operation: str, *, skip: int = 0, table: str | None = None) -> FaultPlan:
        self.scripted.append(ScriptedFault(service, operation, None, skip, table))
        return self

    def _scripted(self, service: str, operation: str, table: str | None, timeouts: bool) -> ScriptedFault | None:
        for scripted in self.scripted:
            if (scripted.fault is None) != timeouts or scripted.service != service:
                continue
            if scripted.operation not in (None, operation) or scripted.table not in (None, table):
                continue
            if scripted.skip:
                scripted.skip -= 1
                return None
            self.scripted.remove(scripted)
            return scripted
        return None

    def fault_before(self, service: str, operation: str, table: str | None) -> Fault | None:
        self.calls[f"{service}.{operation}"] += 1
        if not self.enabled:
            return None
        scripted = self._scripted(service, operation, table, timeouts=False)
        fault = scripted.fault if scripted else None
        if fault is None and service in SERVICE_FAULTS and self.random.random() < self.rates.get(service, 0.0):
            fault = self.random.choice(SERVICE_FAULTS[service])
        if fault is not None:
            self.injected[f"{service} {fault.code}"] += 1
        return fault

    def times_out_after(self, service: str, operation: str, table: str | None) -> bool:
        if not self.enabled:
            return False
        timed_out = self._scripted(service, operation, table, timeouts=True) is not None or (
            operation in SIDE_EFFECTS and self.random.random() < self.timeout_rate
        )
        if timed_out:
            self.injected["timeout"] += 1
            if self.on_timeout is not None:
                self.on_timeout(service, operation)
        return timed_out

    @property
    def faults_injected(self) -> int:
        return sum(n for key, n in self.injected.items() if key != "timeout")


def inject_faults(monkeypatch: Any, plan: FaultPlan) -> FaultPlan:
    """Route every botocore API call in this process through ``plan``."""
    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, api_params: dict) -> Any:
        service = client.meta.service_model.service_name
        table = api_params.get("TableName") if service == "dynamodb" else None
        fault = plan.fault_before(service, operation_name, table)
        if fault is not None:
            response = {
                "Error": {"Code": fault.code, "Message": "injected by tests/reliability"},
                "ResponseMetadata": {"HTTPStatusCode": fault.status, "RequestId": "injected"},
            }
            raise client.exceptions.from_code(fault.code)(response, operation_name)
        result = original(client, operation_name, api_params)
        if plan.times_out_after(service, operation_name, table):
            raise SimulatedLambdaTimeout(f"Task timed out after {service}.{operation_name}")
        return result

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return plan


# -- End User Messaging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AcceptedSms:
    destination: str
    body: str
    idempotency_key: str
    part: str  # "1/2"
    message_id: str


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@dataclass
class SimulatedEndUserMessaging:
    """The SendTextMessage endpoint. ``lose_answers`` makes the next N accepted requests end in a read
    timeout (accepted by the service, no answer to the caller: the SMS went out)."""

    accepted: list[AcceptedSms] = field(default_factory=list)
    lose_answers: int = 0
    backoff: list[float] = field(default_factory=list)  # the sender's retry sleeps, not slept

    def client(self) -> Any:
        sms_client = boto3.client("pinpoint-sms-voice-v2", region_name="ca-central-1", config=client_config())
        sms_client.meta.events.register_first("before-send.pinpoint-sms-voice-v2.SendTextMessage", self._answer)
        return sms_client

    def sender(self) -> Any:
        """The sender ``services.sms_sender`` builds, over this endpoint (call inside the moto region:
        its part ledger is the idempotency table). A new one is a cold start: nothing in memory."""
        from text311 import services

        return services.sms_sender_over(self.client(), sleep=self.backoff.append)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        params = json.loads(request.body)
        context = params.get("Context", {})
        message_id = str(uuid.uuid4())
        self.accepted.append(AcceptedSms(params["DestinationPhoneNumber"], params["MessageBody"],
                                         context.get("idempotency_key", ""), context.get("part", ""), message_id))
        if self.lose_answers:
            self.lose_answers -= 1
            raise ReadTimeoutError(endpoint_url=request.url)
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, headers, _Body(json.dumps({"MessageId": message_id}).encode()))

    def to(self, destination: str) -> list[str]:
        return [sms.body for sms in self.accepted if sms.destination == destination]

    def duplicates(self, among: set[tuple[str, str, str]] | None = None) -> int:
        """SMS parts accepted more than once for the same (phone, idempotency key, part); ``among``
        limits the count to those keys."""
        counts = Counter((s.destination, s.idempotency_key, s.part) for s in self.accepted)
        return sum(n - 1 for key, n in counts.items() if n > 1 and (among is None or key in among))


# -- SQS event source mapping --------------------------------------------------------------------


@dataclass
class SimulatedSqsQueue:
    """An SQS queue with its DLQ, drained by an event source mapping with partial batch responses."""

    rng: random.Random
    max_receive_count: int = MAX_RECEIVE_COUNT
    batch_size: int = BATCH_SIZE
    duplicate_rate: float = 0.0  # SNS delivers a notification twice (at-least-once)
    waiting: list[dict] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    receives: Counter = field(default_factory=Counter)
    redeliveries: int = 0
    duplicates_sent: int = 0
    invocations: int = 0
    timed_out: int = 0
    crashed: list[str] = field(default_factory=list)  # exceptions that escaped the handler

    def send(self, record: dict) -> None:
        self.waiting.append(record)
        if self.duplicate_rate and self.rng.random() < self.duplicate_rate:
            self.waiting.append(new_sqs_message(record))
            self.duplicates_sent += 1

    def receive(self) -> list[dict]:
        """Up to a batch of records, in no particular order (a standard queue does not keep it)."""
        count = min(self.batch_size, len(self.waiting))
        batch = [self.waiting.pop(self.rng.randrange(len(self.waiting))) for _ in range(count)]
        for record in batch:
            self.receives[record["messageId"]] += 1
            record["attributes"]["ApproximateReceiveCount"] = str(self.receives[record["messageId"]])
        return batch

    def settle(self, batch: list[dict], failed: set[str]) -> None:
        for record in batch:
            if record["messageId"] not in failed:
                continue
            if self.receives[record["messageId"]] >= self.max_receive_count:
                self.dead_letters.append(record)
            else:
                self.waiting.append(record)
                self.redeliveries += 1

    def deliver_one_batch(self, handler: Callable[[dict], dict]) -> None:
        batch = self.receive()
        self.invocations += 1
        try:
            response = handler({"Records": batch})
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        except SimulatedLambdaTimeout:
            self.timed_out += 1
            failed = {record["messageId"] for record in batch}  # no response: the whole batch comes back
        except Exception as exc:  # noqa: BLE001 - counted: a handler must answer with a partial batch response
            self.crashed.append(f"{type(exc).__name__}: {exc}")
            failed = {record["messageId"] for record in batch}
        self.settle(batch, failed)

    def drain(self, handler: Callable[[dict], dict]) -> None:
        while self.waiting:
            self.deliver_one_batch(handler)

    def redrive(self) -> int:
        """Move the DLQ back to the source queue (SQS's DLQ redrive: new messages, new receive counts)."""
        moved = len(self.dead_letters)
        for record in self.dead_letters:
            self.waiting.append(new_sqs_message(record))
        self.dead_letters.clear()
        return moved


def new_sqs_message(record: dict) -> dict:
    """The same body as a new SQS message (another SNS delivery, or a redriven message)."""
    copied = copy.deepcopy(record)
    copied["messageId"] = str(uuid.uuid4())
    copied["attributes"]["ApproximateReceiveCount"] = "1"
    return copied


# -- Lambda asynchronous invocation ---------------------------------------------------------------


@dataclass
class SimulatedAsyncInvoker:
    """SES invokes the function asynchronously: Lambda retries a failed invocation ``retry_attempts``
    times, then sends the event to the on-failure destination."""

    handler: Callable[[dict], Any]
    retry_attempts: int = ASYNC_RETRY_ATTEMPTS
    failed_events: list[dict] = field(default_factory=list)
    invocations: int = 0
    retries: int = 0
    timed_out: int = 0
    errors: Counter = field(default_factory=Counter)

    def invoke(self, event: dict) -> Any:
        for attempt in range(1 + self.retry_attempts):
            self.invocations += 1
            self.retries += attempt > 0
            try:
                return self.handler(event)
            except SimulatedLambdaTimeout:
                self.timed_out += 1
            except Exception as exc:  # noqa: BLE001 - a raised error is how this function asks for a retry
                self.errors[type(exc).__name__] += 1
        self.failed_events.append(event)
        return None

    def redrive(self) -> list[Any]:
        events, self.failed_events = self.failed_events, []
        return [self.invoke(event) for event in events]


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Powertools prints a metrics blob per invocation: keep ``pytest -s`` readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield

