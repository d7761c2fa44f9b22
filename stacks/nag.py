"""cdk-nag (AwsSolutions) suppressions: each on its own resource, each with the reason it does not apply.

Nothing is suppressed for the whole stack. ``docs/infrastructure.md`` lists the same suppressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct

from stacks.access import TRANSLATE_POLICY

if TYPE_CHECKING:
    from stacks.region_stack import RegionStack

KMS_GRANT = (
    "The table and queue grants name the region's data key by ARN, usable only through DynamoDB or SQS "
    "(kms:ViaService); kms:GenerateDataKey* and kms:ReEncrypt* are the action families DynamoDB/SQS "
    "encryption with a customer-managed key needs (GenerateDataKey, GenerateDataKeyWithoutPlaintext, "
    "ReEncryptFrom/To), as CDK's own table and queue grants give them, on that one key."
)
TABLE_INDEXES = (
    "inbound_sms and inbound_email keep CDK's read/write grant on the conversations table and its indexes "
    "(GSI by-resident, LSI by-activity); IAM names an index only as <table ARN>/index/<name>, and this "
    "wildcard is limited to that table. The other functions name each index they query."
)
TRANSLATE = (
    "Amazon Translate's TranslateText has no resource-level permission for a plain translation (only a "
    "custom terminology or parallel data has an ARN, and none is used), so IAM requires Resource '*'. "
    "The statement is alone in its policy, on the three functions that translate."
)
XRAY = (
    "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
    "permissions, so AWS requires Resource '*' (added by CDK for Tracing.ACTIVE)."
)


def _nag(rule: str, reason: str, applies_to: list[str | dict[str, str]] | None = None) -> NagPackSuppression:
    return NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)


def _suppress(construct: IConstruct, *suppressions: NagPackSuppression, children: bool = False) -> None:
    NagSuppressions.add_resource_suppressions(construct, list(suppressions), apply_to_children=children)


def suppress(stack: RegionStack) -> None:
    _suppress_console(stack)
    security, functions = stack.security, stack.functions

    for secret, why in (
        (
            security.token_secret,
            "Reply-token keys rotate by adding a new key id (k2) to the JSON object and signing "
            "with it while k1 still verifies; a Secrets Manager rotation Lambda would replace k1 "
            "and break every reply-to address already sent to agents.",
        ),
        (
            security.phone_hash_secret,
            "The phone-hash key is the look-up key of every resident item: rotating it "
            "means re-keying the residents table, a planned migration, not a scheduled rotation.",
        ),
    ):
        _suppress(secret, _nag("AwsSolutions-SMG4", why))

    _suppress(
        functions.email_failures,
        _nag(
            "AwsSolutions-SQS3",
            "This queue is the inbound_email function's on-failure destination, i.e. the "
            "dead-letter queue of SES's asynchronous invocations; it is alarmed on its first message.",
        ),
    )

    for name, function in functions.all.items():
        role = function.role
        assert role is not None
        table_index = {"regex": "/^Resource::<DataConversationsTable[0-9A-F]+\\.Arn>\\/index\\/\\*$/g"}
        role_suppressions = [
            _nag("AwsSolutions-IAM5", KMS_GRANT, ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]),
        ]
        if name in ("inbound_sms", "inbound_email"):
            role_suppressions.append(_nag("AwsSolutions-IAM5", TABLE_INDEXES, [table_index]))
        if name == "inbound_email":
            role_suppressions.append(
                _nag(
                    "AwsSolutions-IAM5",
                    "SES stores each agent answer at inbound/<SES message id>; the function "
                    "reads the one object its event names, so s3:GetObject is limited to that prefix.",
                    [{"regex": "/^Resource::<EmailRawMailBucket[0-9A-F]+\\.Arn>\\/inbound\\/\\*$/g"}],
                )
            )
        _suppress(role, *role_suppressions, children=True)
        translate = function.node.try_find_child(TRANSLATE_POLICY)
        if translate is not None:
            _suppress(translate, _nag("AwsSolutions-IAM5", TRANSLATE, ["Resource::*"]))
        for child in function.node.children:
            if child.node.id.startswith("inlinePolicyAddedToExecutionRole"):
                _suppress(child, _nag("AwsSolutions-IAM5", XRAY, ["Resource::*"]))
    # The receipt rule set's activation function carries its own suppression (stacks/email.py).


def _suppress_console(stack: RegionStack) -> None:
    console = stack.console
    if console is None:
        return
    distribution = [
        _nag(
            "AwsSolutions-CFR1",
            "The distribution serves only the console's static files, the same for every visitor and "
            "holding no data. Residents' data is behind the API (Cognito JWT), which CloudFront does "
            "not front; agents may sign in from anywhere and Cognito's threat protection (Plus, "
            "enforced) blocks risky sign-ins.",
        ),
        _nag(
            "AwsSolutions-CFR2",
            "A web ACL (from USD 5/month per region plus rules) would guard only static files. The API "
            "is an HTTP API, which AWS WAF cannot be attached to; it is limited by the JWT authorizer "
            "on every route and the stage's throttling.",
        ),
    ]
    if not console.settings.domain_name:
        distribution.append(
            _nag(
                "AwsSolutions-CFR4",
                "Served at its *.cloudfront.net name: CloudFront fixes the default certificate's "
                "security policy and it cannot be raised. Setting console.domain_name and "
                "certificate_arn in config/regions.yaml gives TLSv1.2_2021 (as us-east-1 does).",
            )
        )
    _suppress(console.distribution, *distribution)
    _suppress(
        console.log_bucket,
        _nag(
            "AwsSolutions-S1",
            "This bucket receives the console's CloudFront and site-bucket access logs; logging it "
            "into itself would loop. Only the log delivery services write here.",
        ),
    )
    for child in stack.node.children:
        # BucketDeployment's handler is a singleton Lambda that CDK creates at stack level.
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            _suppress(
                child,
                _nag(
                    "AwsSolutions-IAM4",
                    "CDK's BucketDeployment handler (copies console/ to the site bucket at deploy time "
                    "only) writes its logs with AWSLambdaBasicExecutionRole; it handles no data.",
                    ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                ),
                _nag(
                    "AwsSolutions-IAM5",
                    "CDK's BucketDeployment grants: read the console's asset zip in the CDK assets "
                    "bucket, write and prune the files of the console's site bucket. The wildcards "
                    "are limited to those two buckets' objects.",
                    [
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        {"regex": "/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-.*\\/\\*$/g"},
                        {"regex": "/^Resource::<ConsoleSiteBucket[0-9A-F]+\\.Arn>\\/\\*$/g"},
                    ],
                ),
                _nag(
                    "AwsSolutions-L1",
                    "CDK's BucketDeployment handler pins its own Python runtime alongside the AWS CLI "
                    "layer; it runs only during deployments.",
                ),
                children=True,
            )
