"""``text311 dns --region R``: every DNS record the domain owner must publish for a region.

Records (docs/deploy.md, "DNS"):
- MX of the reply domain → ``inbound-smtp.<receiving region>.amazonaws.com`` (priority 10);
- the three Easy DKIM CNAMEs of the sender domain, read from SES v2 ``GetEmailIdentity`` in the
  region (and, when SES receives elsewhere, those of the reply domain's identity there);
- custom MAIL FROM: MX ``feedback-smtp.<region>.amazonses.com`` and SPF TXT;
- a DMARC recommendation (publish it only if the domain has no DMARC policy yet).

The region's settings come from ``config/regions.yaml`` (read as plain YAML: this package does not
import the CDK app). ``--endpoint-url`` points the SES client at the local run or moto. Without AWS
credentials the records from the config are printed all the same, with the DKIM tokens left as
placeholders and a line saying so (exit status 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from text311.receipt_names import default_rule_set_name, rule_name

DEFAULT_CONFIG = Path("config/regions.yaml")
SPF = "v=spf1 include:amazonses.com ~all"

ConfigPath = Annotated[
    Path, typer.Option("--config", envvar="TEXT311_CONFIG", help="The regions file (config/regions.yaml).")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (the local run, moto)."),
]
Region = Annotated[str, typer.Option("--region", help="The deployment's region (its entry in the regions file).")]


class PlanError(Exception):
    """The regions file has no usable entry for the region."""


@dataclass(frozen=True)
class DomainPlan:
    """What one deployment's DNS depends on, from its entry in the regions file."""

    region: str
    receiving_region: str
    sender_domain: str
    reply_domain: str
    mail_from_domain: str
    alarm_email: str
    rule_set_name: str = ""  # "": text311-<region>, the set a create_and_activate deployment owns
    sms_numbers: tuple[str, ...] = ()
    creates_number: bool = True  # sms_origination_identity: create (the stack sets its keywords)

    @property
    def receives_remotely(self) -> bool:
        return self.receiving_region != self.region

    @property
    def rule_set(self) -> str:
        return self.rule_set_name or default_rule_set_name(self.region)

    @property
    def rule_name(self) -> str:
        return rule_name(self.region)


@dataclass(frozen=True)
class Record:
    name: str
    type: str
    value: str
    purpose: str
    priority: int | None = None

    @property
    def zone_line(self) -> str:
        value = f'"{self.value}"' if self.type == "TXT" else self.value
        priority = f"{self.priority} " if self.priority is not None else ""
        return f"{self.name}. 1800 IN {self.type} {priority}{value}"


def load_plan(config: Path, region: str) -> DomainPlan:
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"{config}: file not found (run from the repository root or pass --config)") from None
    entries = raw.get("deployments", []) if isinstance(raw, dict) else []
    entry = next((e for e in entries if isinstance(e, dict) and e.get("region") == region), None)
    if entry is None:
        configured = ", ".join(str(e.get("region")) for e in entries if isinstance(e, dict))
        raise PlanError(f"{config}: no deployment for region {region} (configured: {configured or 'none'})")
    try:
        address = parseaddr(entry["sender_address"])[1]
        sender_domain = address.rsplit("@", 1)[1].lower()
        return DomainPlan(
            region=region,
            receiving_region=entry.get("mail_receiving_region") or region,
            sender_domain=sender_domain,
            reply_domain=str(entry["reply_domain"]).lower(),
            mail_from_domain=f"{entry.get('mail_from_subdomain', 'bounce')}.{sender_domain}",
            alarm_email=entry.get("alarm_email", f"dmarc@{sender_domain}"),
            rule_set_name=(entry.get("receipt_rule_set") or {}).get("name") or "",
            sms_numbers=tuple(entry.get("sms_numbers") or ()),
            creates_number=entry.get("sms_origination_identity", "create") == "create",
        )
    except (KeyError, IndexError) as exc:
        raise PlanError(f"{config}: region {region}: missing or bad field {exc}") from None


def dkim_tokens(sesv2: Any, domain: str) -> list[str]:
    """The identity's Easy DKIM tokens; empty when SES has not generated them (or has no such identity)."""
    try:
        identity = sesv2.get_email_identity(EmailIdentity=domain)
    except sesv2.exceptions.NotFoundException:
        return []
    return list(identity.get("DkimAttributes", {}).get("Tokens") or [])


def dkim_records(domain: str, tokens: list[str]) -> list[Record]:
    if not tokens:
        return [
            Record(
                f"<token>._domainkey.{domain}",
                "CNAME",
                "<token>.dkim.amazonses.com",
                f"Easy DKIM for {domain}: no tokens yet (deploy the stack, then run this again)",
            )
        ]
    return [
        Record(f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com", f"Easy DKIM for {domain}")
        for token in tokens
    ]


def records(plan: DomainPlan, sender_tokens: list[str], reply_tokens: list[str] | None = None) -> list[Record]:
    """Every record, in the order the owner should publish them (sending first, receiving last)."""
    found = [
        *dkim_records(plan.sender_domain, sender_tokens),
        Record(plan.mail_from_domain, "MX", f"feedback-smtp.{plan.region}.amazonses.com", "custom MAIL FROM", 10),
        Record(plan.mail_from_domain, "TXT", SPF, "custom MAIL FROM: SPF"),
        Record(
            f"_dmarc.{plan.sender_domain}",
            "TXT",
            f"v=DMARC1; p=none; rua=mailto:{plan.alarm_email}",
            "DMARC (recommended: start at p=none, then quarantine; keep an existing policy)",
        ),
    ]
    if plan.receives_remotely:
        found += dkim_records(plan.reply_domain, reply_tokens or [])
    found.append(
        Record(
            plan.reply_domain,
            "MX",
            f"inbound-smtp.{plan.receiving_region}.amazonaws.com",
            f"agents' answers reach SES in {plan.receiving_region}",
            10,
        )
    )
    return found


def ses_client(region: str, endpoint_url: str | None) -> Any:
    import boto3

    return boto3.client("sesv2", region_name=region, endpoint_url=endpoint_url)


def dns(
    region: Region,
    config: ConfigPath = DEFAULT_CONFIG,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Print every DNS record the domain owner must publish for REGION (zone-file lines)."""
    try:
        plan = load_plan(config, region)
    except PlanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    unread: list[str] = []

    def tokens(in_region: str, domain: str) -> list[str]:
        # Every record but the DKIM CNAMEs comes from the config: without credentials (or SES access)
        # those are still printed, with placeholders for the tokens only SES knows.
        try:
            return dkim_tokens(ses_client(in_region, endpoint_url), domain)
        except (BotoCoreError, ClientError) as exc:
            unread.append(f"{domain} in {in_region} ({type(exc).__name__})")
            return []

    sender_tokens = tokens(region, plan.sender_domain)
    reply_tokens = tokens(plan.receiving_region, plan.reply_domain) if plan.receives_remotely else None
    typer.echo(f"; Text311 {region}: publish these records (SES receives in {plan.receiving_region})")
    if unread:
        typer.echo(
            f"; the Easy DKIM tokens need AWS credentials with ses:GetEmailIdentity; not read for "
            f"{', '.join(unread)}: run this again with credentials for the <token> records"
        )
    for record in records(plan, sender_tokens, reply_tokens):
        typer.echo(f"; {record.purpose}")
        typer.echo(record.zone_line)
    if unread:
        raise typer.Exit(code=2)  # printed, but incomplete
