"""AWS calls per request in a warm container (issue 9): a regression that adds a call fails here.

Counted with the same botocore ``before-call`` hook as bench/throughput.py (pynamodb included).
"""

from __future__ import annotations

import importlib

import pytest
from aws_calls import counting
from aws_events import inbound_sms_event, two_way_sms
from harness import GATINEAU, OUR_NUMBER, LambdaContext, sent_mails, setup_region
from moto import mock_aws

from text311.services import CachedSubscribers

RESIDENT = "+18195550123"
BUDGET_EXISTING_CONVERSATION = 6  # idempotency put + update, resident and flood count, thread, mail, one write


@pytest.fixture
def counted_region(aws_env, monkeypatch):
    with mock_aws(), counting() as counter:
        setup_region(aws_env, monkeypatch)  # builds every client inside the counter
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        yield handler, counter


def text(handler, body: str) -> None:
    event = inbound_sms_event(two_way_sms(body, RESIDENT, OUR_NUMBER))
    assert handler.lambda_handler(event, LambdaContext("inbound-sms")) == {"batchItemFailures": []}


def test_a_text_in_an_existing_conversation_is_mailed_within_the_call_budget(counted_region):
    handler, counter = counted_region
    for body in ("Pothole on Main St", "Gatineau", "It is still there"):
        text(handler, body)
    mails = len(sent_mails())

    counter.reset()
    text(handler, "And now there are two")

    assert len(sent_mails()) == mails + 1
    assert "And now there are two" in sent_mails()[-1].get_body(("plain",)).get_content()
    assert counter.total() <= BUDGET_EXISTING_CONVERSATION, dict(counter.calls)


def test_a_warm_container_reads_no_secret_and_uses_no_kms_key_for_a_known_resident(counted_region):
    handler, counter = counted_region
    text(handler, "Gatineau")
    counter.reset()
    text(handler, "still there")
    services = {operation.split(".")[0] for operation in counter.calls}
    assert services == {"dynamodb", "sesv2"}, dict(counter.calls)


def test_the_subscriber_cache_keeps_a_record_for_its_ttl_only():
    reads = []

    class Repository:
        def get(self, geonameid):
            reads.append(geonameid)
            return GATINEAU

    now = [100.0]
    cached = CachedSubscribers(Repository(), ttl=60, clock=lambda: now[0])
    cached.get(GATINEAU.geonameid)
    now[0] += 59
    cached.get(GATINEAU.geonameid)
    now[0] += 1
    cached.get(GATINEAU.geonameid)
    assert reads == [GATINEAU.geonameid, GATINEAU.geonameid]
