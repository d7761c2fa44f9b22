"""`text311 usage --month YYYY-MM [--city ID] [--csv]`: every subscriber's month, as a table or as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from harness import GATINEAU, KINGSTON
from moto import mock_aws
from test_usage import conversation, message, utc
from typer.testing import CliRunner

from text311.adapters.dynamodb import bind_tables, create_tables
from text311.cli import app
from text311.settings import load_settings
from text311.subscribers import SubscriberRepository

runner = CliRunner()
GAT, KIN = GATINEAU.geonameid, KINGSTON.geonameid


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        for name, value in aws_env.items():
            monkeypatch.setenv(name, value)
        bind_tables(load_settings(aws_env))
        create_tables()
        for subscriber in (GATINEAU, KINGSTON):
            SubscriberRepository().add(subscriber)
        c = conversation(GAT, "dec", utc(2026, 12, 3))
        message(c, utc(2026, 12, 3), "in-1", "in", "sms", "Pothole on rue Principale", "emailed")
        message(c, utc(2026, 12, 4), "ans-1", "out", "email", "Fenêtre réparée.", "delivered")  # ê: UCS-2
        message(c, utc(2027, 1, 2), "in-2", "in", "sms", "January text", "emailed")
        k = conversation(KIN, "dec", utc(2026, 12, 9))
        message(k, utc(2026, 12, 9), "k-1", "in", "sms", "Kingston text", "emailed")
        yield


def test_csv_has_one_row_a_city_with_every_figure_and_each_cost_line(region):
    result = runner.invoke(app, ["usage", "--month", "2026-12", "--csv"])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["city_id"] for r in rows] == [str(GAT), str(KIN)]  # every subscriber, by geonameid
    gatineau = rows[0]
    assert {
        k: gatineau[k]
        for k in (
            "month",
            "country",
            "conversations",
            "inbound_texts",
            "inbound_parts_gsm7",
            "sent_parts_gsm7",
            "sent_parts_ucs2",
            "emails_sent",
            "emails_received",
            "email_chunks_received",
            "translated_characters",
        )
    } == {
        "month": "2026-12",
        "country": "CA",
        "conversations": "1",
        "inbound_texts": "1",
        "inbound_parts_gsm7": "1",
        "sent_parts_gsm7": "0",
        "sent_parts_ucs2": "1",
        "emails_sent": "1",
        "emails_received": "1",
        "email_chunks_received": "1",
        "translated_characters": "0",
    }
    # cost columns: four decimal places, "unknown" where the price is, and the prices' date
    assert gatineau["cost_ses_email_out"] == "0.0001"
    assert gatineau["cost_sms_outbound_part_CA"] == "unknown"
    assert gatineau["cost_translate_character"] == "0.0000"  # nothing translated costs nothing
    assert gatineau["cost_known_total"] == "0.0003"  # 0.0001 out + 0.0001 in + 0.00009 chunk
    assert gatineau["unknown_cost_lines"] == "3"  # SMS sent, its carrier fees, SMS received
    assert (gatineau["prices_read_on"], gatineau["currency"]) == ("2026-12-02", "USD")


def test_one_city_as_a_table_lists_its_cost_lines_and_what_is_unknown(region):
    result = runner.invoke(app, ["usage", "--month", "2026-12", "--city", str(KIN)])

    assert result.exit_code == 0, result.output
    assert "2026-12 (UTC calendar month)" in result.output and "read on 2026-12-02" in result.output
    assert str(KIN) in result.output and str(GAT) not in result.output
    assert "costs of city 5992500:" in result.output
    assert "sms_inbound_part_CA: unknown" in result.output  # the one text it received
    assert "not charged per city" in result.output


def test_the_same_month_twice_prints_the_same_csv(region):
    first = runner.invoke(app, ["usage", "--month", "2026-12", "--csv"]).output
    second = runner.invoke(app, ["usage", "--month", "2026-12", "--csv"]).output

    assert first == second


def test_a_bad_month_exits_1_before_reading_anything(region):
    result = runner.invoke(app, ["usage", "--month", "December"])

    assert result.exit_code == 1
    assert "YYYY-MM" in result.output
