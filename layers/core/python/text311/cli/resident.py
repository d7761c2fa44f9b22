"""``text311 resident forget +1…``: erase one phone number's data from a region, on request.

The command needs the region's settings (table names, the phone-hash secret, the raw-mail bucket):
the same variables the functions read (text311.settings). They come from the environment, or with
``--stack Text311-<region>`` from that stack's inbound-SMS function, so the operator types nothing
that could point at the wrong table. ``--endpoint-url`` reaches the local run or moto.

A bad number is refused (exit 1) before any call; nothing is deleted without ``--yes`` or a typed
confirmation. What stays after an erasure, and why, is in docs/retention.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import boto3
import typer

from text311.adapters.dynamodb import bind_tables
from text311.adapters.secrets import read_json_secret
from text311.erasure import ErasureReport, forget_resident
from text311.phone import InvalidPhoneNumber, mask, normalize_e164, phone_hash
from text311.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Residents' data: erasure on request.", no_args_is_help=True)

EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint (the local run, moto)."),
]
Region = Annotated[str, typer.Option("--region", envvar="AWS_REGION", help="AWS region.")]
Stack = Annotated[
    str | None,
    typer.Option("--stack", help="Read the settings from this stack's inbound-SMS function (Text311-<region>)."),
]
# The function whose environment is the settings contract; its logical id is set in stacks/functions.py.
SETTINGS_FUNCTION = "InboundSms"


def settings_from_stack(cloudformation: Any, lambda_client: Any, stack: str) -> dict[str, str]:
    """The inbound-SMS function's environment in a deployed stack: the settings the functions use."""
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    functions = [
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function" and SETTINGS_FUNCTION in r["LogicalResourceId"]
    ]
    if len(functions) != 1:
        raise SettingsError(f"stack {stack} has {len(functions)} {SETTINGS_FUNCTION} functions, expected 1")
    configuration = lambda_client.get_function_configuration(FunctionName=functions[0])
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def region_environment(
    client: Callable[[str], Any], region: str, endpoint_url: str | None, stack: str | None
) -> dict[str, str]:
    """The settings' environment for an operator's command: this shell's, overlaid with the deployed
    stack's function environment when ``stack`` is given, pointed at ``region`` (and the endpoint)."""
    environment = dict(os.environ)
    if stack:
        environment.update(settings_from_stack(client("cloudformation"), client("lambda"), stack))
    environment.update({"AWS_REGION": region, **({"AWS_ENDPOINT_URL": endpoint_url} if endpoint_url else {})})
    return environment


def erase(
    number: str, settings: Settings, clients: Mapping[str, Any]
) -> ErasureReport:
    """Hash the number with the region's key and forget it: tables, then the agents' raw emails."""
    bind_tables(settings)
    hash_keys = read_json_secret(clients["secretsmanager"], settings.phone_hash_secret_id)
    key = next(iter(hash_keys.values())).encode()  # the first key is the key (see services.phone_vault)
    s3 = clients["s3"]

    def delete_raw_mail(ses_message_id: str) -> None:
        if settings.raw_mail_bucket:
            s3.delete_object(Bucket=settings.raw_mail_bucket, Key=settings.raw_mail_prefix + ses_message_id)

    return forget_resident(phone_hash(number, key), delete_raw_mail)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@app.command("forget")
def forget(
    number: Annotated[str, typer.Argument(help="The resident's number, E.164 (+18195550123).")],
    region: Region = "ca-central-1",
    endpoint_url: EndpointUrl = None,
    stack: Stack = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase everything Text311 holds about one phone number in one region."""
    try:
        number = normalize_e164(number)
    except InvalidPhoneNumber as exc:
        raise _fail(str(exc)) from None

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url)

    environment = region_environment(client, region, endpoint_url, stack)
    try:
        settings = load_settings(environment)
    except SettingsError as exc:
        raise _fail(f"{exc}; set them or pass --stack Text311-{region}") from None

    if not yes and not typer.confirm(f"Erase all data of {mask(number)} in {region}?"):
        raise _fail("nothing erased")
    report = erase(number, settings, {name: client(name) for name in ("secretsmanager", "s3")})
    typer.echo(
        f"erased {mask(number)}: resident record {'deleted' if report.resident else 'not found'}, "
        f"{report.conversations} conversations, {report.messages} messages, {report.raw_mails} raw emails"
    )
    if report.municipalities:
        # The city's own mailbox holds the emails we sent it; only the city can delete those.
        typer.echo("tell these municipalities (geonameid) to delete the threads in their mailbox: "
                   + ", ".join(str(m) for m in report.municipalities))
