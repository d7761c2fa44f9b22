"""One region's Text311: the constructs composed, cdk-nag suppressions with their reasons."""

from __future__ import annotations

import json

from aws_cdk import App, CfnOutput, Duration, Environment, Stack, Tags
from constructs import Construct

from stacks.config import ROOT, Config, Deployment
from stacks.console import Console
from stacks.data import Data
from stacks.email import Email
from stacks.functions import SQS_FUNCTION_TIMEOUT, Functions
from stacks.mail_region import MailRegionStack, MailRelayTarget
from stacks.messaging import Messaging
from stacks.nag import suppress
from stacks.observability import Observability
from stacks.outbound import Outbound
from stacks.security import Security


class RegionStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.deployment = deployment
        self.mail_stack: MailRegionStack | None = None
        Tags.of(self).add("project", "text311")

        self.security = Security(self, "Security")
        self.security.allow_service("cloudwatch.amazonaws.com", ["kms:GenerateDataKey*", "kms:Decrypt"])
        self.data = Data(self, "Data", key=self.security.data_key)
        self.messaging = Messaging(
            self,
            "Messaging",
            deployment=deployment,
            security=self.security,
            function_timeout=SQS_FUNCTION_TIMEOUT,
        )
        self.email = Email(self, "Email", deployment=deployment, security=self.security)
        # One identity per stack today, so one outbound queue, paced at that identity's MPS.
        self.outbound = Outbound(
            self,
            "Outbound",
            security=self.security,
            identity=self.messaging.origination_identity,
            mps=deployment.mps,
        )
        # Built before the functions: they all link to the console (CONSOLE_URL is its URL).
        self.console = (
            Console(self, "Console", settings=deployment.console, log_key=self.security.data_key)
            if deployment.console is not None
            else None
        )
        self.functions = Functions(
            self,
            "Functions",
            deployment=deployment,
            security=self.security,
            data=self.data,
            messaging=self.messaging,
            email=self.email,
            outbound=self.outbound,
            console=self.console,
        )
        if self.console is not None:
            assert self.functions.console_api is not None
            self.console.serve(self.functions.console_api)
        self.messaging.connect(self.functions.inbound_sms, self.functions.delivery_status)
        self.email.receive(self.functions.inbound_email)
        send_events_dlq = self.email.confirm_sends(
            self.functions.mail_events, visibility=Duration.seconds(SQS_FUNCTION_TIMEOUT.to_seconds() * 6))
        # Where SES cannot receive here, Text311-mail-<region> relays answers into this stack.
        self.mail_relay = (
            MailRelayTarget(
                self, "MailRelay", deployment=deployment, email=self.email, inbound_email=self.functions.inbound_email
            )
            if deployment.receives_remotely
            else None
        )
        self.email.publish_dns()
        self.observability = Observability(
            self,
            "Observability",
            alarm_email=deployment.alarm_email,
            key=self.security.data_key,
            functions=self.functions.all,
            inbound_queue=self.messaging.inbound.queue,
            dead_letter_queues={
                **self.messaging.dead_letter_queues,
                "inbound email failures": self.functions.email_failures,
                "outbound SMS": self.outbound.dlq,
                "SES send events": send_events_dlq,
            },
            outbound=self.outbound,
            api=self.console.api if self.console else None,
        )
        CfnOutput(
            self,
            "InboundTopicArn",
            value=self.messaging.inbound.topic.topic_arn,
            description="Two-way channel for an existing number or pool (set it in End User Messaging)",
        )
        CfnOutput(self, "OriginationIdentity", value=self.messaging.origination_identity)
        CfnOutput(self, "OutboundQueueUrl", value=self.outbound.queue.queue_url, description="Queued SMS")
        CfnOutput(self, "RawMailBucketName", value=self.email.bucket.bucket_name)
        CfnOutput(
            self,
            "MailReceivingRegion",
            value=deployment.receiving_region,
            description="Where SES receives agents' answers (the MX target's region)",
        )
        if self.console is not None:
            CfnOutput(self, "ConsoleUrl", value=self.console.url, description="The agents' console")
            CfnOutput(self, "ConsoleApiUrl", value=self.console.api.api_endpoint, description="Console API")
            CfnOutput(self, "UserPoolId", value=self.console.user_pool.user_pool_id, description="Agents")
            CfnOutput(self, "UserPoolClientId", value=self.console.client.user_pool_client_id)
            CfnOutput(self, "CognitoDomain", value=self.console.cognito_url, description="Hosted sign-in")
        suppress(self)
        if self.email.receiving is not None:
            self.email.receiving.suppress_nag()


def build_stacks(scope: Construct, config: Config) -> list[RegionStack]:
    """One ``Text311-<region>`` stack per deployment; account from config, else environment-agnostic.

    A deployment whose region cannot receive email also gets ``Text311-mail-<region>`` in its
    ``mail_receiving_region`` (``stack.mail_stack``), deployed after it.
    """
    stacks = []
    for deployment in config.deployments:
        stack = RegionStack(
            scope,
            deployment.stack_name,
            deployment=deployment,
            env=Environment(account=deployment.account, region=deployment.region),
            description=f"Text311 in {deployment.region}: residents text 311, agents answer by email",
        )
        if deployment.receives_remotely:
            stack.mail_stack = MailRegionStack(
                scope,
                deployment.mail_stack_name,
                deployment=deployment,
                env=Environment(account=deployment.account, region=deployment.receiving_region),
                description=f"Text311 mail for {deployment.region}: SES receives agents' answers here",
            )
            # It imports the forwarder role and reads parameters that the SMS-region stack creates.
            stack.mail_stack.add_stack_dependency(stack, "imports its forwarder role and parameters")
        stacks.append(stack)
    return stacks


def create_app(outdir: str | None = None) -> App:
    """An App with cdk.json's context (feature flags), also when not started by the CDK CLI (tests)."""
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return App(context=context, outdir=outdir)
