"""functions/sms_drainer: the deployed handler, and the agent's side of what the drainer does."""

from __future__ import annotations

import importlib

import boto3
import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, REGION, LambdaContext, agent_answer, drain_outbound, sent_mails, setup_region, text_of
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import ConversationModel, MessageModel, ResidentModel
from text311.adapters.sms_sender import RecordingSmsSender

RESIDENT = "+18195550123"
PRODUCTION_DRAINER = services.sms_drainer  # kept before setup_region swaps in the simulated one
AGENT = "marie.tremblay@gatineau.example.ca"


@pytest.fixture
def region(aws_env, monkeypatch):
    """A resident in a conversation with Gatineau; the dialog's own answers already sent."""
    with mock_aws():
        sms = setup_region(aws_env, monkeypatch)
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=aws_env["RAW_MAIL_BUCKET"], CreateBucketConfiguration={"LocationConstraint": REGION})
        inbound = importlib.import_module("functions.inbound_sms.handler")
        answers = importlib.import_module("functions.inbound_email.handler")
        inbound.process_once.cache_clear()
        answers.process_once.cache_clear()
        for body in ("Pothole on Main St", "Gatineau"):
            inbound.lambda_handler(inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER)), LambdaContext())
        city_mail = sent_mails()[-1]
        sms.flush()
        yield answers, sms, city_mail


def mails_to_agent(containing: str) -> list[str]:
    return [text_of(m) for m in sent_mails() if AGENT in str(m["To"]) and containing in text_of(m)]


def test_the_handler_drains_the_queue_and_reports_what_it_did(region):
    answers, sms, city_mail = region
    agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT)

    report = drain_outbound()

    assert report == {"sent": 1, "failed": 0, "in_doubt": 0, "released": 0, "lease_held": True,
                      "handed_off": False}
    assert sms.to(RESIDENT)[-1] == "Une équipe passe demain."
    [record] = [m for m in MessageModel.query(city_mail_conversation(city_mail)) if m.direction == "out"]
    assert record.status == "sent"


def test_the_handler_returns_at_once_when_another_drainer_holds_the_lease(region, aws_env):
    from text311.outbound.lease import Lease

    answers, sms, city_mail = region
    agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT)
    table, identity = aws_env["IDEMPOTENCY_TABLE"], aws_env["SMS_ORIGINATION_IDENTITY"]
    assert Lease(services.clients().dynamodb, table, identity).acquire()

    report = drain_outbound()

    assert report == {"sent": 0, "failed": 0, "in_doubt": 0, "released": 0, "lease_held": False,
                      "handed_off": False}


def test_an_answer_to_an_opted_out_resident_flags_the_conversation_and_tells_the_agent_once(region, monkeypatch):
    answers, _, city_mail = region
    line = RecordingSmsSender(opted_out={RESIDENT})  # End User Messaging: the number replied STOP
    monkeypatch.setattr(services, "sms_line", lambda: line)

    [outcome] = agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT, message_id="ses-stop"),
    drain_outbound()
    answers.process_once.cache_clear()
    agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT, message_id="ses-stop")  # redelivered
    drain_outbound()

    assert outcome["reason"] == "queued"
    assert line.sent == []
    [conversation] = list(ConversationModel.query(5959974))
    assert conversation.resident_opted_out is True
    assert ResidentModel.get(conversation.phone_hash).opted_out is True  # the opt-out list, too
    assert len(mails_to_agent("désabonné des textos")) == 1  # Gatineau's mail is in French
    [record] = [m for m in MessageModel.query(conversation.conversation_id) if m.direction == "out"]
    assert record.status == "failed"


def test_an_answer_queued_behind_more_than_a_minute_tells_the_agent_about_how_long(region, aws_env):
    from text311.outbound.lease import StatusBoard

    answers, sms, city_mail = region
    table, identity = aws_env["IDEMPOTENCY_TABLE"], aws_env["SMS_ORIGINATION_IDENTITY"]
    board = StatusBoard(services.clients().dynamodb, table, identity)
    board.write({"rate": 1.0, "wait_by_priority": {"URGENT": 0.0, "ANSWER": 420.0, "NOTICE": 600.0}})

    outcome = agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT)

    assert outcome["reason"] == "queued" and outcome["wait_minutes"] == 8  # 420 s + its own part: 421 s
    [notice] = mails_to_agent("en file d'attente, environ 8 minutes")
    assert "Vous n'avez rien d'autre à faire" in notice
    assert sms.to(RESIDENT)[-1] == "Une équipe passe demain."  # and the drainer does send it


def city_mail_conversation(city_mail) -> str:
    [conversation] = list(ConversationModel.query(5959974))
    return conversation.conversation_id


def test_the_deployed_drainer_stays_for_its_life_and_hands_over_to_its_own_function(region, monkeypatch):
    import math

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "text311-ca-SmsDrainer")

    drainer = PRODUCTION_DRAINER.__wrapped__()

    assert drainer.max_idle == math.inf and drainer.long_poll is True
    assert drainer.successor.function_name == "text311-ca-SmsDrainer"
    assert drainer.successor.client.meta.service_model.service_name == "lambda"


def test_outside_lambda_the_drainer_has_no_successor(region, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    assert PRODUCTION_DRAINER.__wrapped__().successor is None


def test_lambdas_record_of_a_failed_life_lets_the_handler_take_that_lifes_lease_at_once(region, aws_env):
    from test_outbound_recovery import FAILURE_RECORD

    from text311.outbound.lease import Lease

    # given a life that died holding the lease (10 s left on it), as invocation "req-crashed"
    answers, sms, city_mail = region
    agent_answer(answers, city_mail, "Une équipe passe demain.", sender=AGENT)
    table, identity = aws_env["IDEMPOTENCY_TABLE"], aws_env["SMS_ORIGINATION_IDENTITY"]
    dead = Lease(services.clients().dynamodb, table, identity)
    dead.invocation = "req-crashed"
    assert dead.acquire()

    # when Lambda's on-failure destination invokes the drainer with that life's record
    record = {**FAILURE_RECORD, "requestContext": {**FAILURE_RECORD["requestContext"], "requestId": "req-crashed"}}
    handler = importlib.import_module("functions.sms_drainer.handler")
    report = handler.lambda_handler(record, LambdaContext("sms-drainer", remaining_ms=600_000))

    # then it took the lease (written with its own request id) and sent the answer
    assert report["lease_held"] is True and report["sent"] == 1
    assert sms.to(RESIDENT)[-1] == "Une équipe passe demain."
    item = services.clients().dynamodb.get_item(TableName=table, Key=dead.key, ConsistentRead=True)["Item"]
    assert item["invocation"]["S"] == "req-sms-drainer"
