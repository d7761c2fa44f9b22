"""``text311 municipality``: onboard, list, show and remove subscribing municipalities.

Every command talks to the subscribers table directly (the same pynamodb model as the functions),
so ``--endpoint-url http://localhost:…`` points it at the local run. Bad input (an unknown id, an
ambiguous name, a bad email, a city already subscribed) is refused with a message naming the
problem, exit status 1, and nothing written.
"""

from __future__ import annotations

import json
from dataclasses import asdict
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
    meta: Any = SubscriberModel.Meta  # the same binding as bind_tables, for this one table
    meta.table_name = table
    meta.region = region
    meta.host = endpoint_url or None
    SubscriberModel._connection = None  # drop a connection built for other settings
    return SubscriberRepository()


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
        list[str] | None, typer.Option("--language", help="en or fr (repeatable; first is the default).")
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
    typer.echo(json.dumps({**asdict(sub), "inbox": report.as_json()}, ensure_ascii=False, indent=2))
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
    typer.echo(f"removed {geonameid} {sub.display_name}, {sub.region_code}")
