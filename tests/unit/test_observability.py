"""What the functions tell CloudWatch: metrics in EMF on stdout, and one correlation id per conversation in the logs."""

from __future__ import annotations

import importlib
import io
import json
import logging

import pytest
from aws_events import inbound_sms_event, sms_delivery_event, two_way_sms
from harness import OUR_NUMBER, LambdaContext, agent_answer, sent_mails, setup_region
from moto import mock_aws

RESIDENT = "+18195550123"
AGENT = "marie.tremblay@gatineau.example.ca"


def emitted(out: str) -> tuple[list[dict], list[dict]]:
    """(EMF metric documents, log records) printed by Powertools."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in lines if "_aws" in d], [d for d in lines if "_aws" not in d]


def metric_points(documents: list[dict], name: str) -> list[dict]:
    """Each data point of ``name`` with its dimensions, e.g. {"value": 1.0, "reason": "not_allowed"}."""
    points = []
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == name for m in directive["Metrics"]):
                dimensions = {d: doc[d] for group in directive["Dimensions"] for d in group}
                values = doc[name] if isinstance(doc[name], list) else [doc[name]]
                points += [{"value": v, **dimensions} for v in values]
    return points


@pytest.fixture
def log_records():
    """The service logger's JSON lines, formatted as Lambda writes them (Powertools' own formatter)."""
    from text311.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)  # Powertools keeps the stdlib logger here
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger._logger.removeHandler(handler)


@pytest.fixture
def region(aws_env, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "text311")
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        handlers = {name: importlib.import_module(f"functions.{name}.handler")
                    for name in ("inbound_sms", "inbound_email", "delivery_status")}
        for name in ("inbound_sms", "inbound_email"):
            handlers[name].process_once.cache_clear()
        for body in ("Gatineau", "Le lampadaire du 12 rue Laurier est éteint"):
            handlers["inbound_sms"].lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)),
                                                   LambdaContext("inbound-sms"))
        [city_mail] = sent_mails()
        capsys.readouterr()
        yield handlers, sms, city_mail


def test_the_first_answer_records_first_response_time_for_its_city_and_later_ones_do_not(region, capsys):
    handlers, sms, city_mail = region

    agent_answer(handlers["inbound_email"], city_mail, "Une équipe passe demain.", sender=AGENT)
    sms.flush()  # the drainer sends it and emits the answer's metrics
    first, _ = emitted(capsys.readouterr().out)
    agent_answer(handlers["inbound_email"], city_mail, "C'est réparé.", sender=AGENT)
    sms.flush()
    second, _ = emitted(capsys.readouterr().out)

    [point] = metric_points(first, "FirstResponseTime")
    assert point["city"] == "5959974" and 0 <= point["value"] < 60
    assert metric_points(second, "FirstResponseTime") == []
    assert [p["value"] for p in metric_points(first + second, "SmsSegmentsSent")] == [1.0, 1.0]


def test_a_rejected_answer_is_counted_by_reason_and_in_the_alarmed_total(region, capsys):
    handlers, sms, city_mail = region
    texts_before = len(sms.sent)

    outcome = agent_answer(handlers["inbound_email"], city_mail, "Hello", sender="someone@elsewhere.example.com")

    documents, _ = emitted(capsys.readouterr().out)
    assert outcome["sent"] is False and len(sms.sent) == texts_before
    [by_reason] = metric_points(documents, "AnswerRejected")
    [total] = metric_points(documents, "AnswersRejected")
    assert by_reason["reason"] == outcome["reason"]
    assert total == {"value": 1.0, "service": "text311"}


def test_one_correlation_id_follows_a_conversation_from_text_to_answer_to_delivery(region, log_records):
    handlers, sms, city_mail = region
    handlers["inbound_sms"].lambda_handler(
        inbound_sms_event(two_way_sms("Et le trottoir aussi", RESIDENT, OUR_NUMBER)), LambdaContext("inbound-sms"))
    agent_answer(handlers["inbound_email"], city_mail, "Une équipe passe demain.", sender=AGENT)
    sent = sms.sent[-1]
    event = sms_delivery_event("sms-1", "DELIVERED", final=True, context=sent.context)

    handlers["delivery_status"].lambda_handler(event, LambdaContext("delivery-status"))

    logs = log_records()
    conversation_id = sent.context["conversation"]
    about = [r for r in logs if r.get("conversation_id") or r.get("correlation_id")]
    # The drainer sends the answer, marks it sent and logs it under the same conversation.
    assert {r["function_name"] for r in about} == {"inbound-sms", "inbound-email", "sms-drainer", "delivery-status"}
    assert all(r.get("correlation_id") == conversation_id for r in about), about
    assert RESIDENT not in json.dumps(logs)
