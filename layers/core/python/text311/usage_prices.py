"""The list prices a month's usage is costed at, read from ``text311/data/prices.json``.

The file ships inside the package (``data/``, like the Open311 service list) so the console's Lambda
reads the same prices as the operators' CLI; ``--prices`` points the CLI at another file. Each price
carries the page it was read on, the day it was read and the AWS pricing page to check it against.
A price nobody could find is ``"amount": null``: a line that needs it costs *unknown*, and the month's
total says it leaves that line out. Nothing here guesses a figure (docs/usage.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any


class PriceFileError(ValueError):
    """The prices file is not as documented; the message names the price and the field."""


@dataclass(frozen=True)
class Price:
    id: str
    service: str
    what: str
    unit: str
    per: int  # the amount is for this many units (1,000 emails, 1,000,000 requests)
    amount: Decimal | None  # None: not found, never guessed
    region: str | None
    source: str | None  # the page the amount was read on
    aws_page: str
    note: str

    def cost(self, quantity: int) -> Decimal | None:
        """What ``quantity`` units cost; nothing used costs nothing even at an unknown price."""
        if quantity == 0:
            return Decimal(0)
        if self.amount is None:
            return None
        return self.amount * quantity / self.per


@dataclass(frozen=True)
class PriceList:
    read_on: str
    currency: str
    prices: Mapping[str, Price]

    def __getitem__(self, price_id: str) -> Price:
        try:
            return self.prices[price_id]
        except KeyError:
            raise PriceFileError(f"the prices file has no price {price_id!r}") from None


def _amount(price_id: str, raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        amount = Decimal(str(raw))  # read as text: 0.0000133334 stays exact
    except InvalidOperation:
        raise PriceFileError(f"price {price_id}: amount {raw!r} is not a number") from None
    if amount < 0:
        raise PriceFileError(f"price {price_id}: amount {raw!r} is negative")
    return amount


def _price(price_id: str, entry: Mapping[str, Any]) -> Price:
    missing = [f for f in ("service", "what", "unit", "per", "amount", "aws_page", "note") if f not in entry]
    if missing:
        raise PriceFileError(f"price {price_id}: missing {', '.join(missing)}")
    amount = _amount(price_id, entry["amount"])
    if amount is not None and not entry.get("source"):
        raise PriceFileError(f"price {price_id}: an amount needs the source it was read on")
    per = entry["per"]
    if not isinstance(per, int) or per < 1:
        raise PriceFileError(f"price {price_id}: per must be a whole number of units, got {per!r}")
    return Price(
        price_id,
        entry["service"],
        entry["what"],
        entry["unit"],
        per,
        amount,
        entry.get("region"),
        entry.get("source"),
        entry["aws_page"],
        entry["note"],
    )


def parse_prices(document: Mapping[str, Any]) -> PriceList:
    for field in ("read_on", "currency", "prices"):
        if field not in document:
            raise PriceFileError(f"the prices file has no {field}")
    prices = {price_id: _price(price_id, entry) for price_id, entry in document["prices"].items()}
    return PriceList(str(document["read_on"]), str(document["currency"]), prices)


def load_prices(path: Path | None = None) -> PriceList:
    """The packaged prices file, or ``path``."""
    if path is None:
        text = (resources.files("text311") / "data" / "prices.json").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_prices(json.loads(text))


@dataclass(frozen=True)
class CostLine:
    """One priced quantity of a city's month. ``cost`` None: the price is unknown (``price.note`` says why)."""

    label: str
    quantity: int
    price: Price
    cost: Decimal | None


def cost_line(label: str, quantity: int, price: Price) -> CostLine:
    return CostLine(label, quantity, price, price.cost(quantity))
