"""Residents' data expires after the configured retention: every item carries its TTL from RETENTION_DAYS."""

from __future__ import annotations

import importlib
import time

import boto3
import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, REGION, LambdaContext, setup_region
from moto import mock_aws

from text311.adapters.dynamodb import TABLES, ttl_attribute

DAY = 24 * 3600


@pytest.mark.parametrize("days", [30, 400])
def test_every_resident_item_expires_after_the_configured_days(aws_env, monkeypatch, days):
    with mock_aws():
        setup_region({**aws_env, "RETENTION_DAYS": str(days)}, monkeypatch)
        handler = importlib.import_module("functions.inbound_sms.handler")
        handler.process_once.cache_clear()
        for body in ("Gatineau", "the streetlight on rue Laurier is out"):
            handler.lambda_handler(inbound_sms_event(two_way_sms(body, "+18195550123", OUR_NUMBER)),
                                   LambdaContext("inbound-sms"))
        now = time.time()
        client = boto3.client("dynamodb", region_name=REGION)

        for name in ("residents_table", "conversations_table", "messages_table"):
            model = TABLES[name]
            attribute = ttl_attribute(model)
            items = client.scan(TableName=model.Meta.table_name)["Items"]
            assert items, name
            for item in items:
                expires = int(item[attribute]["N"])
                assert abs(expires - (now + days * DAY)) < 120, (name, expires - now)
