"""``text311 usage --month 2026-12 [--city ID] [--csv]``: what each city used in a month, and its cost.

Figures come from the region's tables (text311.usage), so running it twice for a closed month gives
the same output. The month is a UTC calendar month, as AWS bills. The table names come from the
environment or, with ``--stack Text311-<region>``, from that stack's inbound-SMS function, as for
``text311 resident forget``. What each column counts and what it cannot count yet: docs/usage.md.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer

from text311.cli.resident import EndpointUrl, Region, Stack, region_environment
from text311.settings import SettingsError, load_settings
from text311.usage import CityUsage, Month, TableUsageRecords, usage_for
from text311.usage_prices import PriceFileError, PriceList, load_prices

# Costs below a cent are real (SES charges a ten-thousandth of a dollar an email): four places.
FINE = Decimal("0.0001")
# Table columns: (heading, figure).
COLUMNS = (
    ("city", "city_id"),
    ("country", "country"),
    ("conv.", "conversations"),
    ("texts in", "inbound_texts"),
    ("in GSM-7", "inbound_parts_gsm7"),
    ("in UCS-2", "inbound_parts_ucs2"),
    ("SMS out", "sms_sent"),
    ("out GSM-7", "sent_parts_gsm7"),
    ("out UCS-2", "sent_parts_ucs2"),
    ("in doubt", "answers_in_doubt"),
    ("mails out", "emails_sent"),
    ("mails in", "emails_received"),
    ("chunks in", "email_chunks_received"),
    ("transl. chars", "translated_characters"),
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _money(amount: Decimal | None) -> str:
    return "unknown" if amount is None else str(amount.quantize(FINE))


def usage_csv(rows: list[CityUsage]) -> str:
    """One row a city: every figure, each cost line by its price id ("unknown" when its price is),
    the total of the known lines, and the prices' date and currency."""
    price_ids = [line.price.id for line in rows[0].costs] if rows else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "month",
            *(name for _, name in COLUMNS),
            *(f"cost_{p}" for p in price_ids),
            "cost_known_total",
            "unknown_cost_lines",
            "prices_read_on",
            "currency",
        ]
    )
    for usage in rows:
        figures = usage.figures()
        writer.writerow(
            [
                usage.month,
                *("" if figures[name] is None else figures[name] for _, name in COLUMNS),
                *(_money(line.cost) for line in usage.costs),
                _money(usage.total_known),
                len(usage.unknown_costs),
                usage.prices_read_on,
                usage.currency,
            ]
        )
    return out.getvalue()


def usage_table(rows: list[CityUsage], month: Month, prices: PriceList, detail: bool) -> str:
    lines = [
        f"Text311 usage for {month} (UTC calendar month); costs at list prices read on "
        f"{prices.read_on}, in {prices.currency}"
    ]
    headings = [h for h, _ in COLUMNS] + ["cost known", "unknown"]
    cells = [
        [str(u.figures()[name] or 0) if name != "country" else (u.country or "?") for _, name in COLUMNS]
        + [_money(u.total_known), str(len(u.unknown_costs))]
        for u in rows
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headings)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headings, widths, strict=True)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    if detail:
        for usage in rows:
            lines.append(f"\ncosts of city {usage.city_id}:")
            for line in usage.costs:
                price = line.price
                rate = "unknown" if price.amount is None else f"{price.amount} per {price.per:,} {price.unit}"
                lines.append(f"  {line.label:<28} {line.quantity:>8}  {_money(line.cost):>10}  ({rate})")
    unknown = {line.price.id: line.price for u in rows for line in u.unknown_costs}
    if unknown:
        lines.append("\nnot in the known cost (price unknown, see the prices file):")
        lines += [f"  {p.id}: {p.note}" for p in unknown.values()]
    lines.append("\nnot charged per city: the number's lease, DynamoDB and Lambda (shared by every city).")
    return "\n".join(lines)


def usage(
    month: Annotated[str, typer.Option("--month", help="The UTC calendar month, YYYY-MM.")],
    city: Annotated[
        int | None, typer.Option("--city", help="One city's geonameid (default: every subscriber).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV, one row a city, instead of a table.")] = False,
    prices_file: Annotated[Path | None, typer.Option("--prices", help="Another prices file.")] = None,
    region: Region = "ca-central-1",
    endpoint_url: EndpointUrl = None,
    stack: Stack = None,
) -> None:
    """Each city's usage in a month, counted from the tables, and its cost at list prices."""
    try:
        parsed = Month.parse(month)
        prices = load_prices(prices_file)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url)

    environment = region_environment(client, region, endpoint_url, stack)
    try:
        settings = load_settings(environment)
    except SettingsError as exc:
        raise _fail(f"{exc}; set them or pass --stack Text311-{region}") from None
    records = TableUsageRecords(
        client("dynamodb"),
        subscribers_table=settings.subscribers_table,
        conversations_table=settings.conversations_table,
        messages_table=settings.messages_table,
    )
    cities = [city] if city is not None else records.cities()
    try:
        rows = [usage_for(c, str(parsed), records=records, prices=prices) for c in cities]
    except PriceFileError as exc:
        raise _fail(str(exc)) from None
    typer.echo(usage_csv(rows) if as_csv else usage_table(rows, parsed, prices, detail=city is not None), nl=not as_csv)
