"""SES receiving for a region where SES cannot receive email: the companion stack ``Text311-mail-<region>``.

Design (docs/deploy.md, "Mail region"): SES receives in ``mail_receiving_region``; the receipt rule
stores the answer in a bucket THERE, then invokes a small forwarder THERE, which copies the message
into the SMS region's ``RawMailBucket`` (same key) and invokes the SMS region's ``inbound_email``
asynchronously with the SES event unchanged. So ``inbound_email``, its checks, its idempotency, its
retries and its failure queue are exactly those of a region that receives itself, and the residents'
data (tables, phone numbers, the stored answers) stays in the SMS region.

    MX ─▶ SES (receiving region) ─1─▶ S3 RelayBucket ─2─▶ mail_forwarder ─▶ S3 RawMailBucket (SMS region)
                                                                   └─────▶ inbound_email (Event, SMS region)

The SMS-region stack (deployed first) owns what the forwarder may touch: an IAM role with a fixed name
granting PutObject under ``inbound/`` of its bucket, the data key through S3, InvokeFunction on
``inbound_email`` and GetParameter on two SSM parameters naming the function and the bucket. The mail
stack imports that role by name and reads the parameters at cold start: no cross-region CloudFormation
references (which CDK implements with extra custom resources in both stacks).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.config import Deployment
from stacks.email import RAW_MAIL_PREFIX, Email, Receiving, dkim_records, mail_buckets
from stacks.packaging import plain_function
from stacks.security import allow_log_groups

# The forwarder keeps its copy only until the SMS region has it; a week covers Lambda's 6-hour retry
# window and a redrive from the failure queue, without keeping residents' answers twice for a year.
RELAY_COPY_DAYS = 7


def relay_role_name(deployment: Deployment) -> str:
    return f"text311-mail-relay-{deployment.region}"


def relay_parameter_prefix(deployment: Deployment) -> str:
    return f"/text311/{deployment.region}/mail-relay/"


class MailRelayTarget(Construct):
    """In the SMS region's stack: the forwarder's role (exact grants) and the parameters naming its targets."""

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment, email: Email,
        inbound_email: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        prefix = relay_parameter_prefix(deployment)
        self.function_parameter = ssm.StringParameter(
            self, "InboundEmailFunction", parameter_name=f"{prefix}inbound-email-function",
            string_value=inbound_email.function_arn, description="Text311 mail relay: where answers go",
        )
        self.bucket_parameter = ssm.StringParameter(
            self, "RawMailBucket", parameter_name=f"{prefix}raw-mail-bucket",
            string_value=email.bucket.bucket_name, description="Text311 mail relay: where answers are stored",
        )
        # Fixed name: the mail stack, in another region, imports it (IAM roles are global).
        self.role = iam.Role(
            self,
            "ForwarderRole",
            role_name=relay_role_name(deployment),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Text311 mail forwarder from {deployment.receiving_region} to {deployment.region}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[self.function_parameter.parameter_arn, self.bucket_parameter.parameter_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[email.bucket.arn_for_objects(f"{RAW_MAIL_PREFIX}*")]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[email.bucket.encryption_key.key_arn],  # type: ignore[union-attr]
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[inbound_email.function_arn])
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="The forwarder writes one object per SES message id under inbound/ of this "
                    "region's raw-mail bucket; PutObject only, limited to that prefix.",
                    applies_to=[{"regex": "/^Resource::<EmailRawMailBucket[0-9A-F]+\\.Arn>\\/inbound\\/\\*$/g"}],
                )
            ],
            apply_to_children=True,
        )


class MailRegionStack(Stack):
    """``Text311-mail-<sms region>``, deployed in ``mail_receiving_region`` after ``Text311-<sms region>``."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.deployment = deployment
        Tags.of(self).add("project", "text311")
        account = self.account

        self.key = kms.Key(
            self,
            "MailKey",
            alias=f"alias/text311-mail-{deployment.region}",
            description=f"Text311: agents' answers received here for {deployment.region}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        allow_log_groups(self.key)  # the forwarder's and the activation function's log groups
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSes",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudwatch",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.log_bucket, self.bucket = mail_buckets(
            self, "RelayBucket", key=self.key, retention_days=deployment.retention_days,
            expiration_days=min(RELAY_COPY_DAYS, deployment.retention_days), log_prefix="relay/",
        )  # agents' answers to residents, until relayed
        # SES receives only for domains verified in the receiving region: the reply domain, Easy DKIM.
        self.identity = ses.EmailIdentity(self, "ReplyIdentity", identity=ses.Identity.domain(deployment.reply_domain))

        self.failures = sqs.Queue(
            self,
            "ForwarderFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        role = iam.Role.from_role_name(self, "ForwarderRole", relay_role_name(deployment), mutable=True)
        self.forwarder = plain_function(
            self,
            "Forwarder",
            "mail_forwarder",
            log_retention_days=deployment.log_retention_days,
            log_key=self.key,
            role=role,
            description=f"Copies agents' answers to {deployment.region} and invokes inbound_email there",
            timeout=Duration.seconds(60),
            memory=512,  # a raw message is read whole (SES stores at most 40 MB)
            environment={
                "SOURCE_BUCKET": self.bucket.bucket_name,
                "RAW_MAIL_PREFIX": RAW_MAIL_PREFIX,
                "TARGET_REGION": deployment.region,
                "TARGET_PARAMETER_PREFIX": relay_parameter_prefix(deployment),
            },
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.failures),
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(f"{RAW_MAIL_PREFIX}*")]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )
        self.receiving = Receiving(
            self, "Receiving", deployment=deployment, bucket=self.bucket, target=self.forwarder, log_key=self.key
        )

        self.alarm_topic = sns.Topic(self, "AlarmTopic", master_key=self.key, enforce_ssl=True)
        self.alarm_topic.add_subscription(subscriptions.EmailSubscription(deployment.alarm_email))
        alarm = cloudwatch.Alarm(
            self,
            "ForwarderFailuresAlarm",
            alarm_description="An agent's answer could not be relayed to the SMS region",
            metric=self.failures.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))

        records = dkim_records(self.identity, deployment.reply_domain)
        for name, record in records.items():
            CfnOutput(self, f"Dns{name}", value=record.line, description=record.purpose)
            if deployment.route53_hosted_zone_id:
                record.publish(self, f"Record{name}", deployment.route53_hosted_zone_id)
        self._suppress()

    def _suppress(self) -> None:
        self.receiving.suppress_nag()
        NagSuppressions.add_resource_suppressions(
            self.failures,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="This queue is the forwarder's on-failure destination, i.e. the dead-letter queue "
                    "of SES's asynchronous invocations; it is alarmed on its first message.",
                )
            ],
        )
        policy = self.node.try_find_child("ForwarderRole")
        if policy is not None:
            NagSuppressions.add_resource_suppressions(
                policy,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="SES stores each answer at inbound/<SES message id>; the forwarder reads the one "
                        "object its event names, so s3:GetObject is limited to that prefix.",
                        applies_to=[{"regex": "/^Resource::<RelayBucket[0-9A-F]+\\.Arn>\\/inbound\\/\\*$/g"}],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="CDK's grant to send to the KMS-encrypted failure queue names the mail key by "
                        "ARN; kms:GenerateDataKey* and kms:ReEncrypt* are the action families SQS "
                        "encryption with a customer-managed key needs, on that one key.",
                        applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                    ),
                ],
                apply_to_children=True,
            )
