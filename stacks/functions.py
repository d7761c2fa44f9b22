"""The Lambda functions, their settings (``text311.settings.Settings``) and their permissions.

Every function gets the whole settings contract (Settings validates all of it at cold start); each
gets only the permissions its code path uses. DynamoDB actions per table are in ``stacks/access.py``;
the data key is granted only through the service that uses it (``kms:ViaService``: DynamoDB, SQS, S3,
Secrets Manager), never for a direct KMS call. Each function logs to its own group, under the data key.

- inbound_sms, inbound_email: read/write residents, conversations (+ indexes), messages, idempotency,
  limits; read subscribers; phone key (with the vault's encryption context); both secrets; SES send.
  inbound_email also reads raw mail under ``inbound/``.
- delivery_status: the message's status, the ledger part it settles, a failure notice's thread and
  city (no Scan, BatchWriteItem or DeleteItem anywhere); SES send (failure notices); no SMS, no queue.
- console_api (when the deployment has a console): its conversations (get, update, query the
  by-activity index), messages, residents' opt-out, the city caps, the answer's idempotency record;
  the phone key (it decrypts the conversation's number and seals it for the outbound queue); both
  secrets (the answer service builds the reply-token signer and the phone vault); SES send.
- producers (inbound_sms, inbound_email, console_api): sqs:SendMessage on the outbound queue
  (``stacks/outbound.py``), and no SMS permission: every SMS they send is queued there.
- sms_drainer: consumes the outbound queue; SMS send (the only function that calls SendTextMessage);
  its ledger, lease and status items, a sent or failed answer's record and thread, a refused
  resident's opt-out; read subscribers and SES send (the agent is told when an answer cannot be
  delivered); kms:Decrypt only on the phone key (a queued message carries its number sealed by the
  phone vault, so the queue, its DLQ and request logs hold none).
- open311_api (with the console's HTTP API): read the city (subscribers), read and file its service
  requests (requests table and its by-requested index); nothing else.
- response_targets: every few minutes (EventBridge), the cities with a first-response target (a filtered
  Scan of subscribers), their waiting conversations (by-activity), each breach claimed by a conditional
  update; SES send (the supervisors' mail). No SMS, no secret, no phone key.
- mail_events: SES's Send event noted on its thread; a bounce, complaint or delay set on the text; after
  a permanent bounce, the resident's notice queued (a producer: the phone key, to unseal the thread's
  number and seal it for the queue; no secret, no SES send).
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.access import (
    CONSOLE_API,
    DELIVERY_STATUS,
    INBOUND,
    MAIL_EVENTS,
    OPEN311_API,
    RESPONSE_TARGETS,
    SMS_DRAINER,
    grant_geocode,
    grant_tables,
    grant_translate,
)
from stacks.config import Deployment
from stacks.console import Console
from stacks.data import Data
from stacks.email import Email
from stacks.messaging import Messaging
from stacks.outbound import DRAINER_TIMEOUT, Outbound
from stacks.packaging import Layers, plain_function
from stacks.security import SEND_KEY, Security

# The Open311 API's reserved concurrency: 20 requests a second of ~100 ms each need about 2.
OPEN311_CONCURRENCY = 10

SQS_FUNCTION_TIMEOUT = Duration.seconds(30)
EMAIL_FUNCTION_TIMEOUT = Duration.seconds(60)
# Under API Gateway's 30 s integration limit, with room for the SMS sender's retries.
API_FUNCTION_TIMEOUT = Duration.seconds(15)
# First-response targets are minutes long: a check every 5 minutes mails a breach within 5 minutes of it.
RESPONSE_TARGETS_SCHEDULE = events.Schedule.rate(Duration.minutes(5))


def _defaults(*aliases: str) -> dict[str, str]:
    """Settings' own defaults for these variables, so the stack and the code cannot disagree."""
    from text311.settings import Settings

    fields = {f.alias: f.default for f in Settings.model_fields.values()}
    return {alias: str(fields[alias]) for alias in aliases}


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        security: Security,
        data: Data,
        messaging: Messaging,
        email: Email,
        outbound: Outbound,
        console: Console | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.layers = Layers(self, "Layers")
        environment = {
            **data.environment(),
            "PHONE_KEY_ID": security.phone_key.key_arn,
            "TOKEN_SECRET_ID": security.token_secret.secret_arn,
            "PHONE_HASH_SECRET_ID": security.phone_hash_secret.secret_arn,
            "SMS_ORIGINATION_IDENTITY": messaging.origination_identity,
            "SMS_CONFIGURATION_SET": messaging.configuration_set_arn,
            "SMS_NUMBERS": ",".join(messaging.numbers),
            # A bought number answers HELP/STOP/AIDE/START… itself (keywords set by Messaging); an
            # existing number's keywords are its owner's, so the functions answer them there.
            "ANSWER_KEYWORDS": "false" if deployment.creates_number else "true",
            **email.environment,
            # Every SMS goes to the identity's queue (producers) and leaves it at SMS_MPS (the drainer).
            **outbound.environment,
            # The console's CloudFront (or own-domain) URL when this stack serves it.
            "CONSOLE_URL": console.url if console else deployment.console_url,
            "SUPPORT_CONTACT": deployment.support_contact,
            "REGION_LANGUAGES": ",".join(deployment.region_languages),
            "SERVED_COUNTRIES": ",".join(deployment.served_countries),
            "CONVERSATION_IDLE_DAYS": str(deployment.conversation_idle_days),
            "RETENTION_DAYS": str(deployment.retention_days),
            "GEOCODER": "" if deployment.geocoder == "none" else deployment.geocoder,
            # Abuse and spend limits (text311.limits) and the subscriber cache: the Settings defaults.
            **_defaults("FLOOD_LIMIT_PER_MINUTE", "CITY_SMS_PER_HOUR", "CITY_SMS_PER_DAY", "SUBSCRIBER_CACHE_SECONDS"),
            "POWERTOOLS_SERVICE_NAME": "text311",
            "POWERTOOLS_METRICS_NAMESPACE": "Text311",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "TRANSLATOR": "",  # none, but for the functions below that translate
        }
        self.deployment = deployment
        self.security = security
        # The functions that translate (text311.translation): a resident's text for the city's mail, an
        # agent's answer before it is queued, the console's preview. Each gets translate:TranslateText.
        translating = {**environment, "TRANSLATOR": "amazon-translate"}

        self.inbound_sms = self._function(
            "InboundSms",
            "inbound_sms",
            translating,
            memory=1024,
            timeout=SQS_FUNCTION_TIMEOUT,
            description="Two-way SMS from SQS: dialog, conversation, mail to the city",
        )
        # SES invokes inbound_email asynchronously: Lambda retries twice, then parks the event
        # (with the error) on this queue, which alarms; nothing is lost silently.
        self.email_failures = sqs.Queue(
            self,
            "InboundEmailFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=security.data_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.inbound_email = self._function(
            "InboundEmail",
            "inbound_email",
            translating,
            memory=512,
            timeout=EMAIL_FUNCTION_TIMEOUT,
            description="Agents' email answers from SES: checks, then SMS to the resident",
            on_failure=QueueDestination(self.email_failures, security),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        self.delivery_status = self._function(
            "DeliveryStatus",
            "delivery_status",
            environment,
            memory=256,
            timeout=SQS_FUNCTION_TIMEOUT,
            description="SMS delivery events from SQS: message status, failure notices",
        )

        # SES's sending events: a Send noted on its thread; a bounce, complaint or delay set on its text,
        # and after a permanent bounce the resident's notice queued (text311.mail_feedback).
        self.mail_events = self._function(
            "MailEvents",
            "mail_events",
            environment,
            memory=256,
            timeout=SQS_FUNCTION_TIMEOUT,
            description="SES sending events from SQS: mails noted, bounces and complaints set on texts",
        )

        # Tables: exactly the actions each code path makes (stacks/access.py), the data key through DynamoDB.
        tables = data.tables
        grant_tables(self.mail_events, tables, MAIL_EVENTS, security)
        security.grant_phone_crypto(self.mail_events)  # the city-unreachable notice (text311.mail_feedback)
        for function in (self.inbound_sms, self.inbound_email):
            grant_tables(function, tables, INBOUND, security)
            if deployment.geocoder == "amazon-location":
                grant_geocode(function, Stack.of(self).region)
            security.grant_phone_crypto(function)
            security.grant_secrets(function)
            email.grant_send_email(function)
            grant_translate(function)
        email.grant_read_raw_mail(self.inbound_email)
        grant_tables(self.delivery_status, tables, DELIVERY_STATUS, security)
        email.grant_send_email(self.delivery_status)

        self.sms_drainer = self._function(
            "SmsDrainer",
            "sms_drainer",
            environment,
            memory=256,
            timeout=DRAINER_TIMEOUT,
            description="Outbound SMS: drains the identity's queue at its MPS, urgent first, cities fairly",
            # A failed drainer is not retried by Lambda: the schedule starts another within a minute,
            # and the messages it held come back to the queue by themselves.
            retry_attempts=0,
            # Each drainer invokes its successor at hand-off (a chain, one at a time by the lease);
            # Lambda would otherwise stop the chain after 16 links as a recursive loop.
            recursive_loop=lambda_.RecursiveLoop.ALLOW,
        )
        self._grant_drainer(self.sms_drainer, security, data, messaging, email, outbound)

        # First-response targets (text311.response_targets): a tick every few minutes mails each breach
        # once to the city's supervisors. A missed tick is caught by the next one: no retry, no DLQ.
        self.response_targets = self._function(
            "ResponseTargets",
            "response_targets",
            environment,
            memory=256,
            timeout=Duration.minutes(2),
            description="First-response targets: overdue conversations mailed once to the city's supervisors",
            retry_attempts=0,
        )
        grant_tables(self.response_targets, data.tables, RESPONSE_TARGETS, security)
        email.grant_send_email(self.response_targets)
        self.response_targets_schedule = events.Rule(
            self,
            "ResponseTargetsSchedule",
            description="Text311: mail the supervisors of conversations waiting beyond their city's target",
            schedule=RESPONSE_TARGETS_SCHEDULE,
            targets=[targets.LambdaFunction(self.response_targets, retry_attempts=0,
                                            max_event_age=Duration.minutes(5))],
        )

        self.console_api: lambda_.Function | None = None
        self.open311_api: lambda_.Function | None = None
        if console is not None:
            self.console_api = self._function(
                "ConsoleApi",
                "console_api",
                translating,
                memory=512,
                timeout=API_FUNCTION_TIMEOUT,
                description="Agents' console API behind API Gateway's JWT authorizer",
            )
            self._grant_console(self.console_api, security, data, email)
            if deployment.geocoder == "amazon-location":  # a typed address in the console's filing form
                grant_geocode(self.console_api, Stack.of(self).region)
            grant_translate(self.console_api)
            console.grant_agent_directory(self.console_api)  # supervisors invite and disable agents
            # The public Open311 API, a route of the console's HTTP API: the city and its requests
            # (stacks/access.py OPEN311_API); no secret, no phone key, no SES, no SMS, no queue.
            self.open311_api = self._function(
                "Open311Api",
                "open311_api",
                environment,
                memory=256,
                timeout=API_FUNCTION_TIMEOUT,
                description="Open311 GeoReport v2 API: services and service requests of each city, open data",
            )
            # Public and unauthenticated: at most this many at once, so a flood of open-data reads can
            # never take the account's concurrency from the functions that carry residents' texts.
            self.open311_api.node.default_child.reserved_concurrent_executions = OPEN311_CONCURRENCY
            grant_tables(self.open311_api, data.tables, OPEN311_API, security)
            console.serve_open311(self.open311_api)
        for producer in self.producers.values():
            outbound.grant_enqueue(producer)

    @staticmethod
    def _grant_drainer(
        function: lambda_.Function, security: Security, data: Data, messaging: Messaging, email: Email,
        outbound: Outbound,
    ) -> None:
        security.grant_phone_decrypt(function)
        grant_tables(function, data.tables, SMS_DRAINER, security)
        email.grant_send_email(function)
        messaging.grant_send_sms(function)
        outbound.drive(function)
        # The hand-off invokes its own function: in a policy of its own, since the function depends on
        # its default policy and a statement there naming the function would be a cycle.
        iam.Policy(
            function,
            "Handoff",
            roles=[function.role],
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])],
        )

    @staticmethod
    def _grant_console(function: lambda_.Function, security: Security, data: Data, email: Email) -> None:
        grant_tables(function, data.tables, CONSOLE_API, security)
        # Decrypt: the conversation's number; Encrypt: sealed again for the outbound queue.
        security.grant_phone_crypto(function)
        security.grant_secrets(function)
        email.grant_send_email(function)

    @property
    def producers(self) -> dict[str, lambda_.Function]:
        """The functions that queue SMS (none of them sends one itself)."""
        functions = {"inbound_sms": self.inbound_sms, "inbound_email": self.inbound_email,
                     "mail_events": self.mail_events}
        if self.console_api is not None:
            functions["console_api"] = self.console_api
        return functions

    @property
    def all(self) -> dict[str, lambda_.Function]:
        functions = {**self.producers, "delivery_status": self.delivery_status, "sms_drainer": self.sms_drainer,
                     "mail_events": self.mail_events, "response_targets": self.response_targets}
        if self.open311_api is not None:
            functions["open311_api"] = self.open311_api
        return functions

    def _function(
        self,
        construct_id: str,
        folder: str,
        environment: dict[str, str],
        *,
        memory: int,
        timeout: Duration,
        description: str,
        **extra: object,
    ) -> lambda_.Function:
        # Our own role instead of AWSLambdaBasicExecutionRole: logs go to this function's group only.
        return plain_function(
            self,
            construct_id,
            folder,
            log_retention_days=self.deployment.log_retention_days,
            log_key=self.security.data_key,
            description=description,
            environment=environment,
            timeout=timeout,
            memory=memory,
            layers=self.layers.all,
            tracing=lambda_.Tracing.ACTIVE,
            **extra,
        )


@jsii.implements(lambda_.IDestination)
class QueueDestination:
    """An asynchronous invocation's on-failure queue, like ``aws_lambda_destinations.SqsDestination``
    but with the data key only through SQS (that helper grants it unconditioned)."""

    def __init__(self, queue: sqs.Queue, security: Security) -> None:
        self.queue, self.security = queue, security

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        self.queue.grant(fn, "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        self.security.grant_data_key(fn, "sqs", SEND_KEY)
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)
