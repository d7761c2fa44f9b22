"""The receipt rule set custom resource (functions/receipt_rule_set) against SES v1, stubbed with Stubber."""

from __future__ import annotations

import importlib

import boto3
import pytest
from botocore.stub import Stubber

activation = importlib.import_module("functions.receipt_rule_set.handler")

OURS, THEIRS = "text311", "helpdesk-inbound"


@pytest.fixture
def ses():
    client = boto3.client("ses", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _active(stubber: Stubber, name: str | None) -> None:
    response = {"Metadata": {"Name": name, "CreatedTimestamp": "2026-01-01T00:00:00Z"}, "Rules": []} if name else {}
    stubber.add_response("describe_active_receipt_rule_set", response, {})


def _event(request: str, mode: str = "activate", replace: str = "false", physical: str | None = None) -> dict:
    event = {
        "RequestType": request,
        "ResourceProperties": {"RuleSetName": OURS, "Mode": mode, "ReplaceActive": replace},
    }
    if physical:
        event["PhysicalResourceId"] = physical
    return event


def test_create_activates_our_rule_set_when_none_is_active(ses) -> None:
    client, stubber = ses
    _active(stubber, None)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": OURS})
    outcome = activation.handle(_event("Create"), client)
    assert outcome.physical_id == "text311-active"
    assert outcome.data == {"PreviouslyActive": ""}


def test_create_changes_nothing_when_our_rule_set_is_already_active(ses) -> None:
    client, stubber = ses
    _active(stubber, OURS)  # no set_active call is stubbed: making one would fail the test
    assert activation.handle(_event("Update"), client).data == {"PreviouslyActive": OURS}


def test_create_refuses_to_replace_another_active_rule_set_by_default(ses) -> None:
    client, stubber = ses
    _active(stubber, THEIRS)
    with pytest.raises(activation.ActivationRefused) as refused:
        activation.handle(_event("Create"), client)
    message = str(refused.value)
    assert THEIRS in message and "mode: existing" in message and "replace_active: true" in message


def test_create_replaces_another_active_rule_set_only_when_config_says_so(ses) -> None:
    client, stubber = ses
    _active(stubber, THEIRS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": OURS})
    outcome = activation.handle(_event("Create", replace="true"), client)
    assert outcome.data == {"PreviouslyActive": THEIRS}


def test_delete_deactivates_our_rule_set_when_it_is_active(ses) -> None:
    client, stubber = ses
    _active(stubber, OURS)
    stubber.add_response("set_active_receipt_rule_set", {}, {})  # no name: deactivate
    outcome = activation.handle(_event("Delete", physical="text311-active"), client)
    assert outcome.physical_id == "text311-active"


def test_delete_leaves_another_active_rule_set_alone(ses) -> None:
    client, stubber = ses
    _active(stubber, THEIRS)
    activation.handle(_event("Delete", physical="text311-active"), client)


def test_verify_mode_accepts_the_named_active_rule_set_and_never_activates(ses) -> None:
    client, stubber = ses
    _active(stubber, OURS)
    assert activation.handle(_event("Create", mode="verify"), client).physical_id == "text311-verified"


def test_verify_mode_fails_when_the_named_rule_set_is_not_active(ses) -> None:
    client, stubber = ses
    _active(stubber, THEIRS)
    with pytest.raises(activation.ActivationRefused, match="not the active one"):
        activation.handle(_event("Create", mode="verify"), client)


def test_verify_mode_never_deactivates_on_delete(ses) -> None:
    client, _ = ses  # no call stubbed at all
    activation.handle(_event("Delete", mode="verify", physical="text311-verified"), client)


def test_lambda_handler_reports_a_refusal_to_cloudformation_as_failed(monkeypatch) -> None:
    # given another active rule set and a handler whose CloudFormation response is captured
    client = boto3.client("ses", region_name="us-east-1")
    stubber = Stubber(client)
    _active(stubber, THEIRS)
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *_args, **_kw: client)
    sent: list[tuple] = []
    monkeypatch.setattr(activation, "_respond", lambda event, status, reason, outcome: sent.append((status, reason)))
    # when CloudFormation creates the resource
    event = {**_event("Create"), "LogicalResourceId": "Activation", "StackId": "s", "RequestId": "r",
             "ResponseURL": "https://example.invalid/"}
    activation.lambda_handler(event, None)
    # then the stack is told FAILED with the reason, instead of waiting for a timeout
    (status, reason), = sent
    assert status == "FAILED" and THEIRS in reason
