"""A city's monthly usage is counted from the tables' records: exact figures for a known month, the
same figures twice, other months and cities left out, the month bounded in UTC, costs from the
prices file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from harness import GATINEAU, KINGSTON, REGION
from moto import mock_aws

from text311.adapters.dynamodb import ConversationModel, MessageModel, bind_tables, create_tables
from text311.conversations import message_key
from text311.settings import load_settings
from text311.subscribers import SubscriberRepository
from text311.usage import Month, TableUsageRecords, usage_for
from text311.usage_prices import PriceFileError, load_prices, parse_prices

GAT, KIN = GATINEAU.geonameid, KINGSTON.geonameid
LONG_GSM = "The streetlight at the corner of Main and Elm has been out for a week and the crossing is dark. " * 2


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def conversation(city: int, suffix: str, opened: datetime, **extra) -> str:
    conversation_id = f"{city}-{suffix}"
    ConversationModel(
        municipality_id=city,
        conversation_id=conversation_id,
        phone_hash="hash",
        phone_encrypted="sealed",
        opened_at=opened,
        last_message_at=opened,
        subject="s",
        **extra,
    ).save()
    return conversation_id


def message(
    conversation_id: str, at: datetime, external_id: str, direction: str, channel: str, body: str, status: str | None
) -> None:
    MessageModel(
        conversation_id=conversation_id,
        message_key=message_key(at, external_id),
        direction=direction,
        channel=channel,
        body=body,
        status=status,
        external_id=external_id,
        created_at=at,
    ).save()


@pytest.fixture
def tables(aws_env):
    with mock_aws():
        settings = load_settings(aws_env)
        bind_tables(settings)
        create_tables()
        for subscriber in (GATINEAU, KINGSTON):
            SubscriberRepository().add(subscriber)
        yield TableUsageRecords(
            boto3.client("dynamodb", region_name=REGION),
            subscribers_table=settings.subscribers_table,
            conversations_table=settings.conversations_table,
            messages_table=settings.messages_table,
        )


@pytest.fixture
def december(tables):
    """Gatineau's December 2026, with November, January and Kingston around it."""
    c1 = conversation(GAT, "dec", utc(2026, 12, 1), language="fr", survey_sent_at=utc(2026, 12, 5))
    message(c1, utc(2026, 12, 1, 0, 0, 1), "in-1", "in", "sms", "Pothole on rue Principale", "emailed")
    message(c1, utc(2026, 12, 1, 0, 1), "in-2", "in", "sms", "Arrêt d'autobus brisé", "throttled")  # ê: UCS-2
    message(c1, utc(2026, 12, 2), "in-3", "in", "sms", LONG_GSM, "bounced")  # 2 concatenated parts
    message(c1, utc(2026, 12, 3), "ans-1", "out", "email", "We will fix it Friday.", "delivered")
    message(c1, utc(2026, 12, 3, 1), "ans-2", "out", "console", "Merci, la fenêtre sera réparée.", "sent")
    message(c1, utc(2026, 12, 4), "ans-3", "out", "email", "Crew booked.", "in_doubt")
    message(c1, utc(2026, 12, 4, 1), "ans-4", "out", "email", "Closed.", "failed")
    message(c1, utc(2026, 12, 4, 2), "note-1", "note", "console", "called the resident", None)
    c2 = conversation(GAT, "nov", utc(2026, 11, 30, 23, 59, 59, 999000))
    message(c2, utc(2026, 11, 30, 23, 59, 59, 999000), "in-nov", "in", "sms", "Still broken in November", "emailed")
    message(c2, utc(2026, 12, 31, 23, 59, 59, 999000), "in-last", "in", "sms", "And on New Year's Eve", "emailed")
    message(c2, utc(2027, 1, 1), "in-jan", "in", "sms", "Happy new year, still broken", "emailed")
    conversation(GAT, "jan", utc(2027, 1, 1))
    k1 = conversation(KIN, "dec", utc(2026, 12, 10))
    message(k1, utc(2026, 12, 10), "k-in", "in", "sms", "Kingston text", "emailed")
    message(k1, utc(2026, 12, 11), "k-ans", "out", "email", "Kingston answer", "sent")
    # Where translation will write its count (docs/usage.md): a number on the message.
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=MessageModel.Meta.table_name,
        Key={"conversation_id": {"S": c1}, "message_key": {"S": message_key(utc(2026, 12, 3), "ans-1")}},
        UpdateExpression="SET translated_chars = :n",
        ExpressionAttributeValues={":n": {"N": "42"}},
    )
    return tables


def test_a_known_month_gives_exact_figures(december):
    usage = usage_for(GAT, "2026-12", records=december)

    assert usage.figures() == {
        "city_id": GAT,
        "month": "2026-12",
        "country": "CA",
        "conversations": 1,
        "inbound_texts": 4,
        "inbound_parts_gsm7": 4,
        "inbound_parts_ucs2": 1,
        # the emailed and the console answer, and the French survey (one GSM-7 SMS, test_template_parts)
        "sms_sent": 3,
        "sent_parts_gsm7": 2,
        "sent_parts_ucs2": 1,
        "answers_in_doubt": 1,
        "emails_sent": 3,
        "emails_received": 3,
        "email_chunks_received": 3,
        "translated_characters": 42,
    }


def test_a_month_recomputed_gives_the_same_figures_and_costs(december):
    first = usage_for(GAT, "2026-12", records=december)
    second = usage_for(GAT, "2026-12", records=december)

    assert first == second


def test_other_cities_are_left_out(december):
    usage = usage_for(KIN, "2026-12", records=december)

    assert (usage.conversations, usage.inbound_texts, usage.emails_sent, usage.emails_received) == (1, 1, 1, 1)
    assert (usage.sent_parts_gsm7, usage.sms_sent, usage.translated_characters) == (1, 1, 0)


def test_other_months_are_left_out(december):
    november = usage_for(GAT, "2026-11", records=december)
    january = usage_for(GAT, "2027-01", records=december)

    assert (november.conversations, november.inbound_texts, november.emails_sent) == (1, 1, 1)
    assert (january.conversations, january.inbound_texts, january.sms_sent) == (1, 1, 0)


def test_the_month_is_bounded_in_utc_not_in_the_city_time_zone(tables):
    toronto = timezone(timedelta(hours=-5))
    c = conversation(GAT, "edge", utc(2026, 11, 30))
    # 20:00 on 30 November in Gatineau is 01:00 on 1 December UTC: December's, as AWS bills it.
    message(c, datetime(2026, 11, 30, 20, 0, tzinfo=toronto), "local-nov", "in", "sms", "evening text", "emailed")
    message(c, utc(2026, 11, 30, 23, 59, 59, 999000), "last-ms", "in", "sms", "last of november", "emailed")
    message(c, utc(2026, 12, 1), "first-ms", "in", "sms", "first of december", "emailed")

    assert usage_for(GAT, "2026-12", records=tables).inbound_texts == 2
    assert usage_for(GAT, "2026-11", records=tables).inbound_texts == 1
    assert (Month.parse("2026-12").start, Month.parse("2026-12").end) == (utc(2026, 12, 1), utc(2027, 1, 1))


def test_the_cost_uses_the_prices_file(december):
    usage = usage_for(GAT, "2026-12", records=december)
    costs = {line.price.id: line.cost for line in usage.costs}

    # SES at the file's 0.10 / 0.10 / 0.09 per 1,000: three emails each way, three chunks
    assert costs["ses_email_out"] == Decimal("0.0003")
    assert costs["ses_email_in"] == Decimal("0.0003")
    assert costs["ses_chunk_in"] == Decimal("0.00027")
    # Translate at $15 per million characters: the month's 42 characters
    assert costs["translate_character"] == Decimal("0.00063")
    assert usage.total_known == Decimal("0.0015")
    # No source was found for SMS prices: unknown, never a guess.
    assert costs["sms_outbound_part_CA"] is None
    assert usage.prices_read_on == load_prices().read_on


def test_a_changed_price_changes_the_cost(december, tmp_path: Path):
    document = json.loads(
        Path(__file__).parents[2].joinpath("layers/core/python/text311/data/prices.json").read_text(encoding="utf-8")
    )
    document["prices"]["ses_email_out"]["amount"] = "1.00"
    document["prices"]["sms_outbound_part_CA"] |= {"amount": "0.01", "source": "https://example.test/prices"}
    prices = parse_prices(document)

    usage = usage_for(GAT, "2026-12", records=december, prices=prices)
    costs = {line.price.id: line.cost for line in usage.costs}

    assert costs["ses_email_out"] == Decimal("0.003")
    assert costs["sms_outbound_part_CA"] == Decimal("0.03")  # three parts sent
    assert usage.total_known == Decimal("0.03420")  # + 0.0003 SES in, 0.00027 chunks, 0.00063 Translate


def test_nothing_used_costs_nothing_even_at_an_unknown_price(tables):
    usage = usage_for(GAT, "2026-12", records=tables)

    assert usage.total_known == 0 and usage.unknown_costs == ()


def test_a_price_without_its_source_is_refused():
    document = {
        "read_on": "2026-12-02",
        "currency": "USD",
        "prices": {
            "x": {"service": "s", "what": "w", "unit": "u", "per": 1, "amount": "0.5", "aws_page": "p", "note": "n"}
        },
    }

    with pytest.raises(PriceFileError, match="x: an amount needs the source"):
        parse_prices(document)


def test_every_known_packaged_price_names_its_source_and_every_unknown_one_says_why():
    prices = load_prices()

    assert prices.read_on == "2026-12-02" and prices.currency == "USD"
    for price in prices.prices.values():
        assert price.aws_page.startswith("https://aws.amazon.com/")
        assert price.source if price.amount is not None else price.note.startswith("unknown")


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "12-2026", "2026-12-01", ""])
def test_a_month_is_written_yyyy_mm(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse(text)


def test_the_records_the_handlers_write_are_counted(aws_env, monkeypatch):
    """The same figures from what the real handlers store: two texts mailed, one emailed answer sent."""
    import importlib

    import aws_events
    from aws_events import inbound_sms_event, two_way_sms
    from harness import OUR_NUMBER, LambdaContext, agent_answer, sent_mails, setup_region, text_of

    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        inbound = importlib.import_module("functions.inbound_sms.handler")
        inbound.process_once.cache_clear()
        answers = importlib.import_module("functions.inbound_email.handler")
        answers.process_once.cache_clear()
        for body in ("Gatineau", "Nid-de-poule rue Principale", "Il est très profond"):
            inbound.lambda_handler(
                inbound_sms_event(two_way_sms(body, "+18195550123", OUR_NUMBER)), LambdaContext("inbound-sms")
            )
        mail = next(m for m in sent_mails() if "Nid-de-poule" in text_of(m))
        monkeypatch.setattr(aws_events, "ses_receipt", received_now(aws_events.ses_receipt))
        agent_answer(answers, mail, "Une équipe passera vendredi.", sender="marie@gatineau.example.ca")
        assert any("vendredi" in s.body for s in sms.sent)  # the drainer sent it
        [opened] = [c.opened_at for c in ConversationModel.query(GAT)]
        month = Month(opened.year, opened.month)
        settings = load_settings({**aws_env, "PHONE_KEY_ID": "k"})
        records = TableUsageRecords(
            boto3.client("dynamodb", region_name=REGION),
            subscribers_table=settings.subscribers_table,
            conversations_table=settings.conversations_table,
            messages_table=settings.messages_table,
        )

        usage = usage_for(GAT, str(month), records=records)

    # The city's name chose the city (a dialog turn, not a message of the conversation).
    assert (usage.conversations, usage.inbound_texts, usage.emails_sent) == (1, 2, 2)
    assert (usage.emails_received, usage.sms_sent, usage.sent_parts_gsm7, usage.sent_parts_ucs2) == (1, 1, 1, 0)


def received_now(make_event):
    """SES's sample event carries its own 2019 receipt time; an answer is recorded at its mail's
    receipt (or Date), so the event is given the time it is received, as SES would."""

    def event(**kwargs):
        made = make_event(**kwargs)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        made["Records"][0]["ses"]["mail"]["timestamp"] = made["Records"][0]["ses"]["receipt"]["timestamp"] = now
        return made

    return event
