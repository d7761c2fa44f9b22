"""``text311 municipality``: onboard, list, show and remove subscribing municipalities; ``services``
manages a city's Open311 service list (docs/service-requests.md).

Every command talks to the subscribers table directly (the same pynamodb model as the functions),
so ``--endpoint-url http://localhost:…`` points it at the local run. Bad input (an unknown id, an
ambiguous name, a bad email, a city already subscribed) is refused with a message naming the
problem, exit status 1, and nothing written.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from text311.adapters.dynamodb import SubscriberModel
from text311.directory import Place, place_by_id, resolve_municipality
from text311.subscribers import (
    DuplicateSubscriber,
    Subscriber,
    SubscriberError,
    SubscriberRepository,
    UnknownSubscriber,
)

DEFAULT_TABLE = "text311-subscribers"
DEFAULT_REGION = "ca-central-1"
# Official or customary languages by province: the default for a new subscriber's replies.
DEFAULT_LANGUAGES = {"QC": ("fr", "en"), "NB": ("en", "fr")}

app = typer.Typer(help="Subscribing municipalities (tenants).", no_args_is_help=True)

EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="DynamoDB endpoint (the local run)."),
]
Region = Annotated[str, typer.Option("--region", envvar="AWS_REGION", help="AWS region.")]
Table = Annotated[str, typer.Option("--table", envvar="SUBSCRIBERS_TABLE", help="Subscribers table name.")]


def _bind(table: str, region: str, endpoint_url: str | None) -> SubscriberRepository:
    from text311.adapters.audit_table import AuditModel

    # The same binding as bind_tables, for this table and the audit table the changes are recorded in.
    for model, name in ((SubscriberModel, table), (AuditModel, os.environ.get("AUDIT_TABLE", "text311-audit"))):
        meta: Any = model.Meta
        meta.table_name = name
        meta.region = region
        meta.host = endpoint_url or None
        model._connection = None  # drop a connection built for other settings
    return SubscriberRepository()


def _audit(geonameid: int, action: str, detail: str) -> None:
    """Record a change to a city in its audit trail (text311.audit), by the operator who ran the command."""
    from text311.audit import AuditLog
    from text311.settings import Settings

    try:
        # Kept as long as the deployment keeps conversations (RETENTION_DAYS), as the functions' entries are.
        days = int(os.environ.get("RETENTION_DAYS") or Settings.model_fields["retention_days"].default)
        if days < 1:
            raise ValueError(f"RETENTION_DAYS must be at least 1, not {days}")
        actor = f"cli:{getpass.getuser()}"
        AuditLog(retention_days=days).record(geonameid, None, actor, action, detail, datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - the change is made: say loudly that it went unrecorded
        typer.echo(f"warning: the change is made but not in the audit trail ({type(exc).__name__}: {exc})", err=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _place(reference: str) -> Place:
    """A place from a geonameid or from a name that resolves to exactly one place."""
    if reference.strip().isdigit():
        place = place_by_id(int(reference))
        if place is None:
            raise _fail(f"no place with geonameid {reference} in the directory")
        return place
    resolution = resolve_municipality(reference)
    if resolution.status == "match" and resolution.match is not None:
        return resolution.match
    if resolution.status == "choose":
        options = "; ".join(f"{p.geonameid} {p.label} (pop. {p.population:,})" for p in resolution.choices)
        raise _fail(f"{reference!r} is ambiguous; give a geonameid or add the province or state: {options}")
    raise _fail(f"{reference!r} is not a municipality in the directory")


def _describe(sub: Subscriber) -> str:
    emails = ", ".join(sub.contact_emails)
    return f"{sub.geonameid}\t{sub.display_name}, {sub.region_code}\t{sub.status}\t{emails}"


@app.command()
def add(
    place: Annotated[str, typer.Argument(help="GeoNames id, or a name that resolves to one place.")],
    email: Annotated[list[str], typer.Option("--email", help="Contact-centre address (repeatable).")],
    agents: Annotated[
        list[str], typer.Option("--agents", help="Agent address or domain '@city.ca' (repeatable).")
    ],
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="A language its residents write in: en, fr, es, zh-Hans… (repeatable)."),
    ] = None,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA zone; default: the place's.")
    ] = None,
    mail_language: Annotated[
        str | None,
        typer.Option("--mail-language", help="en or fr: the language of the mail to the city's agents; "
                     "default: fr in Quebec or when the first --language is fr, else en."),
    ] = None,
    phone_311: Annotated[str | None, typer.Option("--phone-311", help="The city's own 311 number.")] = None,
    web: Annotated[str | None, typer.Option("--web", help="The city's 311 web page.")] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Default: the place's name.")
    ] = None,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Subscribe a municipality."""
    found = _place(place)
    try:
        sub = Subscriber(
            geonameid=found.geonameid,
            display_name=display_name or found.name,
            country=found.country,
            region_code=found.region_code,
            contact_emails=tuple(email),
            agent_allow_list=tuple(agents),
            time_zone=time_zone or found.time_zone,
            languages=tuple(language) if language else DEFAULT_LANGUAGES.get(found.region_code, ("en",)),
            phone_311=phone_311,
            web_page=web,
            language=mail_language or "",
        )
    except SubscriberError as exc:
        raise _fail(str(exc)) from exc
    try:
        _bind(table, region, endpoint_url).add(sub)
    except DuplicateSubscriber as exc:
        raise _fail(str(exc)) from exc
    _audit(sub.geonameid, "settings.subscribe", f"{sub.display_name}: contacts {', '.join(sub.contact_emails)}; "
           f"agents {', '.join(sub.agent_allow_list)}")
    typer.echo(
        f"added {sub.geonameid} {sub.display_name}, {sub.region_code} "
        f"({', '.join(sub.languages)}, {sub.time_zone}, mail to agents in {sub.language})"
    )


@app.command("list")
def list_(
    endpoint_url: EndpointUrl = None, region: Region = DEFAULT_REGION, table: Table = DEFAULT_TABLE
) -> None:
    """List subscribers, by name."""
    subs = sorted(_bind(table, region, endpoint_url).all(), key=lambda s: (s.display_name, s.geonameid))
    for sub in subs:
        typer.echo(_describe(sub))
    if not subs:
        typer.echo("no subscribers", err=True)


@app.command()
def show(
    geonameid: int,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Show one subscriber as JSON, with whether its inbox takes our mail (``inbox``: an address on
    the account's suppression list, bounces and complaints of the last days; text311/cli/inboxes.py)."""
    import boto3

    from text311.cli.inboxes import inbox_report

    sub = _bind(table, region, endpoint_url).get(geonameid)
    if sub is None:
        raise _fail(f"geonameid: {geonameid} is not a subscriber")

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url or None)

    report = inbox_report(sub, client("sesv2"), client("cloudwatch"))
    from text311.opening_hours import describe

    hours = describe(sub.opening_hours) if sub.opening_hours else None  # times and dates as text
    typer.echo(json.dumps({**asdict(sub), "opening_hours": hours, "inbox": report.as_json()},
                          ensure_ascii=False, indent=2))
    for problem in report.problems:
        typer.echo(f"warning: {sub.display_name}'s inbox: {problem}", err=True)


@app.command()
def remove(
    geonameid: int,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Unsubscribe a municipality."""
    repo = _bind(table, region, endpoint_url)
    sub = repo.get(geonameid)
    if sub is None:
        raise _fail(f"geonameid: {geonameid} is not a subscriber")
    if not yes and not typer.confirm(f"Remove {sub.display_name}, {sub.region_code}?"):
        raise typer.Exit(code=1)
    try:
        repo.remove(geonameid)
    except UnknownSubscriber as exc:
        raise _fail(str(exc)) from exc
    _audit(geonameid, "settings.unsubscribe", sub.display_name)
    typer.echo(f"removed {geonameid} {sub.display_name}, {sub.region_code}")


# --- services: what a resident's text can be filed as (text311.city_services) ---------------------

services_app = typer.Typer(
    help="A municipality's Open311 services: list, add, remove, import a services.json.", no_args_is_help=True
)
app.add_typer(services_app, name="services")


def _subscriber(repo: SubscriberRepository, geonameid: int) -> Subscriber:
    sub = repo.get(geonameid)
    if sub is None:
        raise _fail(f"geonameid: {geonameid} is not a subscriber")
    return sub


def _language_of(sub: Subscriber, language: str | None) -> str:
    """The language a command's text is in: the one given (one of the city's), else the city's first."""
    if language is None:
        return sub.languages[0]
    if language not in sub.languages:
        raise _fail(f"language: {language!r} is not one of {sub.display_name}'s ({', '.join(sub.languages)})")
    return language


Language = Annotated[
    str | None, typer.Option("--language", help="en or fr, one of the city's languages; default: its first.")
]


@services_app.command("list")
def services_list(
    geonameid: int,
    language: Language = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Open311 services.json in --language (an export).")
    ] = False,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """List a city's services: code, then group and name in each of its languages."""
    sub = _subscriber(_bind(table, region, endpoint_url), geonameid)
    if as_json:
        chosen = _language_of(sub, language)
        typer.echo(json.dumps([s.as_open311(chosen) for s in sub.services], ensure_ascii=False, indent=2))
        return
    shown = (_language_of(sub, language),) if language else sub.languages
    for service in sub.services:
        texts = [service.text(lang) for lang in shown]
        typer.echo("\t".join([service.service_code, *(f"{t.group}: {t.service_name}" for t in texts)]))
    if not sub.services:
        typer.echo(f"{sub.display_name} has no services", err=True)


@services_app.command("add")
def services_add(
    geonameid: int,
    service_code: Annotated[str, typer.Argument(help="The Open311 service_code, e.g. pothole.")],
    name: Annotated[str, typer.Option("--name", help="service_name in --language.")],
    language: Language = None,
    description: Annotated[str, typer.Option("--description", help="In --language.")] = "",
    group: Annotated[str, typer.Option("--group", help="In --language.")] = "",
    keywords: Annotated[
        str, typer.Option("--keywords", help="Comma-separated, in --language: words residents write.")
    ] = "",
    service_type: Annotated[str, typer.Option("--type", help="realtime, batch or blackbox.")] = "realtime",
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Add a service, or set one language of an existing one (its other languages are kept)."""
    from text311.city_services import ServiceError, from_open311, merge

    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    chosen = _language_of(sub, language)
    entry = {"service_code": service_code, "service_name": name, "description": description,
             "group": group, "keywords": keywords, "type": service_type}
    try:
        service = from_open311(entry, chosen)
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    known = any(s.service_code == service.service_code for s in sub.services)
    repo.set_services(geonameid, merge(sub.services, [service]))
    _audit(geonameid, "settings.services", f"{'updated' if known else 'added'} {service.service_code} ({chosen})")
    typer.echo(f"{'updated' if known else 'added'} {service.service_code} ({chosen}) for {sub.display_name}")


@services_app.command("remove")
def services_remove(
    geonameid: int,
    service_code: str,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Remove a service from a city's list."""
    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    kept = tuple(s for s in sub.services if s.service_code != service_code)
    if len(kept) == len(sub.services):
        raise _fail(f"service_code: {service_code!r} is not one of {sub.display_name}'s services")
    repo.set_services(geonameid, kept)
    _audit(geonameid, "settings.services", f"removed {service_code}")
    typer.echo(f"removed {service_code} from {sub.display_name}")


@services_app.command("import")
def services_import(
    geonameid: int,
    path: Annotated[Path, typer.Argument(help="An Open311 endpoint's services.json.", exists=True, dir_okay=False)],
    language: Language = None,
    replace_all: Annotated[
        bool, typer.Option("--replace", help="Drop the services the file does not list (default: keep them).")
    ] = False,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Import an Open311 GeoReport v2 services.json, its text taken as --language; a code the city has
    gains or replaces that language (import the endpoint's French and English files in turn)."""
    from text311.city_services import ServiceError, merge, parse_open311_list

    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    chosen = _language_of(sub, language)
    try:
        incoming = parse_open311_list(json.loads(path.read_text(encoding="utf-8")), chosen)
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}: not JSON ({exc})") from exc
    except ServiceError as exc:
        raise _fail(f"{path}: {exc}") from exc
    if replace_all:
        codes = {s.service_code for s in incoming}
        kept = merge((s for s in sub.services if s.service_code in codes), incoming)
    else:
        kept = merge(sub.services, incoming)
    repo.set_services(geonameid, kept)
    replaced = " replacing all" if replace_all else ""
    _audit(geonameid, "settings.services", f"imported {len(incoming)} ({chosen}){replaced}")
    typer.echo(f"imported {len(incoming)} services ({chosen}) for {sub.display_name}: {len(kept)} in its list")


hours_app = typer.Typer(
    help="A municipality's opening hours, in its time zone: outside them a resident's first text of a "
    "conversation gets one notice with the next opening (docs/contact-centre.md).", no_args_is_help=True
)
app.add_typer(hours_app, name="hours")


@hours_app.command("set")
def hours_set(
    geonameid: int,
    days: Annotated[
        list[str], typer.Option("--day", help="DAYS=HH:MM-HH:MM[,HH:MM-HH:MM], e.g. mon-fri=08:30-16:30; repeat.")
    ],
    holidays: Annotated[list[str], typer.Option("--holiday", help="A closed date, YYYY-MM-DD; repeat.")] = [],  # noqa: B006
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Replace a city's weekly hours and holidays (a day not named is closed)."""
    from text311.opening_hours import HoursError, describe, from_specs

    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    try:
        hours = from_specs(sub.time_zone, days, holidays)
    except HoursError as exc:
        raise _fail(f"hours: {exc}") from exc
    repo.set_opening_hours(geonameid, hours)
    _audit(geonameid, "settings.hours", "; ".join(describe(hours)))
    typer.echo(f"opening hours of {sub.display_name} ({sub.time_zone}):")
    typer.echo("\n".join(describe(hours)))


@hours_app.command("show")
def hours_show(
    geonameid: int,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Show a city's hours, or that it is always open."""
    from text311.opening_hours import describe

    sub = _subscriber(_bind(table, region, endpoint_url), geonameid)
    if sub.opening_hours is None:
        typer.echo(f"{sub.display_name}: no opening hours set (always open, no closed notice)")
        return
    typer.echo(f"opening hours of {sub.display_name} ({sub.time_zone}):")
    typer.echo("\n".join(describe(sub.opening_hours)))


@hours_app.command("clear")
def hours_clear(
    geonameid: int,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Remove a city's hours: always open again."""
    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    repo.set_opening_hours(geonameid, None)
    _audit(geonameid, "settings.hours", "cleared (always open)")
    typer.echo(f"{sub.display_name}: opening hours cleared (always open)")


def _switch(
    repo: SubscriberRepository, geonameid: int, state: str, setting: str, label: str, turn: Callable[[int, bool], None]
) -> None:
    """One of the city's on/off settings: checked, set, audited as ``settings.<setting>``, echoed."""
    if state not in ("on", "off"):
        raise _fail(f"{setting}: {state!r} is not on or off")
    sub = _subscriber(repo, geonameid)
    turn(geonameid, state == "on")
    _audit(geonameid, f"settings.{setting}", state)
    typer.echo(f"{sub.display_name}: {label} {state}")


@app.command("survey")
def survey(
    geonameid: int,
    state: Annotated[str, typer.Argument(help="on or off.")],
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Turn on or off the satisfaction text a resident gets when an agent closes their conversation."""
    repo = _bind(table, region, endpoint_url)
    _switch(repo, geonameid, state, "survey", "satisfaction survey", repo.set_survey)


@app.command("intake")
def intake(
    geonameid: int,
    state: Annotated[str, typer.Argument(help="on or off.")],
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Turn on or off guided intake: a connected resident whose first text of a conversation names no
    place is asked once where it is (the text reaches the city at once all the same)."""
    repo = _bind(table, region, endpoint_url)
    _switch(repo, geonameid, state, "intake", "guided intake", repo.set_guided_intake)


@app.command("translate")
def translate(
    geonameid: int,
    state: Annotated[str, typer.Argument(help="on or off.")],
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Turn on or off machine translation between residents who write in another language and the
    city's agents (billed per character: docs/languages.md, "Translation")."""
    repo = _bind(table, region, endpoint_url)
    _switch(repo, geonameid, state, "translate", "machine translation", repo.set_translate)


@app.command("target")
def target(
    geonameid: int,
    minutes: Annotated[str, typer.Argument(help="Minutes a first answer may take, or off.")],
    notify: Annotated[
        list[str], typer.Option("--notify", help="Supervisor mailed a breach (repeatable); default: the contacts.")
    ] = [],  # noqa: B006
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Set or turn off a city's first-response target: a text waiting longer for its first answer is
    flagged in the console and mailed once to the supervisors (docs/contact-centre.md)."""
    from text311.addresses import AddressRefused, single_address
    from text311.response_targets import TargetError, parse_minutes, set_target

    try:
        chosen = parse_minutes(minutes)
        addresses = tuple(single_address(a) for a in notify)
    except (TargetError, AddressRefused) as exc:
        raise _fail(str(exc)) from exc
    repo = _bind(table, region, endpoint_url)
    sub = _subscriber(repo, geonameid)
    set_target(geonameid, chosen, addresses)
    detail = "off" if chosen is None else f"{chosen} minutes, mailed to {', '.join(addresses) or 'the contacts'}"
    _audit(geonameid, "settings.target", detail)
    typer.echo(f"{sub.display_name}: first-response target {detail}")


# --- open311: the city's GeoReport v2 API key and open data consent (text311.open311) ------------

open311_app = typer.Typer(
    help="A municipality's Open311 GeoReport v2 API: its api_key and whether descriptions are published.",
    no_args_is_help=True,
)
app.add_typer(open311_app, name="open311")


@open311_app.command("key")
def open311_key(
    geonameid: int,
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Create the city's api_key, or rotate it: the previous key stops working at once. The key is
    printed once; only its SHA-256 is stored."""
    from text311.open311.keys import Open311SettingsStore, UnknownCity

    sub = _subscriber(_bind(table, region, endpoint_url), geonameid)
    try:
        key = Open311SettingsStore().rotate_key(geonameid)
    except UnknownCity as exc:
        raise _fail(str(exc)) from exc
    _audit(geonameid, "settings.open311", "api_key created or rotated")  # never the key itself
    typer.echo(f"new Open311 api_key of {sub.display_name} (jurisdiction_id {geonameid}); shown once:", err=True)
    typer.echo(key)


@open311_app.command("publish")
def open311_publish(
    geonameid: int,
    state: Annotated[str, typer.Argument(help="on or off.")],
    endpoint_url: EndpointUrl = None,
    region: Region = DEFAULT_REGION,
    table: Table = DEFAULT_TABLE,
) -> None:
    """Publish residents' descriptions in the city's Open311 requests (on, phone numbers and e-mail
    addresses masked), or not (off, the default)."""
    from text311.open311.keys import Open311SettingsStore, UnknownCity

    if state not in ("on", "off"):
        raise _fail(f"publish: {state!r} is not on or off")
    sub = _subscriber(_bind(table, region, endpoint_url), geonameid)
    try:
        Open311SettingsStore().set_publish(geonameid, state == "on")
    except UnknownCity as exc:
        raise _fail(str(exc)) from exc
    _audit(geonameid, "settings.open311", f"descriptions published: {state}")
    typer.echo(f"{sub.display_name}: Open311 descriptions {'published, masked' if state == 'on' else 'not published'}")
