"""Amazon SES: sending identity and configuration set, and the receipt rule for agents' answers.

Outbound: functions send raw MIME through the configuration set (TLS required, events to SNS).
Inbound:  MX of the reply domain ──▶ receipt rule (scan, TLS required)
          ──action 1──▶ S3 ``RawMailBucket`` at ``inbound/<message id>`` (SSE-KMS with the data key)
          ──action 2──▶ inbound_email, invoked asynchronously (Event)
S3 comes first: when the function runs, the message it reads is already stored.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.config import Deployment
from stacks.security import Security

RAW_MAIL_PREFIX = "inbound/"
CONFIGURATION_SET_NAME = "text311"
RULE_SET_NAME = "text311"
RULE_NAME = "agent-answers"


@jsii.implements(ses.IReceiptRuleAction)
class StoreInBucket:
    """SES's S3 action with a bucket policy that names this account AND this receipt rule
    (``aws_ses_actions.S3`` only checks the account)."""

    def __init__(self, bucket: s3.Bucket, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix

    def bind(self, receipt_rule: ses.IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        stack = Stack.of(self.bucket)
        rule_arn = stack.format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{RULE_SET_NAME}:receipt-rule/{RULE_NAME}",
        )
        result = self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSesReceiptRulePut",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{self.prefix}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": rule_arn},
                },
            )
        )
        # SES writes a test object when the rule is created: the policy must exist first.
        if result.policy_dependable is not None:
            receipt_rule.node.add_dependency(result.policy_dependable)
        return ses.ReceiptRuleActionConfig(
            s3_action=ses.S3ActionConfig(bucket_name=self.bucket.bucket_name, object_key_prefix=self.prefix)
        )


class Email(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment, security: Security
    ) -> None:
        super().__init__(scope, construct_id)
        self.deployment = deployment
        stack = Stack.of(self)
        key = security.data_key

        # SES writes into the KMS-encrypted bucket and publishes to the KMS-encrypted topic.
        security.allow_service("ses.amazonaws.com", ["kms:GenerateDataKey*", "kms:Decrypt"])

        self.events_topic = sns.Topic(self, "EventsTopic", master_key=key, enforce_ssl=True)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=CONFIGURATION_SET_NAME,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            reputation_metrics=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.configuration_set.add_event_destination(
            "Events",
            configuration_set_event_destination_name="email-events",
            destination=ses.EventDestination.sns_topic(self.events_topic),
            events=[
                ses.EmailSendingEvent.BOUNCE,
                ses.EmailSendingEvent.COMPLAINT,
                ses.EmailSendingEvent.DELIVERY,
                ses.EmailSendingEvent.REJECT,
            ],
        )
        self.identity = ses.EmailIdentity(
            self,
            "SenderIdentity",
            identity=ses.Identity.domain(deployment.sender_domain),
            configuration_set=self.configuration_set,
        )
        self.identity_arn = stack.format_arn(
            service="ses", resource="identity", resource_name=deployment.sender_domain
        )
        self.configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=CONFIGURATION_SET_NAME
        )

        self.log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logs support
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(deployment.retention_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "RawMailBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="raw-mail/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    prefix=RAW_MAIL_PREFIX,
                    expiration=Duration.days(deployment.retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,  # agents' answers to residents
        )

    @property
    def environment(self) -> dict[str, str]:
        return {
            "SENDER_ADDRESS": self.deployment.sender_address,
            "REPLY_DOMAIN": self.deployment.reply_domain,
            "SES_CONFIGURATION_SET": CONFIGURATION_SET_NAME,
            "RAW_MAIL_BUCKET": self.bucket.bucket_name,
            "RAW_MAIL_PREFIX": RAW_MAIL_PREFIX,
        }

    def grant_send_email(self, grantee: iam.IGrantable) -> None:
        """ses:SendEmail/SendRawEmail from our domain identity through our configuration set."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[self.identity_arn, self.configuration_set_arn],
            )
        )

    def grant_read_raw_mail(self, grantee: iam.IGrantable) -> None:
        """GetObject under ``inbound/`` only (and Decrypt on the data key, through S3 only)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(f"{RAW_MAIL_PREFIX}*")]
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.bucket.encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            )
        )

    def receive(self, inbound_email: lambda_.IFunction) -> ses.ReceiptRuleSet:
        """The receipt rule set for the reply domain, activated (SES has one active rule set per region)."""
        rule_set = ses.ReceiptRuleSet(
            self,
            "ReceiptRuleSet",
            receipt_rule_set_name=RULE_SET_NAME,
            rules=[
                ses.ReceiptRuleOptions(
                    receipt_rule_name=RULE_NAME,
                    recipients=[self.deployment.reply_domain],
                    scan_enabled=True,
                    tls_policy=ses.TlsPolicy.REQUIRE,
                    actions=[
                        StoreInBucket(self.bucket, RAW_MAIL_PREFIX),
                        actions.Lambda(
                            function=inbound_email, invocation_type=actions.LambdaInvocationType.EVENT
                        ),
                    ],
                )
            ],
        )
        set_active = cr.AwsSdkCall(
            service="SES",
            action="setActiveReceiptRuleSet",
            parameters={"RuleSetName": RULE_SET_NAME},
            physical_resource_id=cr.PhysicalResourceId.of(f"text311-active-rule-set-{Stack.of(self).region}"),
        )
        self.activation = cr.AwsCustomResource(
            self,
            "ActivateRuleSet",
            on_create=set_active,
            on_update=set_active,
            # Deactivate on delete: SES refuses to delete the active rule set.
            on_delete=cr.AwsSdkCall(service="SES", action="setActiveReceiptRuleSet", parameters={}),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    # SetActiveReceiptRuleSet has no resource-level permissions: "*" is the only resource.
                    iam.PolicyStatement(actions=["ses:SetActiveReceiptRuleSet"], resources=["*"]),
                ]
            ),
            install_latest_aws_sdk=False,
        )
        self.activation.node.add_dependency(rule_set)
        return rule_set
