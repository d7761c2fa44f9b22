"""Per-region deployments read from ``config/regions.yaml`` and validated before any CDK object exists.

A bad entry fails with ONE line naming the file, the entry (index and region) and the field, e.g.::

    config/regions.yaml: deployments[1] (region us-east-1): reply_domain: Field required

``app.py`` prints it and exits 2; nothing in this module imports aws_cdk, so no jsii trace can follow.
"""

from __future__ import annotations

import os
import re
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from text311.receipt_names import default_rule_set_name

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "regions.yaml"
CONFIG_ENV = "TEXT311_CONFIG"
# Where SES can receive email (sourced and dated in the file itself).
RECEIVING_REGIONS_FILE = ROOT / "config" / "ses-receiving-regions.yaml"

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# An existing End User Messaging phone number or pool, by ARN (region checked against the entry's).
# A Cognito hosted UI domain prefix: lower-case letters, digits and hyphens; AWS refuses these words in it.
_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED_IN_PREFIX = ("aws", "amazon", "cognito")
# CloudFront takes certificates from ACM in us-east-1 only, whatever the stack's region.
_CLOUDFRONT_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$")
# A receipt rule set name as SES accepts it: letters, digits, '_', '-', '.', starting and ending alphanumeric.
_RULE_SET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,32}$")
# Message parts per second an identity may send when the entry gives no ``sms_mps``. Source: AWS End
# User Messaging SMS User Guide, "MPS limits" (sms-limitations-mps): Canadian long code 1, US 10DLC 1
# by default, US toll-free 3, US/Canadian short code 100. The simulator is paced like a long code.
DEFAULT_MPS = {"LONG_CODE": 1.0, "TEN_DLC": 1.0, "TOLL_FREE": 3.0, "SHORT_CODE": 100.0, "SIMULATOR": 1.0}
_IDENTITY_ARN = re.compile(
    r"^arn:aws[a-z-]*:sms-voice:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(phone-number|pool)/[A-Za-z0-9_-]+$"
)


class ConfigError(Exception):
    """A config problem, already worded for the person who edits the file."""


def _hostname(value: str) -> str:
    value = value.strip().lower()
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a domain name like reply.text311.example.ca")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value.strip()):
        raise ValueError(f"{value!r} is not an email address")
    return value.strip()


def _sender(value: str) -> str:
    _, address = parseaddr(value)
    if not address or not _EMAIL.match(address):
        raise ValueError(f"{value!r} is not an address like 'Text311 <notify@text311.example.ca>'")
    return value.strip()


def _country(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError(f"{value!r} is not a two-letter upper-case ISO country code")
    return value


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError(f"{value!r} is not an E.164 number like +15145550100")
    return value


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region like ca-central-1")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
Email = Annotated[str, AfterValidator(_email)]
Country = Annotated[str, AfterValidator(_country)]
E164 = Annotated[str, AfterValidator(_e164)]


def _domain_prefix(value: str) -> str:
    if not _DOMAIN_PREFIX.match(value):
        raise ValueError(f"{value!r} is not a domain prefix (lower-case letters, digits, hyphens; 1-63)")
    reserved = [word for word in _RESERVED_IN_PREFIX if word in value]
    if reserved:
        raise ValueError(f"{value!r} contains {reserved[0]!r}, which Cognito refuses in a domain prefix")
    return value


class ConsoleSettings(BaseModel):
    """The agents' web console (``stacks/console.py``, docs/console.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Cognito hosted UI: https://<domain_prefix>.auth.<region>.amazoncognito.com. Unique per region
    # across all AWS accounts, so it is chosen here rather than derived.
    domain_prefix: Annotated[str, AfterValidator(_domain_prefix)]
    # Optional own domain for the console (e.g. console.text311.ca), with its ACM certificate in
    # us-east-1. Without it the console is served at its *.cloudfront.net name.
    domain_name: Hostname | None = None
    certificate_arn: Annotated[str, Field(pattern=_CLOUDFRONT_CERTIFICATE.pattern)] | None = None

    @model_validator(mode="after")
    def _domain_and_certificate_together(self) -> ConsoleSettings:
        if bool(self.domain_name) != bool(self.certificate_arn):
            raise ValueError(
                "certificate_arn: domain_name and certificate_arn (ACM, us-east-1) go together"
            )
        return self


@cache
def receiving_regions(path: Path = RECEIVING_REGIONS_FILE) -> tuple[str, ...]:
    """The regions where SES receives email, from ``config/ses-receiving-regions.yaml``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, yaml.YAMLError) as exc:
        message = f"{_display(path)}: cannot read the SES receiving regions: {exc}"
        raise ConfigError(message.replace("\n", " ")) from None
    regions = raw.get("receiving_regions") if isinstance(raw, dict) else None
    if not isinstance(regions, list) or not all(isinstance(r, str) and _REGION.match(r) for r in regions):
        raise ConfigError(f"{_display(path)}: receiving_regions: expected a list of region names")
    return tuple(regions)


class ReceiptRuleSetSettings(BaseModel):
    """Which SES receipt rule set holds our rule (SES has ONE active rule set per account and region).

    ``create_and_activate``: the stack owns a rule set ``name`` (default ``text311-<region>``) and
    activates it, refusing to replace another active rule set unless ``replace_active`` is true.
    ``existing``: our rule is added to the already active rule set ``name`` (another application's, or
    another deployment's receiving in the same region), which the stack never (de)activates.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["create_and_activate", "existing"] = "create_and_activate"
    name: Annotated[str, Field(pattern=_RULE_SET_NAME.pattern)] | None = None  # None: Deployment.rule_set_name
    replace_active: bool = False

    @model_validator(mode="after")
    def _name_given_for_existing(self) -> ReceiptRuleSetSettings:
        if self.mode == "existing" and self.name is None:
            raise ValueError("name: give the name of the active rule set to add our rule to")
        if self.mode == "existing" and self.replace_active:
            raise ValueError("replace_active: only with mode create_and_activate")
        return self

    @property
    def activates(self) -> bool:
        return self.mode == "create_and_activate"


def _language_file(code: str) -> str:
    from text311.i18n import catalog

    if code not in catalog().languages:
        raise ValueError(f"{code!r} has no language file (one of {', '.join(sorted(catalog().languages))})")
    return code


class Deployment(BaseModel):
    """One region's deployment. ``Text311-<region>`` is its stack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Annotated[str, AfterValidator(_region)]
    account: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    # "create" buys a number (CfnPhoneNumber) wired for two-way SMS; otherwise the ARN of an
    # existing phone number or pool whose two-way channel already points at the stack's topic.
    sms_origination_identity: str
    sms_iso_country: Country = "CA"
    # The identity's type: what ``create`` buys, and what ``sms_mps`` defaults from. SHORT_CODE only
    # for an existing identity (a short code is leased through a registration, not bought by a stack).
    sms_number_type: Literal["LONG_CODE", "TOLL_FREE", "TEN_DLC", "SHORT_CODE", "SIMULATOR"] = "LONG_CODE"
    # Message parts per second the outbound drainer sends at (SMS_MPS). Absent: DEFAULT_MPS of the
    # number type. Set it when AWS raised the identity's MPS, or for a pool.
    sms_mps: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # Numbers residents text; texts to any other number are refused. With "create" the bought
    # number is added by the stack.
    sms_numbers: list[E164] = Field(default_factory=list)
    reply_domain: Hostname
    sender_address: Annotated[str, AfterValidator(_sender)]
    retention_days: int = Field(ge=1, le=3650)
    conversation_idle_days: int = Field(default=7, ge=1, le=90)
    alarm_email: Email
    served_countries: list[Country] = Field(min_length=1)
    # The agents' console in this stack (Cognito, HTTP API, CloudFront). Absent: no console, and
    # CONSOLE_URL is console_url (a console hosted elsewhere, or none).
    console: ConsoleSettings | None = None
    console_url: Annotated[str, Field(pattern=r"^(https://\S+)?$")] = ""
    support_contact: str = Field(default="text311.ca", min_length=1, max_length=60)
    # The languages this region's residents write in, first the most common: the language detection's priors
    # and the answer's language while a resident has named no city (REGION_LANGUAGES; docs/languages.md).
    region_languages: list[Annotated[str, AfterValidator(_language_file)]] = Field(
        default_factory=lambda: ["en", "fr"], min_length=1
    )
    # Where a resident's address becomes a point for the city's mail and its service requests:
    # "amazon-location" (Amazon Location Places in this region, geo-places:Geocode; billed per request),
    # or "none" (the point only from a map link or coordinates in the text).
    geocoder: Literal["none", "amazon-location"] = "none"
    log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365] = 30
    # SES receives mail only in some regions (config/ses-receiving-regions.yaml). In a region that
    # cannot, the receipt rule, raw-mail bucket and a forwarder live in this region instead
    # (stack Text311-mail-<region>, stacks/mail_region.py).
    mail_receiving_region: Annotated[str, AfterValidator(_region)] | None = None
    receipt_rule_set: ReceiptRuleSetSettings = Field(default_factory=ReceiptRuleSetSettings)
    # Custom MAIL FROM <subdomain>.<sender domain>: SPF then aligns with the From domain for DMARC.
    mail_from_subdomain: Annotated[str, Field(pattern=_DNS_LABEL.pattern)] = "bounce"
    # A public Route 53 zone holding the sender and reply domains: the stack publishes the records
    # itself. Absent: `text311 dns --region <region>` prints them for the domain's owner.
    route53_hosted_zone_id: Annotated[str, Field(pattern=_HOSTED_ZONE_ID.pattern)] | None = None

    @model_validator(mode="after")
    def _one_console_url(self) -> Deployment:
        if self.console is not None and self.console_url:
            raise ValueError(
                "console_url: leave it out when console is set; the stack sets CONSOLE_URL to the "
                "console's own URL"
            )
        return self

    @model_validator(mode="after")
    def _identity_matches_region(self) -> Deployment:
        identity = self.sms_origination_identity
        if identity == "create":
            if self.sms_number_type == "SHORT_CODE":
                raise ValueError(
                    "sms_number_type: a short code cannot be bought by the stack; give its ARN as "
                    "sms_origination_identity"
                )
            return self
        match = _IDENTITY_ARN.match(identity)
        if not match:
            raise ValueError(
                "sms_origination_identity: must be 'create' or the ARN of an existing sms-voice "
                f"phone-number or pool, got {identity!r}"
            )
        if match["region"] != self.region:
            raise ValueError(
                f"sms_origination_identity: the identity is in {match['region']}, not {self.region}"
            )
        if self.account and match["account"] != self.account:
            raise ValueError(f"sms_origination_identity: the identity is in account {match['account']}")
        return self

    @model_validator(mode="after")
    def _mail_can_be_received(self) -> Deployment:
        regions = receiving_regions()
        listed = ", ".join(regions)
        if self.mail_receiving_region is None and self.region not in regions:
            raise ValueError(
                f"mail_receiving_region: SES cannot receive email in {self.region}; set "
                f"mail_receiving_region to one of: {listed}"
            )
        if self.mail_receiving_region is not None and self.mail_receiving_region not in regions:
            raise ValueError(
                f"mail_receiving_region: SES cannot receive email in {self.mail_receiving_region}; "
                f"choose one of: {listed}"
            )
        return self

    @property
    def receiving_region(self) -> str:
        """Where SES receives agents' answers: this region, or ``mail_receiving_region``."""
        return self.mail_receiving_region or self.region

    @property
    def receives_remotely(self) -> bool:
        return self.receiving_region != self.region

    @property
    def rule_set_name(self) -> str:
        """The receipt rule set holding our rule: config's name, else ``text311-<region>``."""
        return self.receipt_rule_set.name or default_rule_set_name(self.region)

    @property
    def mail_stack_name(self) -> str:
        return f"Text311-mail-{self.region}"

    @property
    def mail_from_domain(self) -> str:
        return f"{self.mail_from_subdomain}.{self.sender_domain}"

    @property
    def mps(self) -> float:
        """Parts per second the identity may send: ``sms_mps``, else the number type's default."""
        return self.sms_mps if self.sms_mps is not None else DEFAULT_MPS[self.sms_number_type]

    @property
    def creates_number(self) -> bool:
        return self.sms_origination_identity == "create"

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.sender_address)[1].rsplit("@", 1)[1].lower()

    @property
    def stack_name(self) -> str:
        return f"Text311-{self.region}"


class Config(BaseModel):
    path: Path
    deployments: list[Deployment]


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _field(loc: tuple[Any, ...], message: str) -> str:
    # Errors raised by a model validator carry the field in their message ("field: why").
    if loc:
        return ".".join(str(part) for part in loc)
    head, _, _ = message.partition(":")
    return head if head in Deployment.model_fields else "entry"


def load_config(path: Path | None = None) -> Config:
    """Read and validate every entry; raise ConfigError with one line on the first bad one."""
    path = path or config_path()
    shown = _display(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found (set {CONFIG_ENV} or create it)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: not valid YAML: {exc}".replace("\n", " ")) from None
    entries = raw.get("deployments") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{shown}: deployments: expected a non-empty list of regions")

    deployments: list[Deployment] = []
    for index, entry in enumerate(entries):
        region = entry.get("region", "?") if isinstance(entry, dict) else "?"
        where = f"{shown}: deployments[{index}] (region {region})"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: entry: expected a mapping of field: value")
        try:
            deployments.append(Deployment.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            message = str(first["msg"]).removeprefix("Value error, ")
            field = _field(tuple(first["loc"]), message)
            if message.startswith(f"{field}: "):
                message = message[len(field) + 2 :]
            more = len(exc.errors()) - 1
            suffix = f" (and {more} more problem{'s' * (more > 1)} in this entry)" if more else ""
            raise ConfigError(f"{where}: {field}: {message}{suffix}") from None
        seen = [d.region for d in deployments[:-1]]
        if region in seen:
            raise ConfigError(f"{where}: region: {region} is configured twice (entry {seen.index(region)})")
        _refuse_a_second_active_set(shown, deployments)
    return Config(path=path, deployments=deployments)


def _refuse_a_second_active_set(shown: str, deployments: list[Deployment]) -> None:
    """SES has one active receipt rule set per account and receiving region: two entries that would
    each create and activate one there switch each other's mail off. The newest entry is named first."""
    new = deployments[-1]
    if not new.receipt_rule_set.activates:
        return
    for index, other in enumerate(deployments[:-1]):
        if (
            other.receipt_rule_set.activates
            and other.receiving_region == new.receiving_region
            and other.account == new.account
        ):
            raise ConfigError(
                f"{shown}: deployments[{len(deployments) - 1}] (region {new.region}) and deployments[{index}] "
                f"(region {other.region}): receipt_rule_set: both create and activate a rule set in "
                f"{new.receiving_region}, where one set is active at a time; give one of them "
                f"receipt_rule_set: {{mode: existing, name: {other.rule_set_name}}}"
            )
