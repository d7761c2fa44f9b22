"""AWS calls and CPU per request (issue 9): the real handlers, in process, against moto.

    .venv/bin/python bench/throughput.py [--residents N] [--texts N]

Each resident (a fresh number) texts the city in a warm container: a first text (the resident is
asked where they are), the city's name (a conversation opens and the held text is mailed), then
``--texts`` texts in that existing conversation; then an agent answers the thread by email
(inbound_email with an SES receipt event; the raw mail is put in S3 beforehand, not counted).
A first resident warms the container and is not measured.

Calls: every botocore client gets a ``before-call`` hook (``tests/aws_calls.py``), so pynamodb's
calls count too. End User Messaging has no moto backend: the handler tests' fake sender stands in
and each send counts as one ``pinpoint-sms-voice-v2.SendTextMessage``. CPU: process time around the
handler call; "ours" leaves out the time inside botocore's round trip (moto's side, serialisation and
parsing included), so it is an upper bound on the handler's own work. Medians over all measured
requests. Each resident also floods: the limit (20) and two more texts in one minute from a fresh
number; the two held texts are measured (the first of them sends the notice).
Target: at most 6 AWS calls for a text in an existing conversation.

Outbound SMS (issue 12) go through the identity's queue: a producer that texts (a dialog reply, an
agent's answer) pays ``sqs.SendMessage`` and a ``kms.Encrypt`` (the number is sealed for the queue);
the drainer pays the rest. The second table is the drainer's side, on a simulated clock at the
configured MPS (1): "dialog reply" and "agent answer" are what one queued message adds to a
drainer's life (the empty life's calls subtracted: ledger claim and record, the unsealing, the send,
the delete, and for an answer the record and assignment callbacks); "life, empty" is what every
life costs (lease, status, one poll); "idle hour" is an always-on drainer with nothing to send for
an hour (long polls every 20 s, lease renewal every 4 s, status every 60 s). The time-based calls
(renewal, status) are left out of the per-message columns and counted in the idle hour.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import os
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "layers" / "core" / "python")]

from environment import FUNCTIONS_ENVIRONMENT  # noqa: E402 - tests/ is on the path from here on

# A deployed function's environment (as the tests' aws_env), with fake credentials.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ca-central-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Text311",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    **FUNCTIONS_ENVIRONMENT,
}
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(ENVIRONMENT)

import boto3  # noqa: E402
import pytest  # noqa: E402
from aws_calls import CallCounter, counting  # noqa: E402
from aws_events import inbound_sms_event, ses_receipt, two_way_sms  # noqa: E402
from harness import OUR_NUMBER, RAW_MAIL_BUCKET, REGION, LambdaContext, sent_mails, setup_region  # noqa: E402
from moto import mock_aws  # noqa: E402

SCENARIOS = (
    "SMS: first text (asked)",
    "SMS: opens a conversation",
    "SMS: existing conversation",
    "agent answer",
    "SMS: held (flood)",
)
DRAINER = ("drainer: dialog reply", "drainer: agent answer", "drainer: life, empty", "drainer: idle hour")
FLOOD_LIMIT = 20  # FLOOD_LIMIT_PER_MINUTE's default
TARGET_EXISTING = 6
AGENT = "marie.tremblay@gatineau.example.ca"


class Measured:
    def __init__(self) -> None:
        self.calls: dict[str, list[Counter[str]]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.ours: dict[str, list[float]] = defaultdict(list)

        self.life: tuple[Counter[str], float, float] | None = None  # an empty drainer life: calls, cpu, ours

    def run(self, scenario: str, counter: CallCounter, action: Callable[[], Any], *, marginal: bool = False) -> Any:
        """Measure ``action``; ``marginal``: less what an empty drainer life costs (``self.life``)."""
        counter.reset()
        started = time.process_time()
        result = action()
        cpu = time.process_time() - started
        calls, ours = Counter(counter.calls), cpu - counter.inside_calls
        if marginal and self.life is not None:
            calls, cpu, ours = calls - self.life[0], cpu - self.life[1], ours - self.life[2]
        self.calls[scenario].append(calls)
        self.cpu[scenario].append(cpu * 1000)
        self.ours[scenario].append(ours * 1000)
        return result

    def measure_life(self, counter: CallCounter) -> None:
        self.run(DRAINER[2], counter, drainer_life())
        self.life = (self.calls[DRAINER[2]][-1], self.cpu[DRAINER[2]][-1] / 1000, self.ours[DRAINER[2]][-1] / 1000)


def drainer_life(seconds: float = 600.0, *, idle: bool = False) -> Callable[[], Any]:
    """One drainer life on a simulated clock, as the harness builds it. It ends when the queue is
    empty, or (``idle``) stays ``seconds`` like the deployed one; renewal and status are time-based,
    so only the idle life keeps them at their deployed periods (renewal 4 s, status 60 s)."""
    from text311 import services
    from text311.outbound.pacing import FakeClock

    clock = FakeClock(1_000.0)
    drainer = services.drainer_with(clock, long_poll=False, max_idle=math.inf if idle else 0.0)
    if not idle:
        drainer.renew_every = drainer.status_every = math.inf  # posted at the start and the end only
    end = clock.now() + seconds + drainer.stop_margin
    return lambda: drainer.drain(lambda: end - clock.now())


def agent_answer(handler: Any, city_mail: Any, text: str) -> Callable[[], Any]:
    """Store the agent's reply in S3 now (SES does, not us); return the handler call to measure."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = f"Marie Tremblay <{AGENT}>"
    message["To"] = str(city_mail["Reply-To"])
    message["Subject"] = f"RE: {city_mail['Subject']}"
    message["Message-ID"] = f"<{uuid.uuid4()}@gatineau.example.ca>"
    message["In-Reply-To"] = str(city_mail["Message-ID"])
    message.set_content(text)
    message_id = uuid.uuid4().hex
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{message_id}", Body=message.as_bytes()
    )
    event = ses_receipt(message_id=message_id, recipient=str(city_mail["Reply-To"]), sender=AGENT)
    return lambda: handler.lambda_handler(event, LambdaContext("inbound-email"))


def converse(
    measured: Measured | None, counter: CallCounter, inbound: Any, answers: Any, number: str, texts: int
) -> None:
    def text(body: str) -> Callable[[], Any]:
        event = inbound_sms_event(two_way_sms(body, number, OUR_NUMBER))
        return lambda: inbound.lambda_handler(event, LambdaContext("inbound-sms"))

    steps = [(SCENARIOS[0], text("Pothole on Main St")), (SCENARIOS[1], text("Gatineau"))]
    steps += [(SCENARIOS[2], text(f"Still there, day {i}")) for i in range(texts)]
    for n, (scenario, action) in enumerate(steps):
        result = measured.run(scenario, counter, action) if measured else action()
        assert result == {"batchItemFailures": []}, result
        if n < 2:  # each is answered by the dialog ("which city?", then the confirmation)
            drain(measured, counter, DRAINER[0], expect_sent=1)
    answer = agent_answer(answers, sent_mails()[-1], "A crew will fix it tomorrow morning.")
    [outcome] = measured.run(SCENARIOS[3], counter, answer) if measured else answer()
    assert outcome["sent"] is True, outcome
    drain(measured, counter, DRAINER[1], expect_sent=1)


def drain(measured: Measured | None, counter: CallCounter, scenario: str, expect_sent: int) -> None:
    life = drainer_life()
    report = measured.run(scenario, counter, life, marginal=True) if measured else life()
    assert report.sent == expect_sent and report.lease_held, report


def flood(measured: Measured, counter: CallCounter, inbound: Any, number: str) -> None:
    """A connected resident sends the limit and two more in one minute; the two extra are measured."""
    from datetime import UTC, datetime

    minute = datetime.now(UTC).replace(second=1, microsecond=0)
    for index in range(FLOOD_LIMIT + 2):
        body = "Gatineau" if index == 0 else f"flood {index}"
        event = inbound_sms_event(two_way_sms(body, number, OUR_NUMBER), at=minute)
        action = lambda event=event: inbound.lambda_handler(event, LambdaContext("inbound-sms"))  # noqa: E731
        result = measured.run(SCENARIOS[4], counter, action) if index >= FLOOD_LIMIT else action()
        assert result == {"batchItemFailures": []}, result
    drainer_life()()  # its dialog replies and the flood notice, not measured


def table(measured: Measured, scenarios: tuple[str, ...] = SCENARIOS) -> str:
    operations = sorted({op for s in scenarios for run in measured.calls[s] for op in run})
    header = ["", *scenarios]
    rows = [
        [
            "AWS calls (median)",
            *(f"{statistics.median(sum(r.values()) for r in measured.calls[s]):g}" for s in scenarios),
        ],
        ["CPU ms, all (median)", *(f"{statistics.median(measured.cpu[s]):.1f}" for s in scenarios)],
        ["CPU ms, ours (median)", *(f"{statistics.median(measured.ours[s]):.1f}" for s in scenarios)],
    ]
    for op in operations:
        rows.append([f"  {op}", *(f"{statistics.mean(r[op] for r in measured.calls[s]):g}" for s in scenarios)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=5)
    parser.add_argument("--texts", type=int, default=4, help="texts per resident in the existing conversation")
    args = parser.parse_args(argv)
    monkeypatch = pytest.MonkeyPatch()
    # Powertools prints each invocation's metrics (EMF) on stdout: not part of the report.
    with mock_aws(), counting() as counter, contextlib.redirect_stdout(io.StringIO()):
        sms = setup_region(ENVIRONMENT, monkeypatch)
        send = sms.send

        def counted_send(*a: Any, **k: Any) -> Any:
            counter.count("pinpoint-sms-voice-v2.SendTextMessage")
            return send(*a, **k)

        sms.send = counted_send  # type: ignore[method-assign]
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=RAW_MAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        inbound = importlib.import_module("functions.inbound_sms.handler")
        answers = importlib.import_module("functions.inbound_email.handler")
        inbound.process_once.cache_clear()
        answers.process_once.cache_clear()
        converse(None, counter, inbound, answers, "+18195559999", 2)  # warms the container
        measured = Measured()
        measured.measure_life(counter)
        for resident in range(args.residents):
            converse(measured, counter, inbound, answers, f"+1819555{resident:04d}", args.texts)
            flood(measured, counter, inbound, f"+1819556{resident:04d}")
            measured.measure_life(counter)
        measured.run(DRAINER[3], counter, drainer_life(3600.0, idle=True))
    monkeypatch.undo()
    print(f"{args.residents} residents, {args.texts} texts each in the existing conversation; warm container\n")
    print(table(measured))
    print("\nThe drainer (simulated clock, 1 MPS; per message: less an empty life's calls)\n")
    print(table(measured, DRAINER))
    existing = statistics.median(sum(r.values()) for r in measured.calls[SCENARIOS[2]])
    verdict = "met" if existing <= TARGET_EXISTING else "NOT MET"
    print(f"\ntarget: ≤ {TARGET_EXISTING} AWS calls for a text in an existing conversation: {verdict} ({existing:g})")
    return 0 if existing <= TARGET_EXISTING else 1


if __name__ == "__main__":
    sys.exit(main())
