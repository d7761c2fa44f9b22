"""Amazon SES: sending identity and configuration set, and the receipt rule for agents' answers.

Outbound: functions send raw MIME through the configuration set (TLS required, events to SNS).
Inbound:  MX of the reply domain ──▶ receipt rule (scan, TLS required), in the rule set config chooses
          ──action 1──▶ S3 ``RawMailBucket`` at ``inbound/<message id>`` (SSE-KMS with the data key)
          ──action 2──▶ inbound_email, invoked asynchronously (Event)
S3 comes first: when the function runs, the message it reads is already stored.
Where SES cannot receive, the rule lives in another region (``stacks/mail_region.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import CfnOutput, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.config import Deployment
from stacks.messaging import dead_lettered_queue, poll_queue, subscribe_queue
from stacks.packaging import plain_function
from stacks.security import Security
from text311.receipt_names import rule_name

RAW_MAIL_PREFIX = "inbound/"
CONFIGURATION_SET_NAME = "text311"
# The custom resource answers CloudFormation within its own timeout (functions/receipt_rule_set: bounded
# SES calls, a guard on the time left); ServiceTimeout bounds CloudFormation's wait even if it never does.
ACTIVATION_TIMEOUT = Duration.seconds(120)
ACTIVATION_SERVICE_TIMEOUT = Duration.seconds(300)


def receipt_rule_arn(stack: Stack, rule_set_name: str, rule: str) -> str:
    """Our receipt rule's ARN from its names: the rule's permissions name it without a reference to the
    rule, which depends on them (a reference would be a cycle)."""
    return stack.format_arn(
        service="ses", resource="receipt-rule-set", resource_name=f"{rule_set_name}:receipt-rule/{rule}"
    )


@jsii.implements(ses.IReceiptRuleAction)
class StoreInBucket:
    """SES's S3 action with a bucket policy that names this account AND this receipt rule
    (``aws_ses_actions.S3`` only checks the account)."""

    def __init__(self, bucket: s3.Bucket, prefix: str, rule_set_name: str, rule: str) -> None:
        self.bucket, self.prefix, self.rule_set_name, self.rule = bucket, prefix, rule_set_name, rule

    def bind(self, receipt_rule: ses.IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        stack = Stack.of(self.bucket)
        rule_arn = receipt_rule_arn(stack, self.rule_set_name, self.rule)
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
        self.security = security
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
                # SEND confirms a mail SES took, for the text whose invocation stopped before recording it
                # (text311/mail_confirmations.py); BOUNCE, COMPLAINT, DELIVERY_DELAY and DELIVERY set what
                # became of a text's mail (text311/mail_feedback.py). The mail_events function reads the topic.
                ses.EmailSendingEvent.SEND,
                ses.EmailSendingEvent.BOUNCE,
                ses.EmailSendingEvent.COMPLAINT,
                ses.EmailSendingEvent.DELIVERY,
                ses.EmailSendingEvent.DELIVERY_DELAY,
                ses.EmailSendingEvent.REJECT,
            ],
        )
        self.identity = ses.EmailIdentity(
            self,
            "SenderIdentity",
            identity=ses.Identity.domain(deployment.sender_domain),
            configuration_set=self.configuration_set,
            # Bounces return to bounce.<domain>: SPF then aligns with the From domain (DMARC).
            mail_from_domain=deployment.mail_from_domain,
        )
        self.identity_arn = stack.format_arn(
            service="ses", resource="identity", resource_name=deployment.sender_domain
        )
        self.configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=CONFIGURATION_SET_NAME
        )

        self.log_bucket, self.bucket = mail_buckets(
            self, "RawMailBucket", key=key, retention_days=deployment.retention_days,
            expiration_days=deployment.retention_days, log_prefix="raw-mail/",
        )  # agents' answers to residents

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

    def confirm_sends(self, mail_events: lambda_.IFunction, *, visibility: Duration) -> sqs.Queue:
        """The events topic → a queue (+ DLQ) → ``mail_events``, which notes each Send event of a
        resident text's mail (text311/mail_confirmations.py). Returns the DLQ, for its alarm."""
        queue, dlq = dead_lettered_queue(self, "SendEvents", self.security, visibility=visibility)
        subscribe_queue(self, "SendEvents", self.events_topic, queue)
        poll_queue(mail_events, queue, self.security)
        return dlq

    def receive(self, inbound_email: lambda_.IFunction) -> Receiving | None:
        """The receipt rule for the reply domain, here when SES receives in this region.

        In a region where SES cannot receive, ``stacks/mail_region.py`` builds the same rule in the
        receiving region and relays each answer into this stack's bucket and function.
        """
        if self.deployment.receives_remotely:
            self.receiving = None
        else:
            self.receiving = Receiving(
                self, "Receiving", deployment=self.deployment, bucket=self.bucket, target=inbound_email,
                log_key=self.security.data_key,
            )
        return self.receiving

    def publish_dns(self) -> None:
        """Outputs with every record the domain owner publishes; Route 53 records when a zone is configured."""
        deployment = self.deployment
        records = sender_records(deployment, self.identity)
        for name, record in records.items():
            CfnOutput(self, f"Dns{name}", value=record.line, description=record.purpose)
        if deployment.route53_hosted_zone_id:
            for name, record in records.items():
                if name != "Dmarc":  # a recommendation: an existing DMARC policy must not be overwritten
                    record.publish(self, f"Record{name}", deployment.route53_hosted_zone_id)


@dataclass(frozen=True)
class DnsRecord:
    """One DNS record the domain owner publishes (``line`` is zone-file style)."""

    name: str
    type: str
    value: str
    purpose: str

    @property
    def line(self) -> str:
        return f"{self.name} {self.type} {self.value}"

    def publish(self, scope: Construct, construct_id: str, hosted_zone_id: str) -> route53.CfnRecordSet:
        value = f'"{self.value}"' if self.type == "TXT" else self.value
        return route53.CfnRecordSet(
            scope,
            construct_id,
            hosted_zone_id=hosted_zone_id,
            name=self.name,
            type=self.type,
            ttl="1800",
            resource_records=[value],
        )


def inbound_mx(deployment: Deployment) -> DnsRecord:
    return DnsRecord(
        deployment.reply_domain,
        "MX",
        f"10 inbound-smtp.{deployment.receiving_region}.amazonaws.com",
        f"agents' answers reach SES in {deployment.receiving_region}",
    )


def dkim_records(identity: ses.EmailIdentity, domain: str) -> dict[str, DnsRecord]:
    tokens = (
        (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
        (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
        (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
    )
    return {
        f"Dkim{index}": DnsRecord(name, "CNAME", value, f"Easy DKIM for {domain}")
        for index, (name, value) in enumerate(tokens, start=1)
    }


def sender_records(deployment: Deployment, identity: ses.EmailIdentity) -> dict[str, DnsRecord]:
    region = Stack.of(identity).region
    return {
        "InboundMx": inbound_mx(deployment),
        **dkim_records(identity, deployment.sender_domain),
        "MailFromMx": DnsRecord(
            deployment.mail_from_domain, "MX", f"10 feedback-smtp.{region}.amazonses.com", "custom MAIL FROM"
        ),
        "MailFromSpf": DnsRecord(deployment.mail_from_domain, "TXT", SPF, "custom MAIL FROM: SPF"),
        "Dmarc": DnsRecord(f"_dmarc.{deployment.sender_domain}", "TXT", dmarc(deployment), "recommended DMARC"),
    }


SPF = "v=spf1 include:amazonses.com ~all"


def dmarc(deployment: Deployment) -> str:
    # Start at p=none with aggregate reports; move to quarantine once the reports show only SES.
    return f"v=DMARC1; p=none; rua=mailto:{deployment.alarm_email}"


class Receiving(Construct):
    """The agent-answers receipt rule (S3 first, then ``target``) in the rule set config chooses, and
    the custom resource that activates that set (``create_and_activate``) or checks it is active
    (``existing``). Used in the SMS region's stack, or in the mail stack of another region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        bucket: s3.Bucket,
        target: lambda_.IFunction,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = deployment.receipt_rule_set
        # Both names carry the SMS region: another region's mail stack may receive beside this one.
        self.rule_set_name, self.rule_name = deployment.rule_set_name, rule_name(deployment.region)
        # SES may invoke the target for this account's rule only. Named "AllowSes" before the rule binds
        # its Lambda action, so that the action finds it and adds none of its own (account only).
        target.add_permission(
            "AllowSes",
            principal=iam.ServicePrincipal("ses.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=Stack.of(self).account,
            source_arn=receipt_rule_arn(Stack.of(self), self.rule_set_name, self.rule_name),
        )
        if settings.activates:
            rule_set: ses.IReceiptRuleSet = ses.ReceiptRuleSet(
                self, "RuleSet", receipt_rule_set_name=self.rule_set_name
            )
        else:  # another application's active set: we add a rule and never own the set
            rule_set = ses.ReceiptRuleSet.from_receipt_rule_set_name(self, "RuleSet", self.rule_set_name)
        self.rule = ses.ReceiptRule(
            self,
            "Rule",
            rule_set=rule_set,
            receipt_rule_name=self.rule_name,
            recipients=[deployment.reply_domain],
            scan_enabled=True,
            tls_policy=ses.TlsPolicy.REQUIRE,
            actions=[
                StoreInBucket(bucket, RAW_MAIL_PREFIX, self.rule_set_name, self.rule_name),
                actions.Lambda(function=target, invocation_type=actions.LambdaInvocationType.EVENT),
            ],
        )
        self.function = plain_function(
            self,
            "ActivationFunction",
            "receipt_rule_set",
            log_retention_days=deployment.log_retention_days,
            log_key=log_key,
            description="Deploy time: activates the SES receipt rule set, never over another application's",
            timeout=ACTIVATION_TIMEOUT,
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                # Neither action supports resource-level permissions: "*" is the only resource.
                actions=["ses:DescribeActiveReceiptRuleSet"]
                + (["ses:SetActiveReceiptRuleSet"] if settings.activates else []),
                resources=["*"],
            )
        )
        self.activation = CustomResource(
            self,
            "Activation",
            service_token=self.function.function_arn,
            resource_type="Custom::SesActiveReceiptRuleSet",
            service_timeout=ACTIVATION_SERVICE_TIMEOUT,
            properties={
                "RuleSetName": self.rule_set_name,
                "Mode": "activate" if settings.activates else "verify",
                "ReplaceActive": str(settings.replace_active).lower(),
            },
        )
        # Activate (or check) once the rule exists: an active set without our rule drops answers.
        self.activation.node.add_dependency(self.rule)

    def suppress_nag(self) -> None:
        # CDK puts the statement in the role's policy or in an inline policy under the function,
        # depending on feature flags: both carry the same suppression.
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="ses:DescribeActiveReceiptRuleSet and ses:SetActiveReceiptRuleSet support no "
                    "resource-level permissions (one active rule set per account and region); this "
                    "deploy-time function's role may call only those.",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )


def mail_buckets(
    scope: Construct, bucket_id: str, *, key: kms.IKey, retention_days: int, expiration_days: int, log_prefix: str
) -> tuple[s3.Bucket, s3.Bucket]:
    """The bucket SES's S3 action writes raw mail to (KMS, TLS only, no public access, objects under
    ``RAW_MAIL_PREFIX`` expire) and its access-log bucket. Both retained: they hold residents' data."""
    log_bucket = s3.Bucket(
        scope,
        "AccessLogBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logs support
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    bucket = s3.Bucket(
        scope,
        bucket_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=log_bucket,
        server_access_logs_prefix=log_prefix,
        lifecycle_rules=[
            s3.LifecycleRule(
                prefix=RAW_MAIL_PREFIX,
                expiration=Duration.days(expiration_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    return log_bucket, bucket
