"""End User Messaging SMS: the two-way number, its inbound path, and delivery events.

Inbound:  number ──two-way──▶ SNS ``InboundTopic`` ──▶ SQS ``InboundQueue`` (+ DLQ) ──▶ inbound_sms
Events:   configuration set ──event destination──▶ SNS ``EventsTopic`` ──▶ SQS ``EventsQueue`` (+ DLQ)
          ──▶ delivery_status

Both paths go through a queue rather than an SNS → Lambda subscription: the handlers answer with
partial batch responses, SQS retries only the failed records, and a record that keeps failing
lands in a DLQ that alarms, instead of SNS's short, invisible retry policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from stacks.access import grant_consume
from stacks.config import Deployment
from stacks.keywords import MANDATORY_KEYWORDS, STOP_MESSAGE, number_keywords
from stacks.security import Security
from text311.i18n import catalog

MAX_RECEIVE_COUNT = 5
BATCH_SIZE = 10


@dataclass(frozen=True)
class QueuedTopic:
    topic: sns.Topic
    queue: sqs.Queue
    dlq: sqs.Queue

    @property
    def topic_policy(self) -> IConstruct:
        """The topic's resource policy (End User Messaging checks it when the destination is set)."""
        return self.topic.node.find_child("Policy")


def dead_lettered_queue(
    scope: Construct,
    name: str,
    security: Security,
    *,
    visibility: Duration,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    retention: Duration = Duration.days(4),
) -> tuple[sqs.Queue, sqs.Queue]:
    """A work queue and its DLQ (after ``max_receive_count`` receives), both under the data key and
    refusing plain HTTP. The DLQ keeps 14 days, SQS's maximum: time to read and redrive."""
    dlq = sqs.Queue(
        scope,
        f"{name}Dlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=security.data_key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    queue = sqs.Queue(
        scope,
        f"{name}Queue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=security.data_key,
        data_key_reuse=Duration.hours(1),  # fewer KMS calls on a busy queue
        enforce_ssl=True,
        visibility_timeout=visibility,
        retention_period=retention,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=dlq),
    )
    return queue, dlq


def queued_topic(scope: Construct, name: str, security: Security, visibility: Duration) -> QueuedTopic:
    """SNS topic → SQS queue (+ DLQ after MAX_RECEIVE_COUNT receives), all under the data key."""
    key = security.data_key
    queue, dlq = dead_lettered_queue(scope, name, security, visibility=visibility)
    topic = sns.Topic(scope, f"{name}Topic", master_key=key, enforce_ssl=True)
    # End User Messaging publishes here (two-way SMS, delivery events), for this account only.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEndUserMessagingPublish",
            principals=[iam.ServicePrincipal("sms-voice.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        )
    )
    subscribe_queue(scope, name, topic, queue)
    return QueuedTopic(topic=topic, queue=queue, dlq=dlq)


def subscribe_queue(scope: Construct, name: str, topic: sns.Topic, queue: sqs.Queue) -> None:
    """SNS → SQS, written out rather than ``SqsSubscription``: that helper adds a statement naming the
    topic to the key policy, and the topic is encrypted with the same key, so CloudFormation would see
    a cycle. SNS gets the data key through ``Security.allow_service`` (this account only) instead, and
    the queue accepts only this topic."""
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": topic.topic_arn}},
        )
    )
    # The handlers parse the SNS envelope (SnsNotificationModel): no raw message delivery.
    sns.Subscription(
        scope,
        f"{name}Subscription",
        topic=topic,
        endpoint=queue.queue_arn,
        protocol=sns.SubscriptionProtocol.SQS,
        raw_message_delivery=False,
    )


def poll_queue(function: lambda_.IFunction, queue: sqs.IQueue, security: Security) -> None:
    """``function`` reads ``queue`` in batches with partial batch responses: SqsEventSource's mapping
    (and its logical id), with the data key granted through SQS only (SqsEventSource grants it
    without a condition)."""
    function.add_event_source_mapping(
        f"SqsEventSource:{Names.node_unique_id(queue.node)}",
        event_source_arn=queue.queue_arn,
        batch_size=BATCH_SIZE,
        max_batching_window=Duration.seconds(1),
        report_batch_item_failures=True,
        max_concurrency=5,
    )
    grant_consume(function, queue, security)


class Messaging(Construct):
    """The SMS side. ``origination_identity`` / ``configuration_set_arn`` feed the functions' settings."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        security: Security,
        function_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        visibility = Duration.seconds(function_timeout.to_seconds() * 6)
        self.security = security
        security.allow_service("sms-voice.amazonaws.com", ["kms:GenerateDataKey*", "kms:Decrypt"])
        security.allow_service("sns.amazonaws.com", ["kms:GenerateDataKey*", "kms:Decrypt"])
        self.inbound = queued_topic(self, "Inbound", security, visibility)
        self.events = queued_topic(self, "Events", security, visibility)

        self.configuration_set = smsvoice.CfnConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name="text311",
            event_destinations=[
                smsvoice.CfnConfigurationSet.EventDestinationProperty(
                    enabled=True,
                    event_destination_name="delivery-events",
                    matching_event_types=["TEXT_ALL"],
                    sns_destination=smsvoice.CfnConfigurationSet.SnsDestinationProperty(
                        topic_arn=self.events.topic.topic_arn
                    ),
                )
            ],
        )
        # Publishing a test event happens when the destination is created: the policy must exist.
        self.configuration_set.node.add_dependency(self.events.topic_policy)

        self.opt_out_list: smsvoice.CfnOptOutList | None = None
        self.numbers = list(deployment.sms_numbers)
        if deployment.creates_number:
            self.opt_out_list = smsvoice.CfnOptOutList(self, "OptOutList", opt_out_list_name="text311")
            self.phone_number = smsvoice.CfnPhoneNumber(
                self,
                "PhoneNumber",
                iso_country_code=deployment.sms_iso_country,
                number_type=deployment.sms_number_type,
                number_capabilities=["SMS"],
                mandatory_keywords=smsvoice.CfnPhoneNumber.MandatoryKeywordsProperty(
                    help=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(
                        message=catalog().help_text(deployment.support_contact)
                    ),
                    stop=smsvoice.CfnPhoneNumber.MandatoryKeywordProperty(message=STOP_MESSAGE),
                ),
                optional_keywords=optional_keywords(deployment.support_contact),
                opt_out_list_name=self.opt_out_list.opt_out_list_name,
                self_managed_opt_outs_enabled=False,
                deletion_protection_enabled=True,
                two_way=smsvoice.CfnPhoneNumber.TwoWayProperty(
                    enabled=True, channel_arn=self.inbound.topic.topic_arn
                ),
            )
            self.phone_number.node.add_dependency(self.opt_out_list, self.inbound.topic_policy)
            # Kept on destroy: a bought number is residents' known address and deletion protection
            # would fail the stack's deletion; its opt-out list is kept too (residents' STOPs, and End
            # User Messaging refuses to delete a list a number still uses). docs/deploy.md, "Destroy".
            self.phone_number.apply_removal_policy(RemovalPolicy.RETAIN)
            self.opt_out_list.apply_removal_policy(RemovalPolicy.RETAIN)
            self.origination_identity = self.phone_number.attr_arn
            self.numbers.append(self.phone_number.attr_phone_number)
        else:
            self.origination_identity = deployment.sms_origination_identity

    @property
    def configuration_set_arn(self) -> str:
        return self.configuration_set.attr_arn

    @property
    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        return {"inbound SMS": self.inbound.dlq, "SMS delivery events": self.events.dlq}

    def grant_send_sms(self, grantee: iam.IGrantable) -> None:
        """SendTextMessage from our number (or pool), through our configuration set, nothing else."""
        resources = [self.origination_identity, self.configuration_set_arn]
        if self.opt_out_list is not None:
            resources.append(self.opt_out_list.attr_arn)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sms-voice:SendTextMessage"], resources=resources)
        )

    def connect(self, inbound_sms: lambda_.IFunction, delivery_status: lambda_.IFunction) -> None:
        poll_queue(inbound_sms, self.inbound.queue, self.security)
        poll_queue(delivery_status, self.events.queue, self.security)


def optional_keywords(support_contact: str) -> list[smsvoice.CfnPhoneNumber.OptionalKeywordProperty]:
    """Every language's keywords from the core's templates (AIDE, ARRET, START…), answered by the number
    itself, so the functions do not answer them again (ANSWER_KEYWORDS=false)."""
    return [
        smsvoice.CfnPhoneNumber.OptionalKeywordProperty(keyword=k.keyword, action=k.action, message=k.message)
        for k in number_keywords(support_contact)
        if k.keyword not in MANDATORY_KEYWORDS
    ]
