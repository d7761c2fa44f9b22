"""`forget_resident` leaves nothing of one number in any table, and nothing of anyone else is touched."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, REGION, LambdaContext, setup_region
from moto import mock_aws

from text311 import services
from text311.adapters.dynamodb import TABLES
from text311.erasure import forget_resident

CONTEXT = LambdaContext("inbound-sms")

FORGET = "+18195550123"
KEEP = "+18195550999"


def dump_tables() -> str:
    client = boto3.client("dynamodb", region_name=REGION)
    return json.dumps(
        {
            m.Meta.table_name: client.scan(TableName=m.Meta.table_name)["Items"]
            for name, m in TABLES.items()
            if name != "idempotency_table"
        }
    )


@pytest.fixture
def region(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        for number in (FORGET, KEEP):
            for body in ("Gatineau", f"pothole reported by {number[-4:]}", "still there"):
                handler.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)
        yield


def test_nothing_of_the_forgotten_number_is_left_and_the_other_resident_is_intact(region):
    vault = services.phone_vault()
    forgotten, kept = vault.hash(FORGET), vault.hash(KEEP)
    before = dump_tables()
    assert forgotten in before and "pothole reported by 0123" in before

    report = forget_resident(forgotten)

    after = dump_tables()
    assert report.resident and report.conversations == 1 and report.messages == 2
    assert forgotten not in after
    assert "pothole reported by 0123" not in after
    assert kept in after and "pothole reported by 0999" in after


def test_forgetting_twice_is_harmless(region):
    forgotten = services.phone_vault().hash(FORGET)
    forget_resident(forgotten)
    again = forget_resident(forgotten)
    assert again.resident is False and again.conversations == 0 and again.messages == 0


def test_answer_anchors_and_previews_are_erased_and_previews_are_not_counted_as_messages(region):
    from datetime import UTC, datetime

    from text311.adapters.dynamodb import ConversationModel, MessageModel
    from text311.conversations import ConversationStore

    forgotten = services.phone_vault().hash(FORGET)
    [conversation] = ConversationModel.by_resident.query(forgotten)
    thread = conversation.conversation_id
    now = datetime.now(UTC)
    ConversationStore(retention_days=365, idle_days=30).answer_time(thread, "mail-0123abcd", now)
    MessageModel(
        conversation_id=thread,
        message_key="preview#fr#0123",
        direction="preview",
        channel="console",
        body="",
        created_at=now,
    ).save()
    assert thread in dump_tables()

    report = forget_resident(forgotten)

    assert report.messages == 2
    assert thread not in dump_tables()
