"""A console answer's idempotency record is "in progress" only until its invocation's deadline. Lambda kills a
timed-out invocation without running its clean-up, so the record stays; without a deadline of its own it would
refuse the browser's retry of that click as "in progress" for the record's whole 24 hours."""

from __future__ import annotations

import time

import boto3
from aws_events import http_api_request
from harness import REGION, LambdaContext
from test_console_api import GATINEAU_AGENT, ids, region  # noqa: F401

from text311 import services
from text311.console import ConsoleService

REMAINING_MS = 20_000


def test_a_click_is_in_progress_only_until_its_invocations_deadline(region, monkeypatch):  # noqa: F811
    console_api, _ = region
    [conversation_id] = ids(console_api, GATINEAU_AGENT)
    table = boto3.resource("dynamodb", region_name=REGION).Table(services.settings().idempotency_table)
    seen: list[dict] = []
    answer = ConsoleService.answer

    def answering(self, *args, **kwargs):
        # While the answer runs, Powertools' record of the click is in progress.
        seen.extend(item for item in table.scan()["Items"] if item.get("status") == "INPROGRESS")
        return answer(self, *args, **kwargs)

    monkeypatch.setattr(ConsoleService, "answer", answering)
    event = http_api_request(
        "POST", f"/conversations/{conversation_id}/answer", claims=GATINEAU_AGENT,
        body={"text": "A crew comes tomorrow."}, headers={"idempotency-key": "click-deadline"},
    )
    before_ms = time.time() * 1000
    response = console_api.lambda_handler(event, LambdaContext("console-api", REMAINING_MS))
    assert response["statusCode"] == 200, response
    [record] = seen
    assert "in_progress_expiration" in record, record
    deadline = int(record["in_progress_expiration"])
    # Set from the remaining time when the click was recorded (after ``before_ms``), whatever the machine's load.
    assert before_ms + REMAINING_MS - 1_000 <= deadline <= time.time() * 1000 + REMAINING_MS
