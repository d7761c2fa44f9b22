"""An AWS account in moto with what one Text311 region holds, for handler tests.

Tables come from the pynamodb models (the same definitions the stack uses); keys and
secrets are created the way the stack creates them.
"""

from __future__ import annotations

import email
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from types import ModuleType

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from text311 import services
from text311.adapters.dynamodb import SubscriberModel, create_tables
from text311.subscribers import Subscriber, SubscriberRepository

REGION = "ca-central-1"
OUR_NUMBER = "+15145550100"

GATINEAU = Subscriber(
    geonameid=5959974, display_name="Gatineau", country="CA", region_code="QC",
    contact_emails=("311@gatineau.example.ca",), agent_allow_list=("@gatineau.example.ca",),
    time_zone="America/Toronto", languages=("fr", "en"), web_page="https://gatineau.example.ca/311",
)
KINGSTON = Subscriber(
    geonameid=5992500, display_name="Kingston", country="CA", region_code="ON",
    contact_emails=("contactus@kingston.example.ca",), agent_allow_list=("@kingston.example.ca",),
    time_zone="America/Toronto",
)


@dataclass
class SentSms:
    destination: str
    body: str
    idempotency_key: str
    context: dict | None = None


@dataclass
class FakeSms:
    """Stands in for End User Messaging in handler tests (moto has no pinpoint-sms-voice-v2): the
    line the drainer sends through (``services.sms_line``). Producers put SMS on the outbound queue
    (moto's SQS); reading ``sent`` or ``to()`` first runs the drainer until the queue is empty, as the
    deployed drainer would within seconds, on a simulated clock (the MPS pacing waits no real time).
    ``held`` is what is still queued, read without draining."""

    drain: Callable[[], object] | None = None
    _sent: list[SentSms] = field(default_factory=list)

    def send(self, destination, body, *, idempotency_key, context=None):
        self._sent.append(SentSms(destination, body, idempotency_key, context))
        return None

    @property
    def sent(self) -> list[SentSms]:
        return self.flush()._sent

    def flush(self) -> FakeSms:
        """Let the drainer send what is queued (and run its callbacks: answer marked sent, agent
        assigned or told) before the test looks."""
        if self.drain is not None:
            self.drain()
        return self

    def to(self, number: str) -> list[str]:
        """The texts ``number`` received, each as the resident reads it: the drainer sends a long
        text as numbered SMS ("1/2 …", key ``<id>#<part>``), put back together here."""
        texts: dict[str, list[str]] = {}
        for sms in self.sent:
            if sms.destination == number:
                texts.setdefault(sms.idempotency_key.rsplit("#", 1)[0], []).append(_PART_MARKER.sub("", sms.body))
        return [" ".join(parts) for parts in texts.values()]

    def parts_to(self, number: str) -> list[str]:
        """The SMS ``number`` received, one per part, markers included."""
        return [s.body for s in self.sent if s.destination == number]


_PART_MARKER = re.compile(r"^\d+/\d+ ")
OUTBOUND_QUEUE = "text311-outbound-test"


def simulated_drainer() -> object:
    """The drainer on a simulated clock (the MPS pacing waits no real time), no long polls, and
    exiting as soon as the queue is empty."""
    from text311.outbound.pacing import FakeClock

    return services.drainer_with(FakeClock(1_000.0), long_poll=False, max_idle=0.0)


def drain_outbound() -> dict:
    """One invocation of the sms_drainer handler (services.sms_drainer is the simulated one here):
    its metrics are printed as the deployed function prints them."""
    import importlib

    handler = importlib.import_module("functions.sms_drainer.handler")
    return handler.lambda_handler({"nudge": True}, LambdaContext("sms-drainer", remaining_ms=600_000))


def setup_region(env: dict[str, str], monkeypatch, subscribers=(GATINEAU, KINGSTON)) -> FakeSms:
    """Call inside mock_aws: creates keys, secrets, identities and tables; returns the SMS fake."""
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(Description="text311 phones")["KeyMetadata"]["KeyId"]
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name=env["TOKEN_SECRET_ID"], SecretString=json.dumps({"k1": "token-key-one"}))
    secrets.create_secret(Name=env["PHONE_HASH_SECRET_ID"], SecretString=json.dumps({"k1": "phone-hash-key"}))
    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity="text311.example.ca")

    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=OUTBOUND_QUEUE)["QueueUrl"]

    env = {**env, "PHONE_KEY_ID": key_id, "SMS_NUMBERS": OUR_NUMBER, "ANSWER_KEYWORDS": "true",
           "OUTBOUND_QUEUE_URL": queue_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    services.reset()
    services.tables_bound()
    create_tables()
    repo = SubscriberRepository()
    for sub in subscribers:
        repo.add(sub)
    fake = FakeSms(drain=drain_outbound)
    monkeypatch.setattr(services, "sms_line", lambda: fake)
    monkeypatch.setattr(services, "sms_drainer", simulated_drainer)
    return fake


def create_key_table(client, name: str) -> None:
    """A table keyed by ``id`` alone, as the idempotency table the drainer's lease, status and ledger
    items live in (moto, on demand)."""
    client.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")


def sent_mails() -> list[EmailMessage]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [email.message_from_string(m.raw_data, policy=default_policy) for m in backend.sent_messages]


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


RAW_MAIL_BUCKET = "text311-raw-mail-test"  # RAW_MAIL_BUCKET in conftest's aws_env


def agent_answer(handler, city_mail: EmailMessage, text: str, *, sender: str, message_id: str | None = None) -> dict:
    """An agent's plain reply to a city mail, stored in S3 as SES's S3 action does, then the SES
    receipt event handed to the inbound_email handler. Returns the handler's outcome for it."""
    import uuid

    from aws_events import ses_receipt

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(city_mail["Reply-To"])
    msg["Subject"] = f"RE: {city_mail['Subject']}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@{sender.rpartition('@')[2]}>"
    msg.set_content(text)
    message_id = message_id or uuid.uuid4().hex
    s3 = boto3.client("s3", region_name=REGION)
    if RAW_MAIL_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=RAW_MAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=RAW_MAIL_BUCKET, Key=f"inbound/{message_id}", Body=msg.as_bytes())
    event = ses_receipt(message_id=message_id, recipient=str(city_mail["Reply-To"]), sender=sender)
    [outcome] = handler.lambda_handler(event, LambdaContext("inbound-email"))
    return outcome


class LambdaContext:
    """What Powertools reads from a Lambda context, for invoking handlers in tests."""

    memory_limit_in_mb = 256

    def __init__(self, function_name: str = "text311-test", remaining_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.aws_request_id = f"req-{function_name}"
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@contextmanager
def bound_subscribers_table(name: str, region: str = "ca-central-1") -> Iterator[SubscriberRepository]:
    """A moto subscribers table, bound under ``name`` (what the CLI's ``--table`` names), for the
    tests of the operators' commands; unbound when the block ends. The caller unsets
    AWS_ENDPOINT_URL and SUBSCRIBERS_TABLE, which would point the model elsewhere."""
    with mock_aws():
        SubscriberModel.Meta.table_name = name
        SubscriberModel.Meta.region = region
        SubscriberModel.Meta.host = None
        SubscriberModel._connection = None
        SubscriberModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        try:
            yield SubscriberRepository()
        finally:
            SubscriberModel._connection = None


@contextmanager
def municipality_cli_with_gatineau(table: str) -> Iterator[Callable[..., object]]:
    """``text311 municipality …`` against a moto subscribers table named ``table`` that already holds
    Gatineau (5959974), for the tests of one subcommand. The caller unsets AWS_ENDPOINT_URL and
    SUBSCRIBERS_TABLE (see bound_subscribers_table)."""
    from typer.testing import CliRunner

    from text311.cli import app

    runner = CliRunner()
    with bound_subscribers_table(table):

        def run(*args: str):
            return runner.invoke(app, ["municipality", *args, "--table", table, "--region", "ca-central-1"])

        added = run("add", "5959974", "--email", "311@gatineau.ca", "--agents", "@gatineau.ca")
        assert added.exit_code == 0, added.output
        yield run


def load_script(name: str, path: Path) -> ModuleType:
    """A script of the repository (bench/, scripts/) imported as module ``name``; registered in ``sys.modules``
    before it runs, as its dataclasses look their module up while the file executes."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
