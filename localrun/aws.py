"""A region's AWS resources in moto server mode, made the way the stack makes them.

Tables come from the pynamodb models (``create_tables``, as the data construct derives them); names,
prefixes and counts come from the validated deployment and the core's settings. Nothing here is a
second list of what the stack holds: only how moto is told about it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from localrun import ROOT
from localrun.events import ACCOUNT
from stacks.config import Deployment
from text311.adapters.dynamodb import TABLES

RAW_MAIL_BUCKET = "text311-raw-mail-local"
RAW_MAIL_PREFIX = "inbound/"  # stacks/email.py RAW_MAIL_PREFIX, the Settings default
SES_CONFIGURATION_SET = "text311"  # stacks/email.py CONFIGURATION_SET_NAME
SMS_CONFIGURATION_SET = "text311"  # stacks/messaging.py
RULE_SET, RULE = "text311", "agent-answers"  # stacks/email.py
TOKEN_SECRET = "text311/reply-token-keys"
PHONE_HASH_SECRET = "text311/phone-hash-key"
MAX_RECEIVE_COUNT = 5  # stacks/messaging.py
# The outbound SMS queue (stacks/outbound.py): a drainer handoff receives every held message again.
OUTBOUND_QUEUE = "text311-outbound-sms"
OUTBOUND_MAX_RECEIVE_COUNT = 60  # stacks/outbound.py OUTBOUND_MAX_RECEIVE_COUNT
OUTBOUND_VISIBILITY = 900  # stacks/outbound.py DRAINER_TIMEOUT


@dataclass(frozen=True)
class Topic:
    """SNS topic → SQS queue (+ DLQ): ``queued_topic`` in stacks/messaging.py."""

    topic_arn: str
    queue_arn: str
    dlq_arn: str


@dataclass(frozen=True)
class LocalAws:
    server: ThreadedMotoServer
    endpoint_url: str
    region: str
    environment: dict[str, str]  # what the stack gives every function (text311.settings)
    inbound: Topic
    events: Topic
    email_failures_arn: str
    outbound_queue_url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def stop(self) -> None:
        self.server.stop()


def fake_credentials() -> None:
    """moto accepts any credentials; these make sure nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_EC2_METADATA_DISABLED="true")


class PortBusy(OSError):
    pass


def _check_free(host: str, port: int) -> None:
    """ThreadedMotoServer binds in its thread and waits forever when that fails: check first."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortBusy(exc.errno, f"cannot listen on {host}:{port} ({exc.strerror}); "
                                      "set AWS_PORT to a free port") from None


def start_moto(host: str, port: int) -> tuple[ThreadedMotoServer, str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per AWS call on the console
    if port:
        _check_free(host, port)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def table_names() -> dict[str, str]:
    """``SUBSCRIBERS_TABLE`` … from the models' declared names (the stack lets CloudFormation name them)."""
    return {setting.upper(): model.Meta.table_name for setting, model in TABLES.items()}


def provision(deployment: Deployment, host: str, port: int) -> LocalAws:
    fake_credentials()
    region = deployment.region
    server, endpoint = start_moto(host, port)

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    kms = client("kms")
    phone_key = kms.create_key(Description="Text311 residents' phone numbers")["KeyMetadata"]["Arn"]
    sm = client("secretsmanager")
    # Fresh keys at every start, as a new stack would have: state does not survive a restart anyway.
    token_secret = sm.create_secret(Name=TOKEN_SECRET, SecretString=json.dumps({"k1": secrets.token_hex(32)}))
    hash_secret = sm.create_secret(Name=PHONE_HASH_SECRET, SecretString=json.dumps({"k1": secrets.token_hex(32)}))

    s3 = client("s3")
    bucket_config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=RAW_MAIL_BUCKET, **bucket_config)

    inbound = _queued_topic(client, "text311-inbound-sms")
    events = _queued_topic(client, "text311-sms-events")
    sqs = client("sqs")
    failures_arn = _queue_arn(sqs, sqs.create_queue(QueueName="text311-inbound-email-failures")["QueueUrl"])
    outbound_url = _outbound_queue(sqs)

    _email(client, deployment)
    user_pool_id = _user_pool(client("cognito-idp"))

    environment = {
        **table_names(),
        "PHONE_KEY_ID": phone_key,
        "TOKEN_SECRET_ID": token_secret["ARN"],
        "PHONE_HASH_SECRET_ID": hash_secret["ARN"],
        "SMS_ORIGINATION_IDENTITY": deployment.sms_origination_identity,
        "SMS_CONFIGURATION_SET": f"arn:aws:sms-voice:{region}:{ACCOUNT}:configuration-set/{SMS_CONFIGURATION_SET}",
        "SMS_NUMBERS": ",".join(deployment.sms_numbers),
        # Producers queue every SMS here; the drainer sends it at SMS_MPS (docs/outbound.md).
        "OUTBOUND_QUEUE_URL": outbound_url,
        "SMS_MPS": f"{deployment.mps:g}",
        # The number answers HELP/STOP/START… itself, in AWS and here (localrun/number.py).
        "ANSWER_KEYWORDS": "false",
        "SENDER_ADDRESS": deployment.sender_address,
        "REPLY_DOMAIN": deployment.reply_domain,
        "SES_CONFIGURATION_SET": SES_CONFIGURATION_SET,
        "RAW_MAIL_BUCKET": RAW_MAIL_BUCKET,
        "RAW_MAIL_PREFIX": RAW_MAIL_PREFIX,
        "CONSOLE_URL": deployment.console_url,
        "SUPPORT_CONTACT": deployment.support_contact,
        "SERVED_COUNTRIES": ",".join(deployment.served_countries),
        "CONVERSATION_IDLE_DAYS": str(deployment.conversation_idle_days),
        # Addresses in texts get their point from the demo cities' address file (Amazon Location in AWS).
        "GEOCODER": "address-file",
        "ADDRESS_FILE": str(ROOT / "config" / "local-addresses.yaml"),
        # A city that turns translation on is translated by the demo's phrasebook here (never a network call;
        # every text it returns says "[local phrasebook]"); by Amazon Translate in AWS (text311.translation).
        "TRANSLATOR": "local-phrasebook",
        "RETENTION_DAYS": str(deployment.retention_days),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        # The console's demo sign-in signs sessions with this key; a new one each start.
        "LOCAL_SESSION_KEY": secrets.token_hex(32),
        # The console's agents (text311.agents): a supervisor invites and disables them in this moto pool; the
        # demo sign-in still takes any address the city allows, and refuses one a supervisor disabled.
        "USER_POOL_ID": user_pool_id,
        "POWERTOOLS_SERVICE_NAME": "text311",
        "POWERTOOLS_METRICS_NAMESPACE": "Text311",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # No CloudWatch or X-Ray here: metrics and traces would only be noise on the console.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return LocalAws(server, endpoint, region, environment, inbound, events, failures_arn, outbound_url)


def _user_pool(cognito: Any) -> str:
    """The console's pool as stacks/console.py makes it: email as the sign-in name, the city (immutable) and
    the role as custom attributes. moto mails no invitation: the local run's sign-in is the demo form."""
    schema = [{"Name": "municipality_id", "AttributeDataType": "String", "Mutable": False},
              {"Name": "role", "AttributeDataType": "String", "Mutable": True}]
    created = cognito.create_user_pool(PoolName="text311-agents", UsernameAttributes=["email"], Schema=schema)
    return created["UserPool"]["Id"]


def _queued_topic(client: Any, name: str) -> Topic:
    sns, sqs = client("sns"), client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    dlq_arn = _queue_arn(sqs, sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"])
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
    queue_arn = _queue_arn(sqs, sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Topic(topic_arn, queue_arn, dlq_arn)


def _outbound_queue(sqs: Any) -> str:
    """The identity's outbound queue and its DLQ, as ``Outbound`` makes them (redrive, visibility)."""
    dlq_arn = _queue_arn(sqs, sqs.create_queue(QueueName=f"{OUTBOUND_QUEUE}-dlq")["QueueUrl"])
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": OUTBOUND_MAX_RECEIVE_COUNT})
    attributes = {"RedrivePolicy": redrive, "VisibilityTimeout": str(OUTBOUND_VISIBILITY)}
    return str(sqs.create_queue(QueueName=OUTBOUND_QUEUE, Attributes=attributes)["QueueUrl"])


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _email(client: Any, deployment: Deployment) -> None:
    """Sending identity and configuration set; the receipt rule that stores answers in S3."""
    sesv2, ses = client("sesv2"), client("ses")
    for identity in sorted({deployment.sender_domain, deployment.reply_domain}):
        sesv2.create_email_identity(EmailIdentity=identity)
    sesv2.create_configuration_set(ConfigurationSetName=SES_CONFIGURATION_SET)
    ses.create_receipt_rule_set(RuleSetName=RULE_SET)
    # The Lambda action is played by localrun.mail (moto would want a deployed function to name).
    ses.create_receipt_rule(RuleSetName=RULE_SET, Rule={
        "Name": RULE, "Enabled": True, "TlsPolicy": "Require", "ScanEnabled": True,
        "Recipients": [deployment.reply_domain],
        "Actions": [{"S3Action": {"BucketName": RAW_MAIL_BUCKET, "ObjectKeyPrefix": RAW_MAIL_PREFIX}}],
    })
    ses.set_active_receipt_rule_set(RuleSetName=RULE_SET)
