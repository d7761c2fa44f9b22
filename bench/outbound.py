"""Outbound SMS pacing bench (issue 12): the paced scheduler beside a naive sender, simulated clock.

    .venv/bin/python bench/outbound.py [--seed N] [--parts N]

For each identity speed (1, 3 and 100 MPS): a burst of 10,000 message parts (GSM-7 and UCS-2,
1 to 4 parts, three cities at 60/30/10 % of the volume), queued at t=0, with STOP confirmations
(1 part) arriving while the burst drains. The simulated End User Messaging service enforces the MPS
itself (a call above the rate is a ThrottlingException, as in the real service) and also injects:

- spurious ThrottlingExceptions on 1 % of calls, whatever the rate;
- a lost response on 0.1 % of accepted calls (accepted, then a read timeout at the client);
- queue redelivery: 1 % of messages are delivered twice by the queue (SQS is at least once);
- opted-out destinations on 0.5 % of messages (a permanent ConflictException).

Senders:

- ``paced``: :class:`text311.outbound.OutboundScheduler` (one drainer, pacing, priority, DRR, ledger);
- ``naive``: 10 concurrent workers (Lambdas on an SQS event source) taking messages in queue order
  and calling SendTextMessage directly with botocore's standard retries (3 attempts, full-jitter
  exponential backoff); a message still throttled goes back to the queue for 30 s and to the DLQ
  (lost) after 5 receives; a read timeout is retried like botocore does. Permanent errors are
  recorded, not retried (the naive sender is not careless, only unpaced).

The paced sender sends each part of a message as its own call (idempotency key ``<id>#<part>``);
the naive one sends a message in one call, whose parts the carrier puts on the line 1/MPS apart.

Figures: drain = end of the last part on the line; limit = total parts ÷ MPS; max 1-s rate = most
part-slots in any sliding second (part i of a call accepted at t is on the line at t + i/MPS),
÷ MPS; lost = not every part sent and not recorded as failed or in doubt; dup = extra sends of one
key (a part, or a whole message for the naive sender); STOP wait = from the confirmation's arrival
to its acceptance; quiet city = when the 10 % city's last message was through, as a fraction of the
drain. Nothing sleeps: the whole run takes seconds.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from botocore.exceptions import ClientError, ReadTimeoutError

from text311.outbound import (
    FailureReason,
    FakeClock,
    InMemoryLedger,
    Kind,
    MpsLimit,
    OutboundMessage,
    OutboundScheduler,
    count_parts,
)
from text311.outbound.pacing import EPSILON, max_in_window, part_slots

CITIES = {6077243: 0.6, 5959974: 0.3, 6127749: 0.1}  # Montréal, Gatineau, Rimouski: busy → quiet
QUIET_CITY = 6127749
IDENTITY = "+15145550100"
P_THROTTLE = 0.01
P_LOST_RESPONSE = 0.001
P_REDELIVERY = 0.01
P_OPTED_OUT = 0.005
STOP_SHARE = 0.02  # of messages
LATENCY = 0.05  # seconds per API call (the naive workers wait for it; the drainer's pace absorbs it)

_WORDS_GSM = ("the crew will clear your street today; the pothole on Main is on the list, ticket 4521 "
              "thanks for your patience after the storm power is back in your area water main repaired "
              "garbage pickup moves to Thursday call 311 for anything else").split()
_WORDS_UCS2 = ("l'équipe dégagera votre rue aujourd'hui; le nid-de-poule est noté, dossier 4521 — "
               "merci de votre patience après la tempête, l'électricité est rétablie, la conduite d'eau "
               "réparée, collecte des ordures déplacée à jeudi; appelez le 311 pour tout le reste « ça "
               "ira » où être forêt hôtel").split()


# -- the workload ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: float
    message: OutboundMessage


def _body(rng: random.Random, ucs2: bool, target_parts: int) -> str:
    words = _WORDS_UCS2 if ucs2 else _WORDS_GSM
    per_part = 67 if ucs2 else 153
    length = rng.randint(max(10, (target_parts - 1) * per_part + 5), target_parts * per_part - 2)
    text = ""
    while len(text) < length:
        text += rng.choice(words) + " "
    body = text[:length].strip()
    if ucs2 and all(c.isascii() for c in body):
        body = "ê " + body
    return body


def workload(rng: random.Random, total_parts: int, mps: float) -> tuple[list[Arrival], dict[str, OutboundMessage]]:
    """Messages adding up to exactly ``total_parts``: the burst at t=0, STOPs during the drain."""
    limit = total_parts / mps
    arrivals: list[Arrival] = []
    parts = 0
    n = 0
    cities, weights = list(CITIES), list(CITIES.values())
    while parts < total_parts:
        n += 1
        left = total_parts - parts
        stop = rng.random() < STOP_SHARE
        if stop:
            body, kind, city = "Vous êtes désabonné de Text311. Répondez START pour revenir.", Kind.KEYWORD, None
            if count_parts(body) > left:
                continue
        else:
            want = min(left, rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0])
            body = _body(rng, ucs2=rng.random() < 0.4, target_parts=want)
            if count_parts(body) > left:
                body = "Merci." if left >= 1 else body
            kind = Kind.AGENT if rng.random() < 0.9 else Kind.DIALOG
            city = rng.choices(cities, weights)[0]
        opted_out = rng.random() < P_OPTED_OUT
        message = OutboundMessage.create(
            id=f"m{n:05d}", identity=IDENTITY, city=city, kind=kind,
            destination=f"+1514555{'9' if opted_out else '0'}{n:03d}"[:12], body=body, enqueued_at=0.0,
        )
        parts += message.parts
        at = rng.uniform(0.05, 0.6) * limit if stop else 0.0
        arrivals.append(Arrival(at, message))
    messages = {a.message.id: a.message for a in arrivals}
    for a in list(arrivals):  # the queue delivers some messages twice
        if rng.random() < P_REDELIVERY:
            arrivals.append(Arrival(a.at + rng.uniform(0, 0.8) * limit, a.message))
    arrivals.sort(key=lambda a: a.at)
    return arrivals, messages


# -- the simulated service ---------------------------------------------------------------------------


def _error(code: str, reason: str | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": code}}
    if reason:
        response["Reason"] = reason
    return ClientError(response, "SendTextMessage")


@dataclass
class SimService:
    mps: float
    rng: random.Random
    clock: FakeClock
    accepted: list[tuple[float, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.limit = MpsLimit(self.mps)

    def call(self, destination: str, message_id: str, body: str) -> str:
        now = self.clock.now()
        if destination[8] == "9":  # the opted-out numbers of the workload
            raise _error("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")
        parts = count_parts(body)
        if self.rng.random() < P_THROTTLE or not self.limit.try_acquire(parts, now):
            raise _error("ThrottlingException")
        self.accepted.append((now, message_id, parts))
        if self.rng.random() < P_LOST_RESPONSE:
            raise ReadTimeoutError(endpoint_url="https://sms-voice.ca-central-1.amazonaws.com")
        return f"sms-{len(self.accepted)}"


@dataclass(frozen=True)
class _Result:
    message_id: str


class SimSender:
    def __init__(self, service: SimService) -> None:
        self.service = service

    def send(self, destination: str, body: str, *, idempotency_key: str, context: dict) -> _Result:
        return _Result(self.service.call(destination, idempotency_key, body))


# -- the paced sender ------------------------------------------------------------------------------------


class SimSource:
    """The identity's queue on the simulated clock: ``receive(wait)`` is a long poll."""

    def __init__(self, clock: FakeClock, arrivals: list[Arrival]) -> None:
        self.clock = clock
        self._heap = [(a.at, i, a.message) for i, a in enumerate(arrivals)]
        heapq.heapify(self._heap)
        self._seq = len(arrivals)

    def empty(self) -> bool:
        return not self._heap

    def receive(self, wait: float) -> list[OutboundMessage]:
        now = self.clock.now()
        if not self._heap or self._heap[0][0] > now + wait + EPSILON:
            self.clock.sleep(wait)
            return []
        self.clock.set(self._heap[0][0])
        got = []
        while self._heap and self._heap[0][0] <= self.clock.now() + EPSILON:
            got.append(heapq.heappop(self._heap)[2])
        return got

    def ack(self, message: OutboundMessage) -> None:
        pass

    def abandon(self, message: OutboundMessage, delay: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (self.clock.now() + delay, self._seq, message))


@dataclass
class Run:
    sender: str
    mps: float
    accepted: list[tuple[float, str, int]]
    failed: set[str]
    in_doubt: set[str]
    messages: dict[str, OutboundMessage]
    arrivals: list[Arrival]


def run_paced(mps: float, arrivals: list[Arrival], messages: dict[str, OutboundMessage], seed: int) -> Run:
    clock = FakeClock()
    service = SimService(mps, random.Random(seed + 1), clock)
    failed: set[str] = set()
    in_doubt: set[str] = set()

    def on_failed(message: OutboundMessage, reason: FailureReason) -> None:
        (in_doubt if reason is FailureReason.IN_DOUBT else failed).add(message.id)

    scheduler = OutboundScheduler(IDENTITY, mps, SimSender(service), InMemoryLedger(), clock, on_failed=on_failed)
    source = SimSource(clock, arrivals)
    scheduler.run(source, should_stop=lambda: source.empty() and not scheduler.queue)
    return Run("paced", mps, service.accepted, failed, in_doubt, messages, arrivals)


# -- the naive sender ----------------------------------------------------------------------------------


def run_naive(mps: float, arrivals: list[Arrival], messages: dict[str, OutboundMessage], seed: int,
              workers: int = 10, visibility: float = 30.0, max_receives: int = 5, attempts: int = 3) -> Run:
    clock = FakeClock()
    rng = random.Random(seed + 2)
    service = SimService(mps, random.Random(seed + 1), clock)
    failed: set[str] = set()
    visible: list[tuple[float, int, OutboundMessage, int]] = [(a.at, i, a.message, 0) for i, a in enumerate(arrivals)]
    heapq.heapify(visible)  # SQS standard, roughly in arrival order
    seq = len(visible)

    def worker() -> Iterator[float]:
        nonlocal seq
        while visible:
            at, _, message, receives = visible[0]
            if at > clock.now() + EPSILON:
                yield at - clock.now()
                continue
            heapq.heappop(visible)
            receives += 1
            done = False
            for attempt in range(attempts):
                try:
                    service.call(message.destination, message.id, message.body)
                    done = True
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ThrottlingException":
                        failed.add(message.id)
                        done = True
                except ReadTimeoutError:
                    pass  # botocore retries a read timeout: the service may already have it
                yield LATENCY
                if done:
                    break
                if attempt + 1 < attempts:
                    yield rng.random() * min(20.0, 2.0**attempt)
            if not done and receives < max_receives:
                seq += 1
                heapq.heappush(visible, (clock.now() + visibility, seq, message, receives))

    events: list[tuple[float, int, Iterator[float]]] = []
    for w in range(workers):
        events.append((0.0, w, worker()))
    heapq.heapify(events)
    while events:
        at, w, gen = heapq.heappop(events)
        clock.set(at)
        try:
            heapq.heappush(events, (clock.now() + max(next(gen), 1e-6), w, gen))
        except StopIteration:
            pass
    return Run("naive", mps, service.accepted, failed, set(), messages, arrivals)


# -- figures ---------------------------------------------------------------------------------------


def _message_id(key: str) -> str:
    return key.split("#", 1)[0]  # "<id>#<part>" (paced) or "<id>" (naive)


def figures(run: Run, total_parts: int) -> dict[str, str]:
    sends = Counter(key for _, key, _ in run.accepted)
    first_accept: dict[str, float] = {}
    done_at: dict[str, float] = {}
    parts_out: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for at, key, parts in sorted(run.accepted):
        mid = _message_id(key)
        first_accept.setdefault(mid, at)
        if key not in seen:  # a key accepted twice (a duplicate) puts its parts out once
            seen.add(key)
            parts_out[mid] += parts
        if parts_out[mid] >= run.messages[mid].parts:
            done_at.setdefault(mid, at)  # every part of the message is out
    drain = max(at + parts / run.mps for at, _, parts in run.accepted)
    limit = total_parts / run.mps
    peak = max_in_window(part_slots(((at, parts) for at, _, parts in run.accepted), run.mps))
    lost = [mid for mid in run.messages
            if parts_out[mid] < run.messages[mid].parts and mid not in run.failed and mid not in run.in_doubt]
    dup = sum(n - 1 for n in sends.values())
    arrival_of: dict[str, float] = {}
    for a in run.arrivals:
        arrival_of.setdefault(a.message.id, a.at)
    stops = sorted((arrival_of[mid], mid) for mid, m in run.messages.items() if m.kind is Kind.KEYWORD)
    waits = [first_accept[mid] - at for at, mid in stops if mid in first_accept]
    first_stop = next((first_accept[mid] - at for at, mid in stops if mid in first_accept), float("nan"))
    quiet = [done_at[mid] for mid, m in run.messages.items() if m.city == QUIET_CITY and mid in done_at]
    by_city: dict[int, int] = defaultdict(int)
    for at, key, parts in run.accepted:  # share of the line in the first tenth of the limit
        if at < limit / 10:
            by_city[run.messages[_message_id(key)].city] += parts
    early = sum(by_city[c] for c in CITIES) or 1
    return {
        "sender": run.sender,
        "MPS": f"{run.mps:g}",
        "drain / limit": f"{drain:,.0f} s / {limit:,.0f} s = {drain / limit:.3f}",
        "max 1-s rate / MPS": f"{peak / run.mps:.2f}",
        "lost": str(len(lost)),
        "dup": str(dup),
        "failed (told)": str(len(run.failed)),
        "in doubt (told)": str(len(run.in_doubt)),
        "1st STOP wait": f"{first_stop:,.1f} s",
        "max STOP wait": f"{max(waits):,.1f} s" if waits else "-",
        "quiet city done": f"{max(quiet) / drain:.2f}" if quiet else "-",
        "early share 60/30/10": "/".join(f"{100 * by_city[c] / early:.0f}" for c in CITIES),
    }


def table(rows: list[dict[str, str]]) -> str:
    heads = list(rows[0])
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    lines += ["| " + " | ".join(row[h] for h in heads) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--parts", type=int, default=10_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    stops: list[str] = []
    ok = True
    for mps in (1, 3, 100):
        arrivals, messages = workload(random.Random(args.seed), args.parts, mps)
        paced = figures(run_paced(mps, arrivals, messages, args.seed), args.parts)
        naive = figures(run_naive(mps, arrivals, messages, args.seed), args.parts)
        rows += [paced, naive]
        ratio = float(paced["drain / limit"].rsplit("=", 1)[1])
        ok &= ratio <= 1.05 and float(paced["max 1-s rate / MPS"]) <= 1.0
        ok &= paced["lost"] == "0" and paced["dup"] == "0"
        stop_wait = float(paced["max STOP wait"].removesuffix(" s").replace(",", ""))
        stops.append(f"{mps} MPS: {'met' if stop_wait <= 2.0 else 'NOT MET'} (max {stop_wait:.2f} s; "
                     f"the part on the line takes 1 ÷ {mps} MPS = {1 / mps:.2f} s)")
    print(f"{args.parts:,} parts per burst ({len(messages):,} messages), seed {args.seed}; injected: "
          f"{P_THROTTLE:.0%} spurious throttles, {P_LOST_RESPONSE:.1%} lost responses, "
          f"{P_REDELIVERY:.0%} queue redeliveries, {P_OPTED_OUT:.1%} opted out\n")
    print(table(rows))
    print(f"\ntargets (paced): drain ≤ 1.05 × limit, max 1-s rate ≤ MPS, 0 lost, 0 dup: {'met' if ok else 'NOT MET'}"
          f"  ({time.perf_counter() - started:.1f} s real time)")
    print("STOP within 2 s (paced, every STOP): " + "; ".join(stops))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
