"""``text311 doctor --region R``: a read-only preflight of everything a region needs before real traffic.

Checks are data: ``CHECKS`` is a list of small functions, each taking the injected clients and the
region's plan (``Context``) and returning one ``Finding`` (ok / missing / unknown, what was seen, what
to do). Every call is a read (Get*/Describe*). A check whose API the endpoint does not implement
(moto has no End User Messaging v2, no SES GetAccount) or that is refused is reported "unknown",
never "ok". Exit status: 0 ready, 1 something missing, 2 nothing missing but something unknown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import typer

from text311.cli.dns import DEFAULT_CONFIG, ConfigPath, DomainPlan, EndpointUrl, PlanError, Region, load_plan

RULE_NAME = "agent-answers"  # stacks/email.py
Status = Literal["ok", "missing", "unknown"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Context:
    """What the checks read: the plan and one client per service (SES v1 in the receiving region)."""

    plan: DomainPlan
    sesv2: Any
    ses_receiving: Any
    sms: Any
    inbound_topic_arn: str | None = None
    _numbers: list[dict] | None = field(default=None, repr=False)
    _identity: dict | None = field(default=None, repr=False)

    def sender_identity(self) -> dict | None:
        """SES v2 ``GetEmailIdentity`` of the sender domain (None: no such identity), read once."""
        if self._identity is None:
            try:
                self._identity = self.sesv2.get_email_identity(EmailIdentity=self.plan.sender_domain)
            except self.sesv2.exceptions.NotFoundException:
                self._identity = {}
        return self._identity or None

    def numbers(self) -> list[dict]:
        """Our End User Messaging numbers: the configured ones, else those whose two-way goes to our topic."""
        if self._numbers is None:
            found, token = [], None
            while True:
                page = self.sms.describe_phone_numbers(**({"NextToken": token} if token else {}))
                found += page.get("PhoneNumbers", [])
                token = page.get("NextToken")
                if not token:
                    break
            wanted = set(self.plan.sms_numbers)
            self._numbers = [
                n
                for n in found
                if n.get("PhoneNumber") in wanted
                or (self.inbound_topic_arn and n.get("TwoWayChannelArn") == self.inbound_topic_arn)
            ]
        return self._numbers


def _ses_console(region: str, page: str) -> str:
    return f"https://{region}.console.aws.amazon.com/ses/home?region={region}#/{page}"


def _sms_console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sms-voice/home?region={region}"


def sending_identity_verified(ctx: Context) -> Finding:
    name, domain, region = "SES sending identity verified", ctx.plan.sender_domain, ctx.plan.region
    identity = ctx.sender_identity()
    if identity is None:
        return Finding(
            name, "missing", f"no identity {domain} in {region}", f"deploy the stack: make deploy REGION={region}"
        )
    if identity.get("VerifiedForSendingStatus"):
        return Finding(name, "ok", f"{domain} verified in {region}")
    return Finding(
        name, "missing", f"{domain} not yet verified",
        f"publish its DKIM records (text311 dns --region {region}); {_ses_console(region, 'identities')}",
    )


def dkim_signing(ctx: Context) -> Finding:
    name, domain = "Easy DKIM status SUCCESS", ctx.plan.sender_domain
    identity = ctx.sender_identity()
    if identity is None:
        return Finding(name, "missing", f"no identity {domain}", f"make deploy REGION={ctx.plan.region}")
    status = identity.get("DkimAttributes", {}).get("Status", "NOT_STARTED")
    if status == "SUCCESS":
        return Finding(name, "ok", f"DKIM {status}")
    return Finding(
        name, "missing", f"DKIM {status}",
        f"publish the 3 CNAMEs (text311 dns --region {ctx.plan.region}); SES re-checks for 72 h",
    )


def production_access(ctx: Context) -> Finding:
    name, region = "SES production access (out of the sandbox)", ctx.plan.region
    account = ctx.sesv2.get_account()
    if account.get("ProductionAccessEnabled"):
        return Finding(name, "ok", f"production access in {region}")
    return Finding(
        name, "missing", f"sandbox in {region}: mail goes only to verified addresses",
        f"request production access: {_ses_console(region, 'account')}",
    )


def receipt_rule_active(ctx: Context) -> Finding:
    plan = ctx.plan
    name, region = "receipt rule set active with our rule", plan.receiving_region
    active = ctx.ses_receiving.describe_active_receipt_rule_set()
    active_name = (active.get("Metadata") or {}).get("Name")
    fix = f"deploy (the stack activates it) or check receipt_rule_set; {_ses_console(region, 'email-receiving')}"
    if active_name is None:
        return Finding(name, "missing", f"no active receipt rule set in {region}", fix)
    ours = [r for r in active.get("Rules", []) if r.get("Name") == RULE_NAME]
    if not ours:
        return Finding(name, "missing", f"active set {active_name} in {region} has no rule {RULE_NAME}", fix)
    rule = ours[0]
    if not rule.get("Enabled") or plan.reply_domain not in rule.get("Recipients", []):
        return Finding(name, "missing", f"rule {RULE_NAME} is disabled or not for {plan.reply_domain}", fix)
    return Finding(name, "ok", f"{active_name}/{RULE_NAME} active in {region} for {plan.reply_domain}")


def _number_fix(ctx: Context) -> str:
    return f"{_sms_console(ctx.plan.region)} (phone numbers)"


def sms_number_active(ctx: Context) -> Finding:
    name = "SMS number active"
    numbers = ctx.numbers()
    if not numbers:
        return Finding(
            name, "missing", "no number matches sms_numbers or has two-way to our topic",
            f"buy or register a number; set sms_numbers; {_number_fix(ctx)}",
        )
    inactive = [n["PhoneNumber"] for n in numbers if n.get("Status") != "ACTIVE"]
    if inactive:
        detail = f"not ACTIVE: {', '.join(inactive)}"
        return Finding(name, "missing", detail, f"finish registration; {_number_fix(ctx)}")
    return Finding(name, "ok", ", ".join(n["PhoneNumber"] for n in numbers))


def sms_two_way_to_topic(ctx: Context) -> Finding:
    name = "two-way SMS to our inbound topic"
    numbers = ctx.numbers()
    if not numbers:
        return Finding(name, "missing", "no number found", _number_fix(ctx))
    wrong = [
        n["PhoneNumber"]
        for n in numbers
        if not n.get("TwoWayEnabled")
        or (ctx.inbound_topic_arn and n.get("TwoWayChannelArn") != ctx.inbound_topic_arn)
    ]
    if wrong:
        return Finding(
            name, "missing", f"two-way off or to another channel: {', '.join(wrong)}",
            f"set two-way to the stack output InboundTopicArn; {_number_fix(ctx)}",
        )
    target = ctx.inbound_topic_arn or "(topic unknown: no stack output read)"
    return Finding(name, "ok" if ctx.inbound_topic_arn else "unknown", f"two-way enabled to {target}")


def sms_opt_out_list(ctx: Context) -> Finding:
    name = "opt-out list on the number"
    missing = [n["PhoneNumber"] for n in ctx.numbers() if not n.get("OptOutListName")]
    if not ctx.numbers() or missing:
        return Finding(name, "missing", f"no opt-out list: {', '.join(missing) or 'no number'}", _number_fix(ctx))
    return Finding(name, "ok", ", ".join(f"{n['PhoneNumber']}→{n['OptOutListName']}" for n in ctx.numbers()))


def sms_protect_configuration(ctx: Context) -> Finding:
    name = "SMS protect configuration (account default)"
    configurations = ctx.sms.describe_protect_configurations().get("ProtectConfigurations", [])
    default = [c for c in configurations if c.get("AccountDefault")]
    if default:
        return Finding(name, "ok", f"account default {default[0].get('ProtectConfigurationId')}")
    return Finding(
        name, "missing", "no account-default protect configuration: every country can be sent to",
        "create one that blocks countries you do not serve and make it the account default; "
        + _sms_console(ctx.plan.region),
    )


def sms_spend_limit(ctx: Context) -> Finding:
    name = "SMS monthly spend limit"
    limits = ctx.sms.describe_spend_limits().get("SpendLimits", [])
    text = next((s for s in limits if s.get("Name") == "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"), None)
    if text is None:
        return Finding(name, "unknown", "no TEXT_MESSAGE_MONTHLY_SPEND_LIMIT returned")
    enforced, maximum = text.get("EnforcedLimit", 0), text.get("MaxLimit", 0)
    detail = f"enforced {enforced} USD of {maximum} USD allowed"
    if enforced <= 1:  # new accounts start at 1 USD a month: a handful of texts
        return Finding(name, "missing", detail, f"request a higher SMS spend limit; {_sms_console(ctx.plan.region)}")
    return Finding(name, "ok", detail)


Check = Callable[[Context], Finding]
CHECKS: list[Check] = [
    sending_identity_verified,
    dkim_signing,
    production_access,
    receipt_rule_active,
    sms_number_active,
    sms_two_way_to_topic,
    sms_opt_out_list,
    sms_protect_configuration,
    sms_spend_limit,
]


def run_checks(ctx: Context, checks: list[Check] = CHECKS) -> list[Finding]:
    """Each check in turn; one that cannot be evaluated is "unknown" and the others still run."""
    findings = []
    for check in checks:
        try:
            findings.append(check(ctx))
        except Exception as exc:  # not implemented by the endpoint, access denied, throttled…
            title = check.__name__.replace("_", " ")
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            findings.append(Finding(title, "unknown", f"could not check: {reason}"))
    return findings


def exit_code(findings: list[Finding]) -> int:
    if any(f.status == "missing" for f in findings):
        return 1
    return 2 if any(f.status == "unknown" for f in findings) else 0


MARKS = {"ok": "[ok]     ", "missing": "[missing]", "unknown": "[unknown]"}


def render(findings: list[Finding]) -> list[str]:
    lines = []
    for finding in findings:
        lines.append(f"{MARKS[finding.status]} {finding.check}: {finding.detail}")
        if finding.fix and finding.status != "ok":
            lines.append(f"          → {finding.fix}")
    return lines


def inbound_topic_from_stack(cloudformation: Any, stack: str) -> str | None:
    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except Exception:  # no such stack yet, or no permission: the two-way check says so
        return None
    return next((o["OutputValue"] for o in outputs if o["OutputKey"] == "InboundTopicArn"), None)


def doctor(
    region: Region,
    config: ConfigPath = DEFAULT_CONFIG,
    endpoint_url: EndpointUrl = None,
    topic_arn: str | None = typer.Option(None, "--topic-arn", help="Inbound topic; default: the stack's output."),
) -> None:
    """Read-only preflight of REGION: SES identity, DKIM, production access, receipt rule, SMS number."""
    import boto3

    try:
        plan = load_plan(Path(config), region)
    except PlanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    def client(service: str, in_region: str = region) -> Any:
        return boto3.client(service, region_name=in_region, endpoint_url=endpoint_url)

    ctx = Context(
        plan=plan,
        sesv2=client("sesv2"),
        ses_receiving=client("ses", plan.receiving_region),
        sms=client("pinpoint-sms-voice-v2"),
        inbound_topic_arn=topic_arn or inbound_topic_from_stack(client("cloudformation"), f"Text311-{region}"),
    )
    findings = run_checks(ctx)
    typer.echo(f"Text311 {region} (SES receives in {plan.receiving_region})")
    for line in render(findings):
        typer.echo(line)
    raise typer.Exit(code=exit_code(findings))
