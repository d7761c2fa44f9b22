"""Keys and secrets: the region's data key, the phone-number key, and the two HMAC key secrets."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

# text311.adapters.phone_vault encrypts with this encryption context; the grant requires it.
PHONE_CONTEXT = {"kms:EncryptionContext:purpose": "text311-phone"}

# The data key's actions a function needs through a service, as CDK's own grants would give them
# (``grant_data_key`` adds the kms:ViaService condition CDK's grants leave out).
DECRYPT = ("kms:Decrypt",)  # read an encrypted queue's messages
READ_KEY = ("kms:Decrypt", "kms:DescribeKey")  # read an encrypted table
WRITE_KEY = (*READ_KEY, "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")  # write an encrypted table
SEND_KEY = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")  # send to an encrypted queue


class Security(Construct):
    """
    - ``data_key``: customer-managed key (rotation on) for tables, queues, topics, the raw-mail bucket,
      the secrets and every log group. AWS services that write into those (SNS publishers, SES,
      CloudWatch Logs) are allowed on it in the key policy, limited to this account; functions get it
      only through the service that uses it (``grant_data_key``).
    - ``phone_key``: a second key used only by the code, to encrypt residents' numbers inside items
      (``PHONE_KEY_ID``). Every function that reads a table needs Decrypt on ``data_key``; keeping
      phone numbers under their own key means only the functions that must see a number can decrypt
      one (``inbound_sms``, ``inbound_email``, ``console_api``, ``mail_events``; ``sms_drainer``
      Decrypt only, see ``stacks/functions.py``), and every decryption is a distinct CloudTrail event
      on that key.
    - ``token_secret`` / ``phone_hash_secret``: JSON objects ``{"k1": "<64 chars>"}``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.data_key = kms.Key(
            self,
            "DataKey",
            description="Text311: tables, queues, topics, raw mail and secrets",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(30),
        )
        self.data_key.add_alias("alias/text311-data")
        allow_log_groups(self.data_key)
        self.phone_key = kms.Key(
            self,
            "PhoneKey",
            description="Text311: residents' phone numbers inside items (application-level encryption)",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(30),
        )
        self.phone_key.add_alias("alias/text311-phones")
        self.token_secret = self._key_secret(
            "ReplyTokenKeys", "Text311: HMAC keys that sign reply-to tokens, {key id: key}"
        )
        self.phone_hash_secret = self._key_secret(
            "PhoneHashKey", "Text311: HMAC key that turns a phone number into its look-up hash, {key id: key}"
        )

    def _key_secret(self, construct_id: str, description: str) -> secretsmanager.Secret:
        return secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            encryption_key=self.data_key,
            removal_policy=RemovalPolicy.RETAIN,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",
                generate_string_key="k1",
                password_length=64,
                exclude_punctuation=True,
            ),
        )

    def allow_service(self, principal: str, actions: list[str]) -> None:
        """Let an AWS service use the data key on this account's behalf (and no other account's)."""
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{principal.split('.')[0].replace('-', '').title()}",
                principals=[iam.ServicePrincipal(principal)],
                actions=actions,
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )

    def grant_data_key(self, grantee: iam.IGrantable, service: str, actions: tuple[str, ...]) -> None:
        """``actions`` on the data key, only in requests that ``service`` (``dynamodb``, ``sqs``…) makes
        on the grantee's behalf: no function calls KMS with the data key itself."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=[self.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via(self, service)}},
            )
        )

    def grant_phone_crypto(self, grantee: iam.IGrantable) -> None:
        """kms:Encrypt/Decrypt on the phone key, only with the phone vault's encryption context."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt", "kms:Decrypt"],
                resources=[self.phone_key.key_arn],
                conditions={"StringEquals": PHONE_CONTEXT},
            )
        )

    def grant_phone_decrypt(self, grantee: iam.IGrantable) -> None:
        """kms:Decrypt only on the phone key, with the vault's encryption context: for a function
        that reads a sealed number to text it and never seals one."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.phone_key.key_arn],
                conditions={"StringEquals": PHONE_CONTEXT},
            )
        )

    def grant_secrets(self, grantee: iam.IGrantable) -> None:
        self.token_secret.grant_read(grantee)
        self.phone_hash_secret.grant_read(grantee)


def via(scope: Construct, service: str) -> str:
    """The ``kms:ViaService`` value of ``service`` in the scope's region."""
    return f"{service}.{Stack.of(scope).region}.amazonaws.com"


def allow_log_groups(key: kms.Key) -> None:
    """CloudWatch Logs may use ``key`` for this account's log groups in the key's region, and only for
    them (the encryption context names the log group)."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowLogGroups",
            principals=[iam.ServicePrincipal(via(key, "logs"))],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy "*" means this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs", resource="log-group", resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
