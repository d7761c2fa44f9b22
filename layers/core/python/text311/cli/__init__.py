"""The ``text311`` command (operators' tools; typer is a dev dependency, never imported by Lambda code).

text311 municipality add <geonameid-or-name> --email a@city.ca --agents @city.ca [...]
text311 municipality list | show <geonameid> | remove <geonameid>
text311 resident forget +18195550123 [--stack Text311-ca-central-1] [--yes]
text311 dns --region ca-central-1          every DNS record the domain owner publishes
text311 doctor --region ca-central-1       read-only preflight: is the region ready for real traffic?
text311 usage --month 2026-12 [--city ID] [--csv]   each city's usage in a UTC month and its cost
"""

from __future__ import annotations

import typer

from text311.cli.dns import dns
from text311.cli.doctor import doctor
from text311.cli.municipality import app as municipality_app
from text311.cli.resident import app as resident_app
from text311.cli.usage import usage

app = typer.Typer(help="Text311 operators' tools.", no_args_is_help=True, add_completion=False)
app.add_typer(municipality_app, name="municipality")
app.add_typer(resident_app, name="resident")
app.command("dns")(dns)
app.command("doctor")(doctor)
app.command("usage")(usage)


def main() -> None:
    app()
