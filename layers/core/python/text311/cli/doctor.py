"""``text311 doctor --region R``: a read-only preflight of everything a region needs before real traffic.

Checks are data: ``CHECKS`` is a list of small functions, each taking the injected clients and the
region's plan (``Context``) and returning one ``Finding`` (ok / missing / unknown, what was seen, what
to do). Every call is a read (Get*/Describe*/List*; the reply domain's MX through this machine's
DNS resolver with dnspython, injected as ``resolve_mx``). A check
whose API the endpoint does not implement (moto has no End User Messaging v2, no SES GetAccount) or
that is refused is reported "unknown", never "ok". Exit status: 0 ready, 1 something missing, 2
nothing missing but something unknown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import typer

from text311.cli.dns import DEFAULT_CONFIG, ConfigPath, DomainPlan, EndpointUrl, PlanError, Region, load_plan
from text311.cli.inboxes import city_inboxes_take_mail
from text311.i18n import catalog

Status = Literal["ok", "missing", "unknown"]
# Keyword kinds the number answers itself when the stack bought it (stacks/keywords.py).
NUMBER_KEYWORD_KINDS = ("help", "opt_out", "opt_in")


def resolve_mx_public(domain: str) -> list[str]:
    """The domain's MX hosts, as this machine's DNS resolver answers them (none when the name has no MX
    record or does not exist)."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(domain, "MX", lifetime=5)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.Timeout as exc:
        raise OSError(f"no DNS answer for {domain} within 5 s") from exc
    return [record.exchange.to_text(omit_final_dot=True).lower() for record in answer]


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
    alarm_topic_arns: list[str] = field(default_factory=list)
    sns_in: Callable[[str], Any] | None = None  # region → SNS client (alarm topics live in two regions)
    resolve_mx: Callable[[str], list[str]] = resolve_mx_public
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
    ours = [r for r in active.get("Rules", []) if r.get("Name") == plan.rule_name]
    if not ours:
        return Finding(name, "missing", f"active set {active_name} in {region} has no rule {plan.rule_name}", fix)
    rule = ours[0]
    if not rule.get("Enabled") or plan.reply_domain not in rule.get("Recipients", []):
        return Finding(name, "missing", f"rule {plan.rule_name} is disabled or not for {plan.reply_domain}", fix)
    return Finding(name, "ok", f"{active_name}/{plan.rule_name} active in {region} for {plan.reply_domain}")


def mail_from_domain(ctx: Context) -> Finding:
    name, plan = "custom MAIL FROM domain SUCCESS", ctx.plan
    identity = ctx.sender_identity()
    if identity is None:
        return Finding(name, "missing", f"no identity {plan.sender_domain}", f"make deploy REGION={plan.region}")
    attributes = identity.get("MailFromAttributes") or {}
    status = attributes.get("MailFromDomainStatus", "not set")
    domain = attributes.get("MailFromDomain") or "no MAIL FROM domain"
    if status == "SUCCESS" and domain == plan.mail_from_domain:
        return Finding(name, "ok", f"{domain} {status}")
    return Finding(
        name, "missing", f"{domain} {status} (expected {plan.mail_from_domain})",
        f"publish its MX and SPF records (text311 dns --region {plan.region}); SES checks them for 72 h",
    )


def reply_domain_mx(ctx: Context) -> Finding:
    plan = ctx.plan
    name, expected = "reply domain MX to SES", f"inbound-smtp.{plan.receiving_region}.amazonaws.com"
    hosts = ctx.resolve_mx(plan.reply_domain)
    if expected in hosts:
        others = [h for h in hosts if h != expected]
        also = f" (also {', '.join(others)})" if others else ""
        return Finding(name, "ok", f"{plan.reply_domain} MX {expected}{also}")
    return Finding(
        name, "missing", f"{plan.reply_domain} MX: {', '.join(hosts) or 'none'}",
        f"publish MX 10 {expected} (text311 dns --region {plan.region})",
    )


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


def sms_sandbox(ctx: Context) -> Finding:
    name, region = "SMS out of the sandbox", ctx.plan.region
    attributes = ctx.sms.describe_account_attributes().get("AccountAttributes", [])
    tier = next((a.get("Value") for a in attributes if a.get("Name") == "ACCOUNT_TIER"), None)
    if tier is None:
        return Finding(name, "unknown", "no ACCOUNT_TIER returned")
    if tier == "PRODUCTION":
        return Finding(name, "ok", f"account tier {tier} in {region}")
    return Finding(
        name, "missing", f"account tier {tier} in {region}: texts go only to verified destination numbers",
        f"request production access; {_sms_console(region)}",
    )


def _number_keywords(ctx: Context, number: dict) -> set[str]:
    found, token = set(), None
    while True:
        request = {"OriginationIdentity": number.get("PhoneNumberArn") or number["PhoneNumber"]}
        page = ctx.sms.describe_keywords(**request, **({"NextToken": token} if token else {}))
        found |= {k["Keyword"].upper() for k in page.get("Keywords", [])}
        token = page.get("NextToken")
        if not token:
            return found


def sms_keywords(ctx: Context) -> Finding:
    """A bought number holds every keyword (the functions run with ANSWER_KEYWORDS=false); an existing
    number's keywords are its owner's, and the functions answer ours there (ANSWER_KEYWORDS=true)."""
    name, numbers = "keywords on the number", ctx.numbers()
    if not numbers:
        return Finding(name, "missing", "no number found", _number_fix(ctx))
    kinds = catalog().keyword_kinds()
    expected = {word.upper() for kind in NUMBER_KEYWORD_KINDS for word in kinds.get(kind, ())}
    absent = {n["PhoneNumber"]: sorted(expected - _number_keywords(ctx, n)) for n in numbers}
    lacking = {number: words for number, words in absent.items() if words}
    if not lacking:
        return Finding(name, "ok", f"{len(expected)} keywords on {', '.join(absent)}")
    detail = "; ".join(f"{number} lacks {', '.join(words)}" for number, words in lacking.items())
    if not ctx.plan.creates_number:
        return Finding(name, "ok", f"{detail}: answered by the functions (ANSWER_KEYWORDS=true, existing number)")
    return Finding(name, "missing", detail, f"deploy again (the stack sets them): make deploy REGION={ctx.plan.region}")


def alarm_email_confirmed(ctx: Context) -> Finding:
    name, address = "alarm e-mail subscription confirmed", ctx.plan.alarm_email
    if not ctx.alarm_topic_arns or ctx.sns_in is None:
        return Finding(name, "unknown", "no alarm topic found (stack not deployed, or no cloudformation access)")
    problems = []
    for topic in ctx.alarm_topic_arns:
        sns, subscriptions, token = ctx.sns_in(topic.split(":")[3]), [], None
        while True:
            page = sns.list_subscriptions_by_topic(TopicArn=topic, **({"NextToken": token} if token else {}))
            subscriptions += page.get("Subscriptions", [])
            token = page.get("NextToken")
            if not token:
                break
        mine = [s for s in subscriptions if s.get("Protocol") == "email" and s.get("Endpoint") == address]
        if not mine:
            problems.append(f"{topic}: no subscription for {address}")
        elif all(s.get("SubscriptionArn") == "PendingConfirmation" for s in mine):
            problems.append(f"{topic}: {address} has not confirmed")
    if problems:
        return Finding(
            name, "missing", "; ".join(problems),
            f"click the link in AWS's 'Subscription Confirmation' mail to {address} (alarms reach no one until then)",
        )
    return Finding(name, "ok", f"{address} on {len(ctx.alarm_topic_arns)} alarm topic(s)")


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
    mail_from_domain,
    production_access,
    receipt_rule_active,
    reply_domain_mx,
    sms_number_active,
    sms_two_way_to_topic,
    sms_opt_out_list,
    sms_keywords,
    sms_sandbox,
    sms_protect_configuration,
    sms_spend_limit,
    alarm_email_confirmed,
    city_inboxes_take_mail,  # a city's inbox on the suppression list, or bouncing (text311/cli/inboxes.py)
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


def alarm_topics_from_stack(cloudformation: Any, stack: str) -> list[str]:
    """The stack's alarm topics (``…AlarmTopic…`` logical ids); none when the stack cannot be read."""
    topics, token = [], None
    try:
        while True:
            page = cloudformation.list_stack_resources(StackName=stack, **({"NextToken": token} if token else {}))
            topics += [
                r["PhysicalResourceId"]
                for r in page.get("StackResourceSummaries", [])
                if r.get("ResourceType") == "AWS::SNS::Topic" and "AlarmTopic" in r.get("LogicalResourceId", "")
            ]
            token = page.get("NextToken")
            if not token:
                return topics
    except Exception:  # no such stack yet, or no permission: the alarm check says "unknown"
        return topics


def doctor(
    region: Region,
    config: ConfigPath = DEFAULT_CONFIG,
    endpoint_url: EndpointUrl = None,
    topic_arn: str | None = typer.Option(None, "--topic-arn", help="Inbound topic; default: the stack's output."),
) -> None:
    """Read-only preflight of REGION: SES identity, DKIM, MAIL FROM, receipt rule, MX, SMS number, alarms."""
    import boto3

    try:
        plan = load_plan(Path(config), region)
    except PlanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    def client(service: str, in_region: str = region) -> Any:
        return boto3.client(service, region_name=in_region, endpoint_url=endpoint_url)

    alarm_topics = alarm_topics_from_stack(client("cloudformation"), f"Text311-{region}")
    if plan.receives_remotely:
        alarm_topics += alarm_topics_from_stack(
            client("cloudformation", plan.receiving_region), f"Text311-mail-{region}"
        )
    ctx = Context(
        plan=plan,
        sesv2=client("sesv2"),
        ses_receiving=client("ses", plan.receiving_region),
        sms=client("pinpoint-sms-voice-v2"),
        inbound_topic_arn=topic_arn or inbound_topic_from_stack(client("cloudformation"), f"Text311-{region}"),
        alarm_topic_arns=alarm_topics,
        sns_in=lambda topic_region: client("sns", topic_region),
        resolve_mx=resolve_mx_public,
    )
    findings = run_checks(ctx)
    typer.echo(f"Text311 {region} (SES receives in {plan.receiving_region})")
    for line in render(findings):
        typer.echo(line)
    raise typer.Exit(code=exit_code(findings))
