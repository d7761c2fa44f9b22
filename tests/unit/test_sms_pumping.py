"""SMS pumping through +1 numbers (issue 17): the inbound_sms Lambda in moto answers a text only from a
mobile number of a served country; Jamaica, the Dominican Republic, +1 900 and the other special
codes share +1 with Canada and the US and get nothing, not even a question."""

from __future__ import annotations

import importlib
import json

import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311.adapters.dynamodb import ResidentModel
from text311.observability import metrics

CONTEXT = LambdaContext("inbound-sms")


@pytest.fixture
def region(aws_env, monkeypatch):
    metrics.clear_metrics()  # what earlier tests added without a handler to flush it is not ours to count
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)  # serves CA and US (the settings' default)
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, sms


def text(handler, body: str, number: str) -> dict:
    return handler.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)


def refusals(out: str) -> tuple[list[tuple[str, str]], float]:
    """(direction, reason) of each NumberRefused point, and the NumbersRefused total."""
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    total = sum(sum(d["NumbersRefused"]) for d in documents if "NumbersRefused" in d)
    return [(d["direction"], d["reason"]) for d in documents if "NumberRefused" in d], total


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+18765551234", "country_not_served"),  # Jamaica (mobile): once taken for the US and answered
        ("+18095551234", "country_not_served"),  # the Dominican Republic
        ("+19005551234", "premium_rate"),  # US premium rate
        ("+18005550123", "toll_free"),  # US toll free
    ],
)
def test_a_text_from_a_plus_one_number_abroad_or_premium_gets_no_answer_and_no_mail(region, capsys, number, reason):
    handler, sms = region

    for body in ("Bonjour", "Gatineau", "STOP"):
        assert text(handler, body, number) == {"batchItemFailures": []}

    assert sms.to(number) == [] and sent_mails() == []
    assert list(ResidentModel.scan()) == []  # not even a resident record
    assert refusals(capsys.readouterr().out) == ([("inbound", reason)] * 3, 3)


def test_a_text_from_a_us_mobile_is_still_answered(region):
    handler, sms = region
    number = "+12125550123"  # New York: FIXED_LINE_OR_MOBILE, as every US and Canadian geographic number

    text(handler, "Bonjour", number)

    assert len(sms.to(number)) == 1
