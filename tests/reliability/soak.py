"""The soak: 1,000 texts from 200 residents and 300 agent answers through the real handlers, with faults.

The residents live in four regions (one Text311 stack each, one moto account each, in turn). Residents
text their city's name and four reports each; the texts reach ``functions/inbound_sms`` as SQS batches
(:class:`SimulatedSqsQueue`: any order, SNS duplicates, redelivery of failed records, a DLQ after
``maxReceiveCount``). Agents answer the city mails by email; the SES receipt events reach
``functions/inbound_email`` by asynchronous invocation (:class:`SimulatedAsyncInvoker`). Throughout,
DynamoDB, SES and End User Messaging throttle and fail at random (seeded) and invocations time out;
SES and End User Messaging each have one outage. Then both DLQs are redriven with the faults off.
Everything runs in moto, in this process.

``python -m tests.reliability.soak [--seed N]`` prints the figures; ``tests/reliability/test_soak.py``
asserts them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_events import QUEUE, TOPIC, ses_receipt, sns_notification, sqs_record, two_way_sms
from environment import FUNCTIONS_ENVIRONMENT
from harness import (
    OUR_NUMBER,
    RAW_MAIL_BUCKET,
    REGION,
    LambdaContext,
    drain_outbound,
    sent_mails,
    setup_region,
    text_of,
)
from moto import mock_aws
from ses_events import SesSendEvents

from text311 import conversations as conversation_store
from text311 import services
from text311.adapters import ses_mailer
from text311.observability import logger

from .simulation import (
    FaultPlan,
    SimulatedAsyncInvoker,
    SimulatedEndUserMessaging,
    SimulatedSqsQueue,
    inject_faults,
    quiet_output,
)

REPORT_TAG = re.compile(r"\bR\d{3}x\d\b")
ANSWER_TAG = re.compile(r"\bA\d{3}\b")
CITIES = (("Gatineau", "+1819555", "gatineau.example.ca"), ("Kingston", "+1613555", "kingston.example.ca"))
# A redelivered record comes back after the visibility timeout (6 × the function timeout, stacks/messaging.py),
# so the invocation that held it is over: Powertools' in-progress marker has expired by then.
EXPIRED_CONTEXT_MS = -1_000


@dataclass(frozen=True)
class SoakConfig:
    seed: int = 311
    residents: int = 200
    texts_per_resident: int = 5  # the city's name, then reports
    answers: int = 300
    fault_rate: float = 0.02  # per AWS call to DynamoDB, SES and End User Messaging
    timeout_rate: float = 0.002  # per call that changes something: the invocation stops right after it
    duplicate_rate: float = 0.05  # SNS and SES deliver the same event twice
    arrivals_per_batch: int = 10  # new texts reaching the queue between two batches
    regions: int = 4  # the residents and answers are spread over this many regions (stacks)
    # Outages in each region, so that some records do run out of receives and attempts whatever the
    # random faults do:
    ses_outage_batches: tuple[int, int] = (12, 24)  # SES fails every call during these inbound batches
    sms_outage_answers: tuple[int, int] = (20, 22)  # End User Messaging fails every call for these answers


@dataclass
class Resident:
    index: int
    number: str
    city: str
    domain: str
    texts: list[tuple[str, str, str | None]] = field(default_factory=list)  # message id, body, report tag


@dataclass
class SoakFigures:
    seed: int
    texts_in: int = 0
    reports_in: int = 0
    answers_in: int = 0
    faults_injected: int = 0
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    retry_pauses: int = 0  # the mailer's and the mailed write's backoffs, counted, not slept
    sqs_invocations: int = 0
    sqs_redeliveries: int = 0
    sns_duplicates: int = 0
    ses_duplicates: int = 0
    async_retries: int = 0
    handler_crashes: list[str] = field(default_factory=list)
    # after the faulty run, before the redrive
    emails_before_redrive: int = 0
    dlq_inbound: int = 0
    dlq_answers: int = 0
    reports_lost_before_redrive: int = 0  # neither mailed nor in (or held behind a text in) the DLQ
    answers_lost_before_redrive: int = 0
    # at the end
    redriven: int = 0
    emails_sent: int = 0  # to the cities, one per report expected
    reports_mailed_once: int = 0
    reports_lost: int = 0
    duplicate_emails: int = 0
    unexpected_emails: int = 0  # city mails that carry no report (a city name or a re-run text)
    sms_sent: int = 0  # SMS parts End User Messaging accepted
    answers_texted_once: int = 0
    answers_lost: int = 0  # never texted and not recorded in doubt
    answers_in_doubt: int = 0  # never texted: a send cut between its claim and its record (agent told)
    duplicate_answer_sms: int = 0
    duplicate_sms: int = 0  # same phone, idempotency key and part accepted twice
    # ... of which the first send was cut by a timeout right after End User Messaging accepted it
    # (the known window of test_a_timeout_right_after_the_sms_went_out_sends_no_second_sms_on_retry)
    duplicate_sms_after_cut_send: int = 0
    dlq_after_redrive: int = 0
    ses_send_events: int = 0  # Send events SES published (one per mail it took)
    dlq_send_events: int = 0  # ... that the mail_events function never managed to note
    seconds: float = 0.0

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.faults_by_kind.items()))
        return [
            f"soak seed {self.seed}: {self.texts_in} texts in ({self.reports_in} reports), {self.answers_in} answers",
            f"  faults injected {self.faults_injected} (outages included; {kinds}); timeouts {self.timeouts};"
            f" retry pauses {self.retry_pauses}",
            f"  SQS invocations {self.sqs_invocations}, redeliveries {self.sqs_redeliveries}, "
            f"SNS duplicates {self.sns_duplicates}; SES duplicates {self.ses_duplicates}, "
            f"async retries {self.async_retries}; handler crashes {len(self.handler_crashes)}",
            f"  before redrive: emails {self.emails_before_redrive}, DLQ inbound {self.dlq_inbound}, "
            f"DLQ answers {self.dlq_answers}, lost reports {self.reports_lost_before_redrive}, "
            f"lost answers {self.answers_lost_before_redrive}",
            f"  after redrive of {self.redriven}: emails sent {self.emails_sent} "
            f"(reports mailed once {self.reports_mailed_once}), lost {self.reports_lost}, "
            f"duplicate emails {self.duplicate_emails}, unexpected emails {self.unexpected_emails}",
            f"  SMS sent {self.sms_sent}, answers texted once {self.answers_texted_once}, answers lost "
            f"{self.answers_lost}, in doubt (agent told) {self.answers_in_doubt}, "
            f"duplicate answer SMS {self.duplicate_answer_sms}, "
            f"duplicate SMS {self.duplicate_sms} ({self.duplicate_sms_after_cut_send} after a send cut by a timeout)",
            f"  SES Send events {self.ses_send_events} (in their DLQ: {self.dlq_send_events}); "
            f"DLQ after redrive {self.dlq_after_redrive}; {self.seconds:.1f} s",
        ]


def _residents(config: SoakConfig, rng: random.Random) -> list[Resident]:
    residents = []
    for index in range(config.residents):
        city, prefix, domain = CITIES[index % len(CITIES)]
        resident = Resident(index, f"{prefix}{index:04d}", city, domain)
        resident.texts.append((str(uuid.uuid4()), city, None))
        for k in range(1, config.texts_per_resident):
            tag = f"R{index:03d}x{k}"
            resident.texts.append((str(uuid.uuid4()), f"ticket {tag} {rng.choice(_ISSUES)}", tag))
        residents.append(resident)
    return residents


_ISSUES = ("pothole on the corner", "garbage not collected", "broken swing in the park",
           "streetlight out since monday", "water leak on the sidewalk")


def _arrivals(residents: list[Resident], rng: random.Random) -> list[tuple[Resident, str, str]]:
    """Every resident's texts in the order they sent them, the residents interleaved at random."""
    queues = [list(r.texts) for r in residents]
    order = [i for i, q in enumerate(queues) for _ in q]
    rng.shuffle(order)
    arrivals = []
    for i in order:
        message_id, body, _ = queues[i].pop(0)
        arrivals.append((residents[i], message_id, body))
    return arrivals


def _sqs_record(resident: Resident, message_id: str, body: str) -> dict:
    payload = two_way_sms(body, resident.number, OUR_NUMBER, message_id=message_id)
    return sqs_record(json.dumps(sns_notification(json.dumps(payload), TOPIC)), QUEUE)


def _inbound_message_id(record: dict) -> str:
    return json.loads(json.loads(record["body"])["Message"])["inboundMessageId"]


def _agent_mail(city_mail: EmailMessage, sender: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(city_mail["Reply-To"])
    msg["Subject"] = f"RE: {city_mail['Subject']}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@{sender.rpartition('@')[2]}>"
    msg["In-Reply-To"] = str(city_mail["Message-ID"])
    quoted = "\n".join("> " + line for line in text_of(city_mail).splitlines())
    msg.set_content(f"{text}\n\nAgent 311\n\nOn Thu, Nov 26, 2026 at 9:00 AM Text311 wrote:\n{quoted}\n")
    return msg.as_bytes()


def _city_mails() -> list[EmailMessage]:
    return [m for m in sent_mails() if m["X-Text311-Conversation"]]


def _report_counts(mails: list[EmailMessage]) -> tuple[Counter, int]:
    tags: Counter = Counter()
    unexpected = 0
    for mail in mails:
        found = REPORT_TAG.findall(text_of(mail))
        tags.update(found)
        unexpected += not found
    return tags, unexpected


def run_soak(env: dict[str, str], monkeypatch: Any, config: SoakConfig | None = None) -> SoakFigures:
    """Run the whole soak in moto; ``env`` is the functions' environment (tests/conftest.py's aws_env).
    The residents are spread over ``config.regions`` regions, each a fresh moto account with its own
    stack, queue and faults (Text311 is one stack per region; smaller tables also keep moto's
    copy-per-transaction from dominating the run)."""
    config = config or SoakConfig()
    started = time.monotonic()
    rng = random.Random(config.seed)
    figures = SoakFigures(seed=config.seed)
    residents = _residents(config, rng)
    per_region = -(-len(residents) // config.regions)
    answers_per_region = -(-config.answers // config.regions)
    previous_level = logger.log_level
    logger.setLevel("CRITICAL")
    try:
        for region in range(config.regions):
            answer_tags = [f"A{j:03d}" for j in range(region * answers_per_region,
                                                        min(config.answers, (region + 1) * answers_per_region))]
            with mock_aws():
                _soak_region(env, monkeypatch, config, random.Random(f"{config.seed}/{region}"),
                             residents[region * per_region:(region + 1) * per_region], answer_tags, figures)
    finally:
        logger.setLevel(previous_level)
    figures.seconds = time.monotonic() - started
    return figures


def _soak_region(env: dict[str, str], monkeypatch: Any, config: SoakConfig, rng: random.Random,
                 residents: list[Resident], answer_tags: list[str], figures: SoakFigures) -> None:
    """One region's part of the soak, inside ``mock_aws``; adds its figures to ``figures``."""
    setup_region(env, monkeypatch)
    # The mailer's and the mailed write's retry backoffs are counted, not slept, as the SMS sender's are
    # (simulation.py): sleeping them added a minute of wall time to the run and tested nothing more.
    paused = SimpleNamespace(sleep=lambda seconds: setattr(figures, "retry_pauses", figures.retry_pauses + 1))
    monkeypatch.setattr(ses_mailer, "time", paused)
    monkeypatch.setattr(conversation_store, "time", paused)
    eum = SimulatedEndUserMessaging()
    # Producers queue every SMS (services.sms_sender, over moto's SQS); the drainer sends them through
    # this line, on a simulated clock (harness.setup_region).
    line = services.sms_sender_over(eum.client(), max_attempts=1, durable_parts=False)
    monkeypatch.setattr(services, "sms_line", lambda: line)
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=RAW_MAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    rates = {"dynamodb": config.fault_rate, "sesv2": config.fault_rate, "pinpoint-sms-voice-v2": config.fault_rate,
             "sqs": config.fault_rate}
    plan = inject_faults(monkeypatch, FaultPlan(seed=rng.randrange(2**32), rates=rates,
                                                timeout_rate=config.timeout_rate, enabled=False))
    cut_sends: set[tuple[str, str, str]] = set()

    def note_cut_send(service: str, operation: str) -> None:
        if operation == "SendTextMessage":
            sms = eum.accepted[-1]
            cut_sends.add((sms.destination, sms.idempotency_key, sms.part))

    plan.on_timeout = note_cut_send
    inbound = importlib.import_module("functions.inbound_sms.handler")
    answers = importlib.import_module("functions.inbound_email.handler")
    inbound.process_once.cache_clear()
    answers.process_once.cache_clear()
    sms_context = LambdaContext("inbound-sms", remaining_ms=EXPIRED_CONTEXT_MS)
    email_context = LambdaContext("inbound-email", remaining_ms=EXPIRED_CONTEXT_MS)

    def handle_texts(event: dict) -> dict:
        with quiet_output():
            return inbound.lambda_handler(event, sms_context)

    def handle_mail(event: dict) -> Any:
        with quiet_output():
            return answers.lambda_handler(event, email_context)

    queue = SimulatedSqsQueue(rng=rng, duplicate_rate=config.duplicate_rate)
    invoker = SimulatedAsyncInvoker(handle_mail)
    mail_events = importlib.import_module("functions.mail_events.handler")
    send_events = SesSendEvents().attach(services.clients().sesv2)
    events_queue = SimulatedSqsQueue(rng=rng, duplicate_rate=config.duplicate_rate)
    events_context = LambdaContext("mail-events", remaining_ms=EXPIRED_CONTEXT_MS)

    def handle_send_events(event: dict) -> dict:
        with quiet_output():
            return mail_events.lambda_handler(event, events_context)

    def drain_sms() -> None:
        """The drainer sends what the producers queued. Its own faults (throttling, lost answers, a
        crash between call and record) are bench/outbound.py's and tests/unit/test_outbound*'s
        subject; here it runs fault-free, so what is measured is the producers' side of the queue."""
        enabled, plan.enabled = plan.enabled, False
        try:
            with quiet_output():
                drain_outbound()
        finally:
            plan.enabled = enabled

    def deliver_texts() -> None:
        """One inbound batch. SES's Send events for the mails so far go first, through their own queue
        (with the same faults and duplicates): they take seconds, and SQS gives a text back only after
        its visibility timeout (minutes)."""
        pending = send_events.pending()
        for record in pending["Records"] if pending else ():
            events_queue.send(record)
        events_queue.drain(handle_send_events)
        queue.deliver_one_batch(handle_texts)
        drain_sms()

    by_message_id = {mid: (r, tag) for r in residents for mid, _, tag in r.texts}
    by_index = {r.index: r for r in residents}
    try:
        # 1. the texts, with faults
        plan.enabled = True
        arrivals = _arrivals(residents, rng)
        figures.texts_in += len(arrivals)
        figures.reports_in += sum(tag is not None for _, tag in by_message_id.values())
        batch = 0
        while arrivals or queue.waiting:
            for _ in range(min(config.arrivals_per_batch, len(arrivals))):
                queue.send(_sqs_record(*arrivals.pop(0)))
            outage = config.ses_outage_batches[0] <= batch < config.ses_outage_batches[1]
            plan.rates["sesv2"] = 1.0 if outage else config.fault_rate
            deliver_texts()
            batch += 1
        plan.rates["sesv2"] = config.fault_rate

        # 2. the agents' answers to the mails the cities got, with faults
        plan.enabled = False
        firsts: dict[str, tuple[EmailMessage, Resident]] = {}
        for mail in _city_mails():
            tag = REPORT_TAG.search(text_of(mail))
            if tag and str(mail["X-Text311-Conversation"]) not in firsts:
                firsts[str(mail["X-Text311-Conversation"])] = (mail, by_index[int(tag.group()[1:4])])
        s3 = boto3.client("s3", region_name=REGION)
        expected_answers: dict[str, Resident] = {}  # answer tag → resident
        answer_of_mail: dict[str, str] = {}  # SES message id → answer tag
        events = []
        conversations = sorted(firsts, key=lambda c: firsts[c][1].index)  # ids are random, residents not
        for j, tag in enumerate(answer_tags):
            city_mail, resident = firsts[conversations[j % len(conversations)]]
            agent = f"agent{j % 3}@{resident.domain}"
            expected_answers[tag] = resident
            ses_id = uuid.uuid4().hex
            answer_of_mail[ses_id] = tag
            raw = _agent_mail(city_mail, agent, f"Answer {tag}: a crew will come by tomorrow morning.")
            s3.put_object(Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{ses_id}", Body=raw)
            events.append(ses_receipt(message_id=ses_id, recipient=str(city_mail["Reply-To"]), sender=agent))
            if rng.random() < config.duplicate_rate:
                events.append(events[-1])
                figures.ses_duplicates += 1
        rng.shuffle(events)
        figures.answers_in += len(answer_tags)
        plan.enabled = True
        for index, event in enumerate(events):
            outage = config.sms_outage_answers[0] <= index < config.sms_outage_answers[1]
            plan.rates["pinpoint-sms-voice-v2"] = 1.0 if outage else config.fault_rate
            invoker.invoke(event)
            drain_sms()
        plan.enabled = False
        plan.rates["pinpoint-sms-voice-v2"] = config.fault_rate

        # the state the faults left
        figures.faults_injected += plan.faults_injected
        for kind, count in plan.injected.items():
            if kind != "timeout":
                figures.faults_by_kind[kind] = figures.faults_by_kind.get(kind, 0) + count
        figures.timeouts += plan.injected["timeout"]
        figures.dlq_inbound += len(queue.dead_letters)
        figures.dlq_answers += len(invoker.failed_events)
        mailed, _ = _report_counts(_city_mails())
        figures.emails_before_redrive += sum(mailed.values())
        parked = {_inbound_message_id(record) for record in queue.dead_letters}
        parked_residents = {by_message_id[mid][0].index for mid in parked if by_message_id[mid][1] is None}
        for mid, (resident, tag) in by_message_id.items():
            if tag and not mailed[tag] and mid not in parked and resident.index not in parked_residents:
                figures.reports_lost_before_redrive += 1
        parked_answers = {e["Records"][0]["ses"]["mail"]["messageId"] for e in invoker.failed_events}
        texted = Counter(t for s in eum.accepted for t in ANSWER_TAG.findall(s.body))
        parked_tags = {answer_of_mail[ses_id] for ses_id in parked_answers}
        doubted = _answers_in_doubt(answer_of_mail)
        figures.answers_lost_before_redrive += sum(
            1 for tag in expected_answers if not texted[tag] and tag not in parked_tags and tag not in doubted)

        # 3. redrive both DLQs, faults off
        figures.redriven += queue.redrive() + len(invoker.failed_events)
        while queue.waiting:
            deliver_texts()
        invoker.redrive()
        drain_sms()
        figures.dlq_after_redrive += len(queue.dead_letters) + len(invoker.failed_events)
    finally:
        plan.enabled = False
    figures.ses_send_events += len(send_events.accepted)
    figures.dlq_send_events += len(events_queue.dead_letters)
    figures.sqs_invocations += queue.invocations
    figures.sqs_redeliveries += queue.redeliveries
    figures.sns_duplicates += queue.duplicates_sent
    figures.async_retries += invoker.retries
    figures.handler_crashes += queue.crashed

    mails = _city_mails()
    mailed, unexpected = _report_counts(mails)
    report_tags = [tag for _, tag in by_message_id.values() if tag]
    figures.unexpected_emails += unexpected
    figures.emails_sent += len(mails)
    figures.reports_mailed_once += sum(mailed[tag] == 1 for tag in report_tags)
    figures.reports_lost += sum(mailed[tag] == 0 for tag in report_tags)
    figures.duplicate_emails += sum(mailed[tag] - 1 for tag in report_tags if mailed[tag] > 1)
    figures.sms_sent += len(eum.accepted)
    texted = Counter()
    for sms in eum.accepted:
        for tag in ANSWER_TAG.findall(sms.body):
            if sms.destination == expected_answers[tag].number:
                texted[tag] += 1
    figures.answers_texted_once += sum(texted[tag] == 1 for tag in expected_answers)
    doubted = _answers_in_doubt(answer_of_mail)
    figures.answers_lost += sum(texted[tag] == 0 and tag not in doubted for tag in expected_answers)
    figures.answers_in_doubt += sum(texted[tag] == 0 and tag in doubted for tag in expected_answers)
    figures.duplicate_answer_sms += sum(texted[tag] - 1 for tag in expected_answers if texted[tag] > 1)
    figures.duplicate_sms += eum.duplicates()
    figures.duplicate_sms_after_cut_send += eum.duplicates(among=cut_sends)


def _answers_in_doubt(answer_of_mail: dict[str, str]) -> set[str]:
    """Answers recorded ``in_doubt``: a send whose part was claimed and never recorded (the
    invocation stopped in between). At most once: not resent, and the agent is told."""
    table = services.settings().messages_table
    pages = boto3.client("dynamodb", region_name=REGION).get_paginator("scan").paginate(
        TableName=table, FilterExpression="#s = :d", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "in_doubt"}},
    )
    ses_ids = {item["message_key"]["S"].partition("#")[2] for page in pages for item in page["Items"]}
    return {answer_of_mail[ses_id] for ses_id in ses_ids if ses_id in answer_of_mail}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SoakConfig.seed)
    args = parser.parse_args(argv)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        figures = run_soak(functions_environment(), monkeypatch, SoakConfig(seed=args.seed))
    print("\n".join(figures.lines()))
    return 0


def functions_environment() -> dict[str, str]:
    return dict(FUNCTIONS_ENVIRONMENT)  # as the tests' aws_env fixture gives it


if __name__ == "__main__":
    sys.exit(main())
