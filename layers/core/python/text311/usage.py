"""What one city used in one calendar month, counted from the tables, and its cost at list prices.

Counted from durable records only (the conversations and messages tables), never from logs or
metrics, so the same month read twice gives the same figures. What each figure counts, what no
record holds yet and the cost of a run are in docs/usage.md. In short:

- **The month is a UTC calendar month**, as AWS bills: the city figures then add up to the month
  of the AWS invoice. (A city's local month would shift each city's figures by its offset.)
- **conversations**: opened in the month (``opened_at``).
- **inbound texts**: the messages ``in`` by ``sms`` recorded in the month (mailed, held by the flood
  limit or waiting); their parts as the resident's phone sent them (one concatenated SMS).
- **SMS parts sent**: agents' answers that went out (``sent``, ``delivered``, ``undelivered``),
  split exactly as the drainer splits them, each part in its own encoding (a translated answer's
  parts are its ``translation``'s, the text the resident received); plus the survey texts
  sent in the month (``survey_sent_at``). Answers ``in_doubt`` are counted apart, not billed.
- **emails sent**: texts mailed to the city (``emailed`` and the statuses SES's events move it to);
  **emails received**: agents' answers that came by email. One chunk of 256 KB is counted per
  email received: the size is not recorded, so that count is a floor.
- **translated characters**: the ``translated_chars`` number of the month's messages (written by
  text311.translation for the cities that translate).

Reads: one Query of the city's conversations (its partition), then one Query per conversation
opened before the month's end and not closed before its start, on
``begins_with(message_key, "<YYYY-MM>-")`` (the key starts with the UTC time). No Scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from text311.sms import Encoding, SmsSegmenter, concatenated_parts, encoding_of
from text311.usage_prices import CostLine, PriceList, cost_line, load_prices

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The statuses of a text whose mail SES accepted (text311.mail_feedback moves "emailed" among them).
MAILED = frozenset({"emailed", "delayed", "bounced", "complained"})
# The statuses of an answer the drainer sent (delivery_status sets the last two from the carrier).
SENT = frozenset({"sent", "delivered", "undelivered"})
IN_DOUBT = "in_doubt"
# The sender never sends more parts than this (DEFAULT_MAX_PARTS); a recorded body is re-split
# without that check, so an answer recorded under an older, larger limit is still counted.
_SPLITTER = SmsSegmenter(max_parts=99)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _MONTH.match(text.strip())
        if not found:
            raise ValueError(f"a month is written YYYY-MM (2026-12), not {text!r}")
        return cls(int(found.group(1)), int(found.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (exclusive)."""
        return datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=UTC)

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


class UsageRecords(Protocol):
    """The records usage is counted from (TableUsageRecords; a test may give its own)."""

    def country(self, city_id: int) -> str | None: ...

    def conversations(self, city_id: int) -> Iterable[Mapping[str, Any]]: ...

    def messages(self, conversation_id: str, month: Month) -> Iterable[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class CityUsage:
    city_id: int
    month: str
    country: str | None
    conversations: int
    inbound_texts: int
    inbound_parts_gsm7: int
    inbound_parts_ucs2: int
    sms_sent: int  # answers and surveys that went out
    sent_parts_gsm7: int
    sent_parts_ucs2: int
    answers_in_doubt: int
    emails_sent: int
    emails_received: int
    email_chunks_received: int
    translated_characters: int
    costs: tuple[CostLine, ...] = ()
    prices_read_on: str = ""
    currency: str = "USD"

    @property
    def total_known(self) -> Decimal:
        return sum((line.cost for line in self.costs if line.cost is not None), Decimal(0))

    @property
    def unknown_costs(self) -> tuple[CostLine, ...]:
        return tuple(line for line in self.costs if line.cost is None)

    def as_json(self) -> dict[str, Any]:
        """The figures and the cost lines, amounts as strings; an unknown price's cost is None."""
        return {
            "figures": self.figures(),
            "costs": [
                {
                    "label": line.label,
                    "quantity": line.quantity,
                    "price_id": line.price.id,
                    "cost": None if line.cost is None else str(line.cost),
                    "note": line.price.note,
                }
                for line in self.costs
            ],
            "total_known": str(self.total_known),
            "unknown_costs": len(self.unknown_costs),
            "currency": self.currency,
            "prices_read_on": self.prices_read_on,
        }

    def figures(self) -> dict[str, int | str | None]:
        """The counted figures by name (CSV columns, the console's JSON)."""
        skip = {"costs", "prices_read_on", "currency"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


@dataclass
class _Tally:
    conversations: int = 0
    inbound_texts: int = 0
    inbound_parts: dict[Encoding, int] = field(default_factory=lambda: dict.fromkeys(Encoding, 0))
    sms_sent: int = 0
    sent_parts: dict[Encoding, int] = field(default_factory=lambda: dict.fromkeys(Encoding, 0))
    answers_in_doubt: int = 0
    emails_sent: int = 0
    emails_received: int = 0
    translated_characters: int = 0

    def inbound(self, body: str) -> None:
        self.inbound_texts += 1
        self.inbound_parts[encoding_of(body)] += concatenated_parts(body) if body else 1

    def sent(self, body: str) -> None:
        parts = _split(body)
        self.sms_sent += 1 if parts else 0
        for part in parts:
            self.sent_parts[encoding_of(part)] += 1


def _split(body: str) -> list[str]:
    try:
        return _SPLITTER.split(body)
    except ValueError:  # a blank body: nothing was sent
        return []


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name) or {}
    return str(value.get("S", ""))


def _number(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name) or {}
    return int(Decimal(value["N"])) if "N" in value else 0


def _time(item: Mapping[str, Any], name: str) -> datetime | None:
    """A pynamodb UTCDateTimeAttribute as stored ("2026-12-01T00:00:00.000000+0000")."""
    raw = _text(item, name)
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z") if raw else None


def count_usage(city_id: int, month: Month, records: UsageRecords, survey_text: Callable[[str], str]) -> CityUsage:
    """The city's figures for the month (no costs). ``survey_text(language)``: the survey SMS's body."""
    tally = _Tally()
    for conversation in records.conversations(city_id):
        opened = _time(conversation, "opened_at")
        if opened is None or opened >= month.end:
            continue  # opened after the month: none of its messages is in it
        closed = _time(conversation, "closed_at")
        if _text(conversation, "status") == "closed" and closed is not None and closed < month.start:
            # Closed before the month: nothing is written to a closed conversation (a text opens a new
            # one, an answer or preview needs it open, its survey went at its close; a reopen clears
            # closed_at), so its messages are not read: one Query per conversation active in the month.
            continue
        if month.holds(opened):
            tally.conversations += 1
        surveyed = _time(conversation, "survey_sent_at")
        if surveyed is not None and month.holds(surveyed):
            tally.sent(survey_text(_text(conversation, "language") or "en"))
        for message in records.messages(_text(conversation, "conversation_id"), month):
            _count_message(tally, message)
    return CityUsage(
        city_id=city_id,
        month=str(month),
        country=records.country(city_id),
        conversations=tally.conversations,
        inbound_texts=tally.inbound_texts,
        inbound_parts_gsm7=tally.inbound_parts[Encoding.GSM7],
        inbound_parts_ucs2=tally.inbound_parts[Encoding.UCS2],
        sms_sent=tally.sms_sent,
        sent_parts_gsm7=tally.sent_parts[Encoding.GSM7],
        sent_parts_ucs2=tally.sent_parts[Encoding.UCS2],
        answers_in_doubt=tally.answers_in_doubt,
        emails_sent=tally.emails_sent,
        emails_received=tally.emails_received,
        email_chunks_received=tally.emails_received,
        translated_characters=tally.translated_characters,
    )


def _count_message(tally: _Tally, message: Mapping[str, Any]) -> None:
    direction, channel, status = _text(message, "direction"), _text(message, "channel"), _text(message, "status")
    body = _text(message, "body")
    # A translated answer's SMS is its translation; ``body`` keeps the agent's original.
    sent_text = _text(message, "translation") or body
    tally.translated_characters += _number(message, "translated_chars")
    if direction == "in" and channel == "sms":
        tally.inbound(body)
        if status in MAILED:
            tally.emails_sent += 1
    elif direction == "out":
        if channel == "email":
            tally.emails_received += 1
        if status in SENT:
            tally.sent(sent_text)
        elif status == IN_DOUBT:
            tally.answers_in_doubt += 1


def priced(usage: CityUsage, prices: PriceList) -> CityUsage:
    """The usage with its cost lines. SMS prices follow the city's country (its residents' numbers)."""
    country = usage.country if usage.country in ("CA", "US") else "CA"
    sent = usage.sent_parts_gsm7 + usage.sent_parts_ucs2
    received = usage.inbound_parts_gsm7 + usage.inbound_parts_ucs2
    lines = (
        cost_line("SMS parts sent", sent, prices[f"sms_outbound_part_{country}"]),
        cost_line("carrier fees, SMS parts sent", sent, prices[f"sms_outbound_carrier_fee_{country}"]),
        cost_line("SMS parts received", received, prices[f"sms_inbound_part_{country}"]),
        cost_line("emails sent", usage.emails_sent, prices["ses_email_out"]),
        cost_line("emails received", usage.emails_received, prices["ses_email_in"]),
        cost_line("256 KB chunks received", usage.email_chunks_received, prices["ses_chunk_in"]),
        cost_line("characters translated", usage.translated_characters, prices["translate_character"]),
    )
    return CityUsage(
        **{f.name: getattr(usage, f.name) for f in fields(usage)}
        | {"costs": lines, "prices_read_on": prices.read_on, "currency": prices.currency}
    )


class TableUsageRecords:
    """The tables through a DynamoDB client (given by the caller): Query and GetItem only."""

    def __init__(self, client: Any, *, subscribers_table: str, conversations_table: str, messages_table: str) -> None:
        self.client = client
        self.subscribers_table = subscribers_table
        self.conversations_table = conversations_table
        self.messages_table = messages_table

    def country(self, city_id: int) -> str | None:
        item = self.client.get_item(
            TableName=self.subscribers_table, Key={"geonameid": {"N": str(city_id)}}, ProjectionExpression="country"
        ).get("Item")
        return _text(item, "country") or None if item else None

    def cities(self) -> list[int]:
        """Every subscriber's geonameid (one Scan of the small subscribers table)."""
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.subscribers_table, ProjectionExpression="geonameid"
        )
        return sorted(int(item["geonameid"]["N"]) for page in pages for item in page["Items"])

    def conversations(self, city_id: int) -> Iterator[Mapping[str, Any]]:
        yield from self._query(
            self.conversations_table,
            "municipality_id = :city",
            {":city": {"N": str(city_id)}},
            "conversation_id, opened_at, survey_sent_at, #language, #status, closed_at",
            {"#language": "language", "#status": "status"},
        )

    def messages(self, conversation_id: str, month: Month) -> Iterator[Mapping[str, Any]]:
        yield from self._query(
            self.messages_table,
            "conversation_id = :id AND begins_with(message_key, :month)",
            {":id": {"S": conversation_id}, ":month": {"S": f"{month}-"}},
            "direction, channel, body, #status, #translation, translated_chars",
            {"#status": "status", "#translation": "translation"},  # both DynamoDB reserved words
        )

    def _query(
        self, table: str, condition: str, values: dict[str, Any], projection: str, names: dict[str, str]
    ) -> Iterator[Mapping[str, Any]]:
        pages = self.client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ProjectionExpression=projection,
            ExpressionAttributeNames=names,
        )
        for page in pages:
            yield from page["Items"]


def _survey_text(language: str) -> str:
    from text311.i18n import catalog

    return catalog().message(language, "survey")


def usage_for(
    city_id: int, month: str, *, records: UsageRecords | None = None, prices: PriceList | None = None
) -> CityUsage:
    """One city's usage and cost for a month ("2026-12"), for the console and the CLI. Without
    ``records``, the deployed tables through the functions' own client and settings."""
    if records is None:
        from text311 import services

        s = services.settings()
        records = TableUsageRecords(
            services.clients().dynamodb,
            subscribers_table=s.subscribers_table,
            conversations_table=s.conversations_table,
            messages_table=s.messages_table,
        )
    usage = count_usage(city_id, Month.parse(month), records, _survey_text)
    return priced(usage, prices or load_prices())
