"""`text311 municipality show` and `text311 doctor` report a city whose inbox is on the account's
suppression list or bounces (issue 18; text311/cli/inboxes.py). moto has DynamoDB and CloudWatch but
no SES suppression list: SES's answer to GetSuppressedDestination is given on the botocore client,
as the SES v2 API reference documents it (the destination, or NotFoundException)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import unquote

import boto3
import pytest
from harness import bound_subscribers_table
from typer.testing import CliRunner

from text311.cli import app
from text311.cli.inboxes import inbox_check
from text311.subscribers import Subscriber, SubscriberRepository

REGION = "ca-central-1"
TABLE = "text311-subscribers-test"
GATINEAU = Subscriber(geonameid=5959974, display_name="Gatineau", country="CA", region_code="QC",
                      contact_emails=("311@gatineau.example.ca",), agent_allow_list=("@gatineau.example.ca",),
                      time_zone="America/Toronto")
KINGSTON = Subscriber(geonameid=5992500, display_name="Kingston", country="CA", region_code="ON",
                      contact_emails=("contactus@kingston.example.ca",), agent_allow_list=("@kingston.example.ca",),
                      time_zone="America/Toronto")


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code, self.headers, self.content = status_code, {}, b""


def ses_suppression_list(suppressed: dict[str, str]):
    """A before-call handler answering GetSuppressedDestination from ``suppressed`` (address → reason)."""

    def answer(params, **_):
        address = unquote(params["url_path"].rsplit("/", 1)[-1])  # GET /v2/email/suppression/addresses/{address}
        if address not in suppressed:
            return _Http(404), {"Error": {"Code": "NotFoundException", "Message": f"{address} not found"}}
        return _Http(200), {"SuppressedDestination": {"EmailAddress": address, "Reason": suppressed[address],
                                                      "LastUpdateTime": datetime(2025, 11, 2, tzinfo=UTC)}}

    return answer


@pytest.fixture
def region(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with bound_subscribers_table(TABLE, REGION) as repository:
        for sub in (GATINEAU, KINGSTON):
            repository.add(sub)
        boto3.setup_default_session()
        yield boto3.DEFAULT_SESSION


def bounced(geonameid: int, count: int) -> None:
    """What the mail_events function's EMF becomes in CloudWatch (text311.mail_feedback)."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="Text311", MetricData=[{
        "MetricName": "CityMailBounced", "Value": count, "Unit": "Count",
        "Dimensions": [{"Name": "municipality", "Value": str(geonameid)}, {"Name": "service", "Value": "text311"}],
    }])


def show(geonameid: int):
    return CliRunner().invoke(app, ["municipality", "show", str(geonameid), "--table", TABLE, "--region", REGION])


def test_show_reports_an_inbox_on_the_suppression_list_and_its_recent_bounces(region):
    region.events.register("before-call.sesv2.GetSuppressedDestination",
                           ses_suppression_list({"311@gatineau.example.ca": "BOUNCE"}))
    bounced(GATINEAU.geonameid, 3)

    result = show(GATINEAU.geonameid)

    assert result.exit_code == 0, result.output
    inbox = json.loads(result.stdout)["inbox"]
    assert inbox["suppressed"] == {"311@gatineau.example.ca": "BOUNCE"}
    assert inbox["last_7_days"] == {"bounced": 3, "complained": 0}
    assert inbox["not_checked"] == []
    assert "311@gatineau.example.ca is on the account's suppression list (BOUNCE)" in result.stderr


def test_show_reports_a_healthy_inbox_as_such(region):
    region.events.register("before-call.sesv2.GetSuppressedDestination", ses_suppression_list({}))
    bounced(GATINEAU.geonameid, 2)  # another city's bounces are not Kingston's

    inbox = json.loads(show(KINGSTON.geonameid).stdout)["inbox"]

    assert inbox["problems"] == [] and inbox["suppressed"] == {} and inbox["not_checked"] == []


def test_show_says_the_suppression_list_was_not_checked_where_the_endpoint_has_none(region):
    # moto (the local run's AWS) has no suppression list: reported as not checked, never as healthy
    inbox = json.loads(show(KINGSTON.geonameid).stdout)["inbox"]

    assert len(inbox["not_checked"]) == 1 and inbox["not_checked"][0].startswith("suppression list:")


def doctor_check(session):
    check = inbox_check(lambda ctx: SubscriberRepository().all(),
                        lambda ctx: session.client("cloudwatch", region_name=REGION))
    return lambda: check(SimpleNamespace(plan=SimpleNamespace(region=REGION),
                                         sesv2=session.client("sesv2", region_name=REGION)))


def test_doctor_names_the_city_whose_inbox_is_suppressed_or_bounces(region):
    region.events.register("before-call.sesv2.GetSuppressedDestination",
                           ses_suppression_list({"contactus@kingston.example.ca": "COMPLAINT"}))
    bounced(GATINEAU.geonameid, 1)

    finding = doctor_check(region)()

    assert finding.status == "missing"
    assert "Gatineau (5959974): 1 text(s) bounced in the last 7 days" in finding.detail
    assert "Kingston (5992500): contactus@kingston.example.ca is on the account's suppression list (COMPLAINT)" \
        in finding.detail


def test_doctor_is_ok_when_every_inbox_takes_mail_and_unknown_when_it_cannot_tell(region):
    assert doctor_check(region)().status == "unknown"  # moto: no suppression list to read

    region.events.register("before-call.sesv2.GetSuppressedDestination", ses_suppression_list({}))
    assert doctor_check(region)().status == "ok"
