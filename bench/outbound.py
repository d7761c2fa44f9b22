"""Outbound SMS on the production composition (issue 19): the drainer as ``functions/sms_drainer``
builds it, against simulated AWS APIs with latency and faults, on a simulated clock.

    .venv/bin/python bench/outbound.py [--seed N] [--parts N] [--parts-at-1 N] [--mps 1,3,100] [--crashes N]
    .venv/bin/python bench/outbound.py --mps 3 --rows crash --no-idle    # one row, to iterate on (1-2 min)

**The clock** is ``text311.outbound.sim_clock.SimClock``, a discrete-event clock for threads: the
pipelined drainer runs its real worker, receiver and control threads, but one at a time, and
simulated time jumps to the next timer when every one of them waits on the clock (a call's latency,
a slot, a long poll). Nothing waits in real time, no figure depends on the machine's speed or load,
and a seed gives the same run every time. (Not a scaled real-time clock: moto's own CPU time per call,
a millisecond or more, would then count as latency.)

**Real** (the code under test): ``services.drainer_with``, the factory the Lambda's drainer comes
from: the Drainer and its SqsMessageSource, OutboundScheduler, TableLedger, Lease and StatusBoard over
moto's DynamoDB, the phone vault's unsealing over moto's KMS, and the line ``services.sms_sender_over``
builds (the End User Messaging adapter behind the country guard, one attempt a call).

**Simulated** (what lies outside the process), each call charged its latency on the simulated clock
and logged with the instant it started:

- SQS (:class:`FakeSqs`): a standard queue with visibility timeouts, receive counts and the redrive to
  a DLQ after 60 receives; a long poll returns when a message arrives or becomes visible; 1 % of
  receives hand a message out and leave it visible (a duplicate delivery: it is received again).
  Messages arrive as the producers send them (``queued.queue_entry``: the city as the message group),
  so the queue is a fair queue, with the rule the SQS Developer Guide documents: oldest first, except
  that a tenant with more than 10 % of the messages in flight and at least 30 of its own is a noisy
  neighbour, whose messages go after every other tenant's. Real SQS applies it approximately
  ("detection may not activate at the exact values") and keeps the priority until the share falls
  back; the fake judges it afresh at every receive, with no lag and never longer than the share lasts,
  and leaves out the guide's second measure (processing time). Issue 19, eighth pass: before it, the
  fake was strictly oldest first, as a standard queue without message groups.
- End User Messaging (:class:`FakeSmsApi`, a ``pinpoint-sms-voice-v2`` client): enforces the MPS
  with a one-second bucket (a call above it is a ThrottlingException, as the service's); throttles
  2 % of calls anyway; loses 0.5 % of responses (the SMS goes out, the client waits its 10-s read
  timeout and gets a ReadTimeoutError).
- Lambda (:class:`FakeLambda` and :func:`run`): the EventBridge tick every minute, the successor
  invoked at a hand-off (it starts 0.5 s later), a 15-minute life, and after a crash the function's
  on-failure destination (itself: it starts 0.5 s after the crash and waits for the dead lease).
  Every start runs, each life as a sandbox of its own (:class:`LifeClock`), so lives overlap as in
  Lambda: a successor starts while the life that invoked it still winds down, and a tick that comes
  while a life runs finds the lease held and returns (or, at a hand-off, waits for it).
- Crashes (``--crashes`` per run in the "crash" rows): the drainer's process dies right after a
  SendTextMessage went out and before its record. Nothing of that life (its own fibers) calls AWS again (every call
  raises: its lease, the messages it held and the parts it had claimed stay as they were), as when
  Lambda kills a sandbox; its calls under way end with it (a long poll or a read timeout is cut
  short: ``World.pause``), so nothing of it holds up its successor.
- Latency: SendTextMessage 60 ms, DynamoDB and KMS 8 ms, SQS 15 ms, Lambda Invoke 20 ms, each with
  ±50 % uniform jitter.

**Workload** (``--parts`` parts, 10,000; ``--parts-at-1``, 2,000, at 1 MPS, whose 10,000 would be
2.8 simulated hours and half the bench's CPU; the mix, the shares and the fault rates are the same,
so the ratios compare): a flooding city's burst queued at t=0 (80 % of the parts,
messages of 1 to 4 parts, 40 % of them UCS-2); one-part answers of two small cities and STOP
confirmations (2 % of the messages) arriving at random during the first 80 % of the ideal drain.

**Figures**, from the fakes' logs (the SMS log for every send; the ledger table for what the agent
was told): *drain* = start of the last part sent + 1/MPS, ÷ (parts ÷ MPS); *max sends/s* = the most
SendTextMessage calls the service accepted (parts sent) that started in any sliding second [t, t+1),
÷ MPS: the MPS counts the parts sent, and a refused call sends none (End User Messaging SMS User Guide,
"MPS limits"); in brackets the same for every call, refused ones included (a refused urgent call gives
its slot back, so its retry may start within 1/MPS of it: pacing.py); *lost* = messages with a
part never sent and not recorded failed or in doubt; *twice* = parts sent more than once; *in doubt*
= messages the ledger holds in doubt (the agent is told); *STOP* = from a confirmation's arrival to
the start of its send, longest and 95th percentile; *small city* = the same for the small cities'
answers, longest; *flood parts ahead* = for each small city's answer, the flooding city's parts whose
call started after the answer arrived on the queue and before the answer's own call (the SMS log:
what the resident waited behind, including the parts already chosen and claimed when it arrived and
the parts sent while a burst ahead of it on the queue was being read), most and 95th percentile;
*flood parts chosen ahead* = the flooding city's parts the drainer chose after it had received the
answer and before it chose the answer (the SQS log of hand-outs and the ledger's claims: DRR's
promise, one quantum), most and 95th percentile, and in brackets the most *beyond fair share*: less
one quantum for each quantum of its own city's parts chosen meanwhile (a small city with a backlog of
its own, after a takeover: its *k*-th answer waits for a flood visit per quantum ahead of it);
*calls/part* = every AWS call the drainer made (SQS, DynamoDB, KMS, Lambda,
SendTextMessage) ÷ parts sent; *DynamoDB writes/part* = PutItem, UpdateItem and DeleteItem (one
write unit each: every item is under 1 KB; a refused conditional write is charged too) ÷ parts
sent. Last, the calls of an idle hour (an empty queue, the chain of lives and the ticks).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import heapq
import io
import itertools
import json
import math
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "layers" / "core" / "python")]

from environment import FUNCTIONS_ENVIRONMENT  # noqa: E402 - tests/ is on the path from here on

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ca-central-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Text311",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        **FUNCTIONS_ENVIRONMENT,
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from botocore.exceptions import ClientError, ReadTimeoutError  # noqa: E402
from moto import mock_aws  # noqa: E402

from text311 import services  # noqa: E402
from text311.adapters.phone_vault import PhoneVault  # noqa: E402
from text311.adapters.sms_sender import KEY_CONTEXT, client_config  # noqa: E402
from text311.outbound import Kind, MpsLimit, OutboundMessage  # noqa: E402
from text311.outbound.drainer import Successor  # noqa: E402
from text311.outbound.pacing import max_in_window  # noqa: E402
from text311.outbound.queued import queue_entry  # noqa: E402
from text311.outbound.scheduler import QUANTUM  # noqa: E402
from text311.outbound.sim_clock import SimClock  # noqa: E402

REGION = "ca-central-1"
QUEUE_URL = "https://sqs.ca-central-1.amazonaws.com/123456789012/text311-outbound"
FUNCTION = "text311-sms-drainer"
FLOOD_CITY, SMALL_CITIES = 6077243, (5959974, 6127749)  # Montréal floods; Gatineau and Rimouski do not
FLOOD_SHARE = 0.8
STOP_SHARE = 0.02
RESIDENTS = 1_000  # distinct numbers (a resident may get several messages; the drainer caches unsealing)
LATENCY = {"sms": 0.060, "dynamodb": 0.008, "kms": 0.008, "sqs": 0.015, "lambda": 0.020}
JITTER = 0.5  # ± this fraction, uniform
P_THROTTLE = 0.02
P_LOST_RESPONSE = 0.005
P_DUPLICATE = 0.01
READ_TIMEOUT = float(client_config().read_timeout)  # a lost response costs the client this long
MAX_RECEIVES = 60  # the queue's redrive (stacks/outbound.py)
TICK = 60.0
LIFE = 900.0
START_DELAY = 0.5  # an asynchronous invocation's start
PAUSE_STEP = 0.25  # a long wait inside a call looks this often whether its process is still alive
WRITES = {"dynamodb.put_item", "dynamodb.update_item", "dynamodb.delete_item"}  # one write unit each (< 1 KB)
ORDER = itertools.count(1)  # ties between starts at one instant: first come, first started
STOP_BODY = "Vous êtes désabonné de Text311. Répondez START pour revenir."

_WORDS_GSM = (
    "the crew will clear your street today; the pothole on Main is on the list, ticket 4521 "
    "thanks for your patience after the storm power is back in your area water main repaired "
    "garbage pickup moves to Thursday call 311 for anything else"
).split()
_WORDS_UCS2 = (
    "l'équipe dégagera votre rue aujourd'hui; le nid-de-poule est noté, dossier 4521 — "
    "merci de votre patience après la tempête, l'électricité est rétablie, la conduite d'eau "
    "réparée, collecte des ordures déplacée à jeudi; appelez le 311 pour tout le reste"
).split()


class LifeClock(SimClock):
    """The simulated clock, knowing which life (Lambda sandbox) each fiber belongs to: a fiber a life
    spawns (its line workers, receivers, lease keeper, status writer) is that life's, so a crash ends
    that life's calls and no other's."""

    def __init__(self) -> None:
        super().__init__()
        self._life = threading.local()

    def life(self) -> int:
        return getattr(self._life, "n", 0)

    def run_as(self, life: int) -> None:
        self._life.n = life

    def spawn(self, target: Callable[[], Any], name: str) -> None:
        life = self.life()

        def as_its_life() -> None:
            self.run_as(life)
            target()

        super().spawn(as_its_life, name)


class Dead(BaseException):  # noqa: N818 - not an error the code under test may catch: the process is gone
    """The drainer's process died: every call of that life fails, nothing of it runs again."""


class Finished(BaseException):  # noqa: N818
    """Everything was sent and acknowledged: the simulation ends here."""


# -- the simulated world: clock, latency, call log --------------------------------------------------------


@dataclass
class World:
    rng: random.Random
    clock: LifeClock = field(default_factory=LifeClock)
    calls: Counter[str] = field(default_factory=Counter)
    dead: set[int] = field(default_factory=set)  # lives whose process died
    finished: bool = False
    charging: bool = True
    crashed_at: float = 0.0
    idle_until: float | None = None  # an idle run: the queue stays empty until then, never "finished"
    claims: list[tuple[float, str]] = field(default_factory=list)  # (start, part key): the ledger's claims
    handed: list[tuple[float, str]] = field(default_factory=list)  # (instant, message id): SQS's hand-outs
    lives: list[float] = field(default_factory=list)  # when each life started
    leases: list[float] = field(default_factory=list)  # when a life took the lease (its first acquire)
    starts: list[tuple[float, int, str, str | None]] = field(default_factory=list)  # (at, order, kind, replacing)
    woken: Any = None  # the condition the dispatcher of lives waits on (run)

    @property
    def alive(self) -> bool:
        """Whether the calling fiber's life is still alive."""
        return self.clock.life() not in self.dead

    def start_life(self, at: float, kind: str, replacing: str | None = None) -> None:
        heapq.heappush(self.starts, (at, next(ORDER), kind, replacing))
        if self.woken is not None:
            self.woken.notify_all()

    def finish(self) -> None:
        self.finished = True
        if self.woken is not None:
            self.woken.notify_all()

    def charge(self, service: str, operation: str, latency: float | None = None) -> float:
        """One call: counted, and its latency passed on the clock. Returns the instant it started."""
        if self.finished:
            raise Finished
        if not self.alive:
            raise Dead
        started = self.clock.now()
        if self.charging:
            self.calls[f"{service}.{operation}"] += 1
            base = LATENCY[service] if latency is None else latency
            self.clock.sleep(base * self.rng.uniform(1 - JITTER, 1 + JITTER))
        return started

    def pause(self, seconds: float) -> None:
        """A long wait inside a call (a long poll, a read timeout), cut short when the process dies:
        a dead process's calls end with it, so its successor starts when Lambda starts it, not when
        the dead one's longest call would have returned (up to 20 s: that had left 100 MPS idle for
        8 to 9 s after a crash, with a lease of 1.5 s)."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            if not self.alive:
                raise Dead
            self.clock.sleep(min(PAUSE_STEP, end - self.clock.now()))
        if not self.alive:
            raise Dead


class Latent:
    """A moto client whose every call is charged on the world (DynamoDB, KMS)."""

    def __init__(self, world: World, service: str, client: Any) -> None:
        self._world, self._service, self._client = world, service, client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_") or name in {"meta", "exceptions"}:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            started = self._world.charge(self._service, name)
            key = kwargs.get("Item", {}).get("id", {}).get("S", "") if name == "put_item" else ""
            if key.startswith("outbound#"):  # a part claimed in the ledger: when the drainer chose it
                self._world.claims.append((started, key.removeprefix("outbound#")))
            result = method(*args, **kwargs)
            if key.startswith("lease#"):  # (a refused acquire raised above)
                self._world.leases.append(started)
            return result

        return call


# -- SQS ---------------------------------------------------------------------------------------------------


@dataclass
class Queued:
    body: str
    seq: int
    group: str | None  # its MessageGroupId: the fair queue's tenant (None: a tenant of its own)
    visible_at: float = 0.0
    receives: int = 0
    in_flight: bool = False  # hidden after a receive: counted in its tenant's in-flight messages


# SQS fair queues ("How Amazon SQS fair queues work", Amazon SQS Developer Guide): a tenant is a noisy
# neighbour while it holds more than this share of the queue's in-flight messages and at least this many
# of its own.
NOISY_SHARE, NOISY_AT_LEAST = 0.10, 30


class FakeSqs:
    """A standard queue with message groups, hence a fair queue (see the module docstring).
    ``arrivals`` come in at their instants, each as the producer's SendMessage arguments
    (``queued.queue_entry``); messages are handed out oldest-visible first (then oldest sent), except
    that while a tenant is a noisy neighbour every other tenant's visible messages go first, and among
    noisy tenants the one with the fewest in flight. The guide's concurrency rule, judged afresh at
    every receive: a tenant is noisy exactly while it holds the share, never longer (the guide keeps
    the priority until the share falls back to the quiet tenants' level, or ends it once the backlog
    is consumed or the tenant sent nothing for five minutes: both at least as long). Its second
    measure, a tenant's share of the consumers' processing time, is left out: it could only mark the
    flood noisy sooner. No lag in detection is modelled."""

    def __init__(self, world: World, arrivals: list[tuple[float, dict[str, str]]]) -> None:
        self.world = world
        self.arrivals = sorted(arrivals, key=lambda a: a[0])
        self.ids = [json.loads(entry["MessageBody"])["id"] for _, entry in self.arrivals]  # for the log of hand-outs
        self.next_arrival = 0
        self.messages: dict[int, Queued] = {}
        # tenant → (visible_at, seq), stale entries skipped on pop; the messages of no group share a heap
        # but are each a tenant of their own, never a noisy one
        self.visible: dict[str | None, list[tuple[float, int]]] = {}
        self.hidden_until: list[tuple[float, int]] = []  # when in-flight messages turn visible (stale skipped)
        self.in_flight: Counter[str | None] = Counter()
        self.held: Counter[str | None] = Counter()  # messages on the queue, visible or not
        self.noisy: set[str] = set()
        self.dlq: list[str] = []

    def _show(self, message: Queued, at: float) -> None:
        if message.in_flight:
            message.in_flight = False
            self.in_flight[message.group] -= 1
        message.visible_at = at
        heapq.heappush(self.visible.setdefault(message.group, []), (at, message.seq))
        if at > self.world.clock.now():
            message.in_flight = True
            self.in_flight[message.group] += 1
            heapq.heappush(self.hidden_until, (at, message.seq))

    def _remove(self, seq: int) -> None:
        message = self.messages.pop(seq, None)
        if message is not None:
            self.held[message.group] -= 1
            if message.in_flight:
                self.in_flight[message.group] -= 1

    def _arrive(self) -> None:
        now = self.world.clock.now()
        while self.next_arrival < len(self.arrivals) and self.arrivals[self.next_arrival][0] <= now:
            at, entry = self.arrivals[self.next_arrival]
            group = entry.get("MessageGroupId")
            message = self.messages[self.next_arrival] = Queued(entry["MessageBody"], self.next_arrival, group)
            self.held[group] += 1
            self._show(message, at)
            self.next_arrival += 1
        while self.hidden_until and self.hidden_until[0][0] <= now:  # visibility timeouts that ran out
            at, seq = heapq.heappop(self.hidden_until)
            message = self.messages.get(seq)
            if message is not None and message.in_flight and message.visible_at == at:
                message.in_flight = False
                self.in_flight[message.group] -= 1
        idle_until = self.world.idle_until
        if idle_until is not None and now >= idle_until:
            self.world.finish()
            raise Finished
        if idle_until is None and not self.messages and self.next_arrival == len(self.arrivals):
            self.world.finish()
            raise Finished

    def _mark_noisy(self) -> None:
        total = sum(self.in_flight.values())
        self.noisy = {
            group
            for group, n in self.in_flight.items()
            if group is not None and n >= NOISY_AT_LEAST and n > NOISY_SHARE * total
        }

    def _top(self, group: str | None) -> tuple[float, int]:
        """(visible at, seq) of the tenant's oldest visible-or-hidden message; (inf, 0) when none."""
        heap = self.visible[group]
        while heap and self._stale(*heap[0]):
            heapq.heappop(heap)
        return heap[0] if heap else (math.inf, 0)

    def _next_tenant(self) -> str | None | bool:
        """The tenant whose oldest visible message goes next; False when none is visible."""
        now = self.world.clock.now()
        ready = [(top, group) for group in self.visible if (top := self._top(group))[0] <= now]
        quiet = [(top, group) for top, group in ready if group not in self.noisy]
        if quiet:
            return min(quiet, key=lambda q: q[0])[1]
        noisy = [((self.in_flight[group], *top), group) for top, group in ready]
        return min(noisy, key=lambda n: n[0])[1] if noisy else False

    def _next_event(self) -> float:
        pending = [self._top(group)[0] for group in self.visible]
        if self.next_arrival < len(self.arrivals):
            pending.append(self.arrivals[self.next_arrival][0])
        return min(pending, default=math.inf)

    def _stale(self, at: float, seq: int) -> bool:
        message = self.messages.get(seq)
        return message is None or message.visible_at != at

    def _take(self, most: int, hide: float) -> list[dict[str, str]]:
        now = self.world.clock.now()
        self._mark_noisy()
        got: list[dict[str, str]] = []
        again: list[Queued] = []
        while len(got) < most and (group := self._next_tenant()) is not False:
            at, seq = heapq.heappop(self.visible[group])
            message = self.messages[seq]
            message.receives += 1
            if message.receives > MAX_RECEIVES:  # the redrive policy
                self.dlq.append(message.body)
                self._remove(seq)
                continue
            if self.world.rng.random() < P_DUPLICATE:
                again.append(message)  # handed out and left visible: it will be received again
            else:
                self._show(message, now + hide)
            got.append({"MessageId": str(seq), "ReceiptHandle": f"{seq}:{message.receives}", "Body": message.body})
            self.world.handed.append((now, self.ids[seq]))
        for message in again:
            self._show(message, now)
        return got

    def receive_message(
        self,
        *,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int = 0,  # noqa: N803
        VisibilityTimeout: int = 30,
        **_: Any,
    ) -> dict[str, Any]:
        self.world.charge("sqs", "ReceiveMessage")
        self._arrive()
        got = self._take(MaxNumberOfMessages, VisibilityTimeout)
        until = self.world.clock.now() + WaitTimeSeconds
        while not got and self.world.clock.now() < until:  # a long poll: back at the first arrival
            self.world.pause(max(0.001, min(until, self._next_event()) - self.world.clock.now()))
            self._arrive()
            got = self._take(MaxNumberOfMessages, VisibilityTimeout)
        return {"Messages": got} if got else {}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict:  # noqa: N803
        self.world.charge("sqs", "DeleteMessage")
        self._remove(int(ReceiptHandle.partition(":")[0]))
        return {}

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> dict:  # noqa: N803
        self.world.charge("sqs", "ChangeMessageVisibility")
        message = self.messages.get(int(ReceiptHandle.partition(":")[0]))
        if message is not None:
            self._show(message, self.world.clock.now() + VisibilityTimeout)
        return {}

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803
        self.world.charge("sqs", "ChangeMessageVisibilityBatch")
        for entry in Entries:
            message = self.messages.get(int(entry["ReceiptHandle"].partition(":")[0]))
            if message is not None:
                self._show(message, self.world.clock.now() + entry["VisibilityTimeout"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803
        self.world.charge("sqs", "DeleteMessageBatch")
        for entry in Entries:
            self._remove(int(entry["ReceiptHandle"].partition(":")[0]))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


# -- End User Messaging and Lambda -------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsCall:
    started: float
    key: str  # the Context entry the adapter adds: the part's ledger key, "<message id>#<part>"
    outcome: str  # sent | throttled | lost_response (sent) | crash (sent)
    life: int = 0  # the life (LifeClock) that made the call

    @property
    def delivered(self) -> bool:
        return self.outcome != "throttled"


class FakeSmsApi:
    """Stands in for the ``pinpoint-sms-voice-v2`` client: logs every SendTextMessage (the figures'
    only source for sends), enforces the MPS like the service, injects the faults."""

    def __init__(self, world: World, mps: float, crash_at: set[int]) -> None:
        self.world = world
        self.limit = MpsLimit(mps)
        self.crash_at = crash_at  # indices of delivered sends after which the process dies
        self.log: list[SmsCall] = []
        self.delivered = 0

    def send_text_message(self, **request: Any) -> dict[str, str]:
        world = self.world
        started = world.charge("sms", "SendTextMessage", latency=0.0)
        key = request["Context"][KEY_CONTEXT]
        if world.rng.random() < P_THROTTLE or not self.limit.try_acquire(1, started):
            self.log.append(SmsCall(started, key, "throttled", world.clock.life()))
            world.clock.sleep(LATENCY["sms"])
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "rate"}}, "SendTextMessage")
        self.delivered += 1
        if self.delivered in self.crash_at:
            self.log.append(SmsCall(started, key, "crash", world.clock.life()))
            world.clock.sleep(LATENCY["sms"])
            world.dead.add(world.clock.life())
            world.crashed_at = world.clock.now()
            raise Dead
        if world.rng.random() < P_LOST_RESPONSE:
            self.log.append(SmsCall(started, key, "lost_response", world.clock.life()))
            world.pause(READ_TIMEOUT)
            raise ReadTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")
        self.log.append(SmsCall(started, key, "sent", world.clock.life()))
        world.clock.sleep(LATENCY["sms"] * world.rng.uniform(1 - JITTER, 1 + JITTER))
        return {"MessageId": f"sms-{len(self.log)}"}


class FakeLambda:
    """``lambda.invoke`` of the drainer's own function (its successor): started ``START_DELAY`` later."""

    def __init__(self, world: World) -> None:
        self.world = world

    def invoke(self, **request: Any) -> dict[str, int]:
        self.world.charge("lambda", "Invoke")
        self.world.start_life(self.world.clock.now() + START_DELAY, "handoff")
        return {"StatusCode": 202}


# -- the workload ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    at: float
    message: OutboundMessage
    number: str


def _body(rng: random.Random, parts: int) -> str:
    ucs2 = rng.random() < 0.4
    words, per_part = (_WORDS_UCS2, 67) if ucs2 else (_WORDS_GSM, 153)
    length = rng.randint(max(10, (parts - 1) * per_part + 5), parts * per_part - 2)
    text = ""
    while len(text) < length:
        text += rng.choice(words) + " "
    body = text[:length].strip()
    return "ê " + body if ucs2 and body.isascii() else body


def workload(rng: random.Random, total_parts: int, mps: float) -> list[Planned]:
    """Messages adding up to exactly ``total_parts`` (see the module docstring)."""
    numbers = [f"+1819{rng.randint(2_000_000, 9_999_999)}" for _ in range(RESIDENTS)]
    window = 0.8 * total_parts / mps
    planned: list[Planned] = []
    parts = 0
    while parts < total_parts:
        left, n = total_parts - parts, len(planned) + 1
        roll = rng.random()
        if roll < STOP_SHARE:
            kind, city, body, at = Kind.KEYWORD, None, STOP_BODY, rng.uniform(0, window)
        elif parts < FLOOD_SHARE * total_parts:
            kind, city, at = Kind.AGENT, FLOOD_CITY, 0.0
            body = _body(rng, min(left, rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]))
        else:
            kind, city, body, at = Kind.AGENT, rng.choice(SMALL_CITIES), _body(rng, 1), rng.uniform(0, window)
        message = OutboundMessage.create(
            id=f"m{n:05d}",
            identity=FUNCTIONS_ENVIRONMENT["SMS_ORIGINATION_IDENTITY"],
            city=city,
            kind=kind,
            destination="",
            body=body,
            enqueued_at=at,
        )
        if message.parts > left:
            continue
        parts += message.parts
        planned.append(Planned(at, message, rng.choice(numbers)))
    return planned


# -- one run ---------------------------------------------------------------------------------------------------


@dataclass
class Run:
    mps: float
    crashes: int
    planned: list[Planned]
    log: list[SmsCall]
    ledger: dict[str, str]  # part key → state, read from the table at the end
    calls: Counter[str]
    lives: int
    skipped_ticks: int
    crashed: int
    end: float
    cpu: float
    claims: list[tuple[float, str]] = field(default_factory=list)  # the ledger's claims (World.claims)
    handed: list[tuple[float, str]] = field(default_factory=list)  # SQS's hand-outs (World.handed)
    starts: list[float] = field(default_factory=list)  # when each life took the lease (World.leases)


def run(planned: list[Planned], mps: float, crashes: int, seed: int, idle_for: float | None = None) -> Run:
    """One drain of ``planned`` (or, with ``idle_for``, that many seconds of an empty queue)."""
    started_cpu = time.process_time()
    world = World(random.Random(seed), idle_until=idle_for)
    total_parts = sum(p.message.parts for p in planned)
    crash_rng = random.Random(seed + 1)
    crash_at = {crash_rng.randint(int(0.1 * total_parts), int(0.9 * total_parts)) for _ in range(crashes)}
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()) as sink:
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key(Description="text311 phones")["KeyMetadata"]["KeyId"]
        os.environ.update({"PHONE_KEY_ID": key_id, "OUTBOUND_QUEUE_URL": QUEUE_URL, "SMS_MPS": f"{mps:g}"})
        services.reset()
        services.tables_bound()
        from text311.adapters.dynamodb import create_tables

        create_tables()
        vault = PhoneVault(kms, key_id, hash_key=b"bench")
        sealed: dict[str, str] = {}
        arrivals = []
        for p in planned:  # the producers' side: sealed and queued, not charged to the drainer
            if p.number not in sealed:
                sealed[p.number] = vault.encrypt(p.number)
            message = OutboundMessage.create(
                id=p.message.id,
                identity=p.message.identity,
                city=p.message.city,
                kind=p.message.kind,
                destination=sealed[p.number],
                body=p.message.body,
                enqueued_at=p.at,
            )
            arrivals.append((p.at, queue_entry(message)))

        real = services.clients()
        wrapped = services.Clients(
            dynamodb=Latent(world, "dynamodb", real.dynamodb),
            kms=Latent(world, "kms", real.kms),
            secrets=None,
            sesv2=None,
            sms=None,
            s3=None,
        )
        sqs = FakeSqs(world, arrivals)
        sms = FakeSmsApi(world, mps, crash_at)
        line = services.sms_sender_over(sms, max_attempts=1, durable_parts=False)  # as services.sms_line
        originals = {name: getattr(services, name) for name in ("clients", "sqs_client", "sms_line")}
        services.clients = lambda: wrapped  # type: ignore[assignment]
        services.sqs_client = lambda: sqs  # type: ignore[assignment]
        services.sms_line = lambda: line  # type: ignore[assignment]
        # The chain is running when the burst arrives (an always-on drainer), then the ticks and hand-offs.
        world.woken = world.clock.condition()
        world.start_life(0.0, "running")
        invoker = FakeLambda(world)
        next_tick = world.rng.uniform(0, TICK)
        counts = Counter[str]()
        errors: list[Exception] = []

        def life(n: int, kind: str, replacing: str | None) -> None:
            world.clock.run_as(n)
            drainer = services.drainer_with(
                world.clock, long_poll=True, max_idle=math.inf, successor=Successor(invoker, FUNCTION),
                wall=world.clock.now,
            )
            deadline = world.clock.now() + LIFE
            try:
                report = drainer.drain(
                    lambda: deadline - world.clock.now(), wait_for_lease=kind == "failure",
                    invocation=f"life-{n}", replacing=replacing,
                )
                counts["skipped"] += not report.lease_held
            except Dead:
                counts["crashed"] += 1
                # Lambda's on-failure destination (the drainer itself) starts the next life, with the
                # failed invocation's record (its request id).
                world.start_life(world.crashed_at + START_DELAY, "failure", replacing=f"life-{n}")
            except Finished:
                pass
            except Exception as exc:  # noqa: BLE001 - a bug of the code under test: raised after the run
                errors.append(exc)

        try:  # this fiber starts the lives, each on fibers of its own, at their instants
            limit = 50 * (total_parts or 1) / mps + 3600
            while not world.finished and world.clock.now() < limit:
                if world.starts and world.starts[0][0] <= next_tick:
                    at, _, kind, replacing = world.starts[0]
                else:
                    at, kind, replacing = next_tick, "tick", None
                if at > world.clock.now():
                    world.woken.wait(at - world.clock.now())  # a start sooner may come meanwhile
                    continue
                if kind == "tick":
                    next_tick += TICK
                else:
                    heapq.heappop(world.starts)
                world.lives.append(world.clock.now())
                n = len(world.lives)
                world.clock.spawn(lambda n=n, kind=kind, dead=replacing: life(n, kind, dead), f"life-{n}")
                world.clock.sleep(0.0)  # it runs now (its fibers are the world's until this one wakes)
        finally:
            for name, factory in originals.items():
                setattr(services, name, factory)
            services.reset()
        if errors:
            raise errors[0]
        # (a life still running when the last part went never returns: the lives are the leases taken)
        lives, skipped, crashed = len(world.leases), counts["skipped"], counts["crashed"]
        world.charging = False
        table = boto3.client("dynamodb", region_name=REGION)
        ledger: dict[str, str] = {}
        for page in table.get_paginator("scan").paginate(TableName=FUNCTIONS_ENVIRONMENT["IDEMPOTENCY_TABLE"]):
            for item in page["Items"]:
                if item["id"]["S"].startswith("outbound#"):
                    ledger[item["id"]["S"].removeprefix("outbound#")] = item["state"]["S"]
        del sink
    return Run(
        mps,
        crashes,
        planned,
        sms.log,
        ledger,
        world.calls,
        lives,
        skipped,
        crashed,
        world.clock.now(),
        time.process_time() - started_cpu,
        world.claims,
        world.handed,
        world.leases,
    )


# -- figures ---------------------------------------------------------------------------------------------------


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


def figures(r: Run) -> dict[str, str]:
    parts = sum(p.message.parts for p in r.planned)
    delivered = Counter(c.key for c in r.log if c.delivered)
    first_send: dict[str, float] = {}
    for call in r.log:
        if call.delivered:
            first_send.setdefault(call.key.rpartition("#")[0], call.started)
    told = {key.rpartition("#")[0] for key, state in r.ledger.items() if state in {"failed", "in_doubt"}}
    in_doubt = {key.rpartition("#")[0] for key, state in r.ledger.items() if state == "in_doubt"}
    lost = sum(
        1
        for p in r.planned
        if any(delivered[f"{p.message.id}#{i}"] == 0 for i in range(1, p.message.parts + 1))
        and p.message.id not in told
    )
    sent_starts = sorted(c.started for c in r.log if c.delivered)
    all_starts = sorted(c.started for c in r.log)
    drain = (sent_starts[-1] + 1 / r.mps) if sent_starts else math.inf

    def waits(match: Callable[[Planned], bool]) -> list[float]:
        return [first_send[p.message.id] - p.at for p in r.planned if match(p) and p.message.id in first_send]

    stops = waits(lambda p: p.message.kind is Kind.KEYWORD)
    small = waits(lambda p: p.message.city in SMALL_CITIES)
    flood_ids = {p.message.id for p in r.planned if p.message.city == FLOOD_CITY}
    flood_starts = sorted(c.started for c in r.log if c.delivered and c.key.rpartition("#")[0] in flood_ids)
    flood_ahead = [
        bisect.bisect_left(flood_starts, first_send[p.message.id]) - bisect.bisect_left(flood_starts, p.at)
        for p in r.planned
        if p.message.city in SMALL_CITIES and p.message.id in first_send
    ]
    chosen = flood_chosen_ahead(r, flood_ids, first_send)
    chosen_ahead = [flood for flood, _ in chosen]
    beyond = max((max(0, flood - QUANTUM * (1 + own // QUANTUM)) for flood, own in chosen), default=0)
    calls = sum(r.calls.values())
    writes = sum(n for op, n in r.calls.items() if op in WRITES)
    return {
        "MPS": f"{r.mps:g}",
        "crashes": f"{r.crashed}",
        "drain / limit": f"{drain:,.0f} s / {parts / r.mps:,.0f} s = {drain / (parts / r.mps):.2f}",
        "max sends/s ÷ MPS (all calls)": (
            f"{max_in_window(sent_starts) / r.mps:.2f} ({max_in_window(all_starts) / r.mps:.2f})"
        ),
        "lost": f"{lost}",
        "twice": f"{sum(n - 1 for n in delivered.values() if n > 1)}",
        "in doubt": f"{len(in_doubt)}",
        "STOP max / p95": f"{max(stops, default=0):,.1f} s / {_p95(stops):,.1f} s",
        "small city max": f"{max(small, default=0):,.1f} s",
        "flood parts ahead max / p95": f"{max(flood_ahead, default=0)} / {_p95([float(n) for n in flood_ahead]):.0f}",
        "flood parts chosen ahead max / p95 (beyond fair share)": (
            f"{max(chosen_ahead, default=0)} / {_p95([float(n) for n in chosen_ahead]):.0f} ({beyond})"
        ),
        "calls/part": f"{calls / max(1, len(sent_starts)):.2f}",
        "DynamoDB writes/part": f"{writes / max(1, len(sent_starts)):.2f}",
        "lives": f"{r.lives}",
        "cpu": f"{r.cpu:.0f} s",
    }


def flood_chosen_ahead(r: Run, flood_ids: set[str], first_send: dict[str, float]) -> list[tuple[int, int]]:
    """For each small city's message sent: the flood's parts the drainer chose after it had received
    that message and before it chose that message (DRR's promise: at most one quantum), and its own
    city's parts chosen meanwhile (a city with a backlog of its own: one flood visit per quantum of
    those is its fair share). From the
    fakes' logs: SQS's hand-outs (the first one to the life that sent it, after that life's start: a
    life knows nothing of what its predecessor held; a duplicate delivery later changes nothing)
    and the ledger's claims (a part is
    claimed the moment it is chosen; a part counts once, at its first claim, so a throttled part's
    retry is not counted again)."""
    first_claim: dict[str, float] = {}
    for at, key in r.claims:
        first_claim.setdefault(key, at)
    flood_claims = sorted(at for key, at in first_claim.items() if key.rpartition("#")[0] in flood_ids)
    cities = {p.message.id: p.message.city for p in r.planned}
    claims_by_city: dict[int | None, list[float]] = {}
    for key, at in first_claim.items():
        claims_by_city.setdefault(cities.get(key.rpartition("#")[0]), []).append(at)
    for times in claims_by_city.values():
        times.sort()
    handed: dict[str, list[float]] = {}
    for at, message_id in r.handed:
        handed.setdefault(message_id, []).append(at)
    claims_of: dict[str, list[float]] = {}
    for at, key in r.claims:
        if key.endswith("#1"):
            claims_of.setdefault(key[:-2], []).append(at)
    ahead = []
    for p in r.planned:
        message_id = p.message.id
        if p.message.city not in SMALL_CITIES or message_id not in first_send:
            continue
        chosen = max(at for at in claims_of[message_id] if at <= first_send[message_id])
        life_began = max((at for at in r.starts if at <= chosen), default=-math.inf)
        received = min(at for at in handed[message_id] if life_began < at <= chosen)
        mine = claims_by_city[p.message.city]
        own = bisect.bisect_left(mine, chosen) - bisect.bisect_right(mine, received)
        ahead.append((bisect.bisect_left(flood_claims, chosen) - bisect.bisect_right(flood_claims, received), own))
    return ahead


def explain(r: Run) -> str:
    """The calls that started while the longest STOP wait and the longest small-city wait lasted,
    counted by what they sent (class and city) and how they ended: where such a wait comes from."""
    by_id = {p.message.id: p for p in r.planned}
    first_send: dict[str, float] = {}
    for call in r.log:
        if call.delivered:
            first_send.setdefault(call.key.rpartition("#")[0], call.started)

    def label(p: Planned) -> str:
        if p.message.kind is Kind.KEYWORD:
            return "STOP"
        return "flood" if p.message.city == FLOOD_CITY else f"small {p.message.city}"

    def flood_ahead(p: Planned) -> int:
        return sum(
            1
            for c in r.log
            if c.delivered
            and p.at <= c.started < first_send[p.message.id]
            and label(by_id[c.key.rpartition("#")[0]]) == "flood"
        )

    lines = []
    small = [p for p in r.planned if p.message.city in SMALL_CITIES and p.message.id in first_send]
    if small:  # the answer with the most flood parts ahead of it: what went on the line meanwhile, in order
        most = max(small, key=flood_ahead)
        lines.append(
            f"  most flood parts ahead: {flood_ahead(most)} ({most.message.id}, arrived {most.at:.2f} s): "
            + " ".join(
                f"{label(by_id[c.key.rpartition('#')[0]]).replace(' ', '')}:{c.key}"
                for c in r.log
                if most.at <= c.started <= first_send[most.message.id]
            )[:1200]
        )
    for name, match in (
        ("STOP", lambda p: p.message.kind is Kind.KEYWORD),
        ("small city", lambda p: p.message.city in SMALL_CITIES),
    ):
        waits = [(first_send[p.message.id] - p.at, p) for p in r.planned if match(p) and p.message.id in first_send]
        if not waits:
            continue
        wait, worst = max(waits, key=lambda w: w[0])
        ahead = Counter(
            f"{label(by_id[c.key.rpartition('#')[0]])}/{c.outcome}"
            for c in r.log
            if worst.at <= c.started < worst.at + wait
        )
        lines.append(
            f"  longest {name} wait {wait:.2f} s ({worst.message.id}, arrived {worst.at:.2f} s); "
            "calls started meanwhile: " + ", ".join(f"{k} {n}" for k, n in sorted(ahead.items()))
        )
    return "\n".join(lines)


def idle_hour(seed: int, mps: float) -> Counter[str]:
    """The AWS calls of one hour with nothing to send (the drainer waits for the first message)."""
    return run([], mps, 0, seed, idle_for=3600.0).calls


def table(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--parts", type=int, default=10_000)
    parser.add_argument(
        "--parts-at-1",
        type=int,
        default=2_000,
        help="parts at 1 MPS (10,000 would take 2.8 simulated hours and most of the CPU)",
    )
    parser.add_argument("--mps", default="1,3,100", help="comma-separated speeds")
    parser.add_argument("--crashes", type=int, default=3, help="crashes in each run of the crash rows")
    parser.add_argument(
        "--rows",
        choices=("both", "calm", "crash"),
        default="both",
        help="the rows of each speed: without a crash, with crashes, or both",
    )
    parser.add_argument("--no-idle", action="store_true", help="skip the idle hour")
    parser.add_argument("--calls", action="store_true", help="also print the calls by operation")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print what went on the line while the longest STOP and small-city waits lasted",
    )
    args = parser.parse_args(argv)
    rows = []
    crash_counts = {"both": (0, args.crashes), "calm": (0,), "crash": (args.crashes,)}[args.rows]
    for mps in (float(m) for m in args.mps.split(",")):
        parts = args.parts_at_1 if mps == 1 else args.parts
        planned = workload(random.Random(args.seed), parts, mps)
        for crashes in crash_counts:
            result = run(planned, mps, crashes, args.seed)
            rows.append(figures(result))
            print(f"  {mps:g} MPS, {crashes} crashes: done ({rows[-1]['cpu']} CPU)", file=sys.stderr)
            if args.calls:
                parts = max(1, sum(1 for c in result.log if c.delivered))
                print(
                    "  " + ", ".join(f"{op} {n / parts:.3f}" for op, n in sorted(result.calls.items())), file=sys.stderr
                )
            if args.explain:
                print(explain(result), file=sys.stderr)
    print(
        f"Outbound SMS on the production composition: seed {args.seed}, {args.parts:,} parts per run "
        f"({args.parts_at_1:,} at 1 MPS), latency and faults injected (bench/outbound.py docstring)"
    )
    print(table(rows))
    if args.no_idle:
        return 0
    idle = idle_hour(args.seed, float(args.mps.split(",")[0]))
    print(
        f"An idle hour: {sum(idle.values()):,} AWS calls, "
        f"{sum(n for op, n in idle.items() if op in WRITES):,} DynamoDB writes ("
        + ", ".join(f"{op} {n:,}" for op, n in sorted(idle.items()))
        + ")"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
