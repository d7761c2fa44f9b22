"""The receipt rule set custom resource (functions/receipt_rule_set) against SES v1, stubbed with Stubber."""

from __future__ import annotations

import importlib

import boto3
import pytest
from botocore.stub import Stubber

activation = importlib.import_module("functions.receipt_rule_set.handler")

OURS, THEIRS = "text311", "helpdesk-inbound"
RENAMED = "text311-ca-central-1"


class FakeContext:
    """Lambda's context, reduced to the time left."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


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
    activation.lambda_handler(event, FakeContext(60_000))
    # then the stack is told FAILED with the reason, instead of waiting for a timeout
    (status, reason), = sent
    assert status == "FAILED" and THEIRS in reason


# --- renames, restoring the replaced set (issue 18, item 7) -----------------------------------------------


def _update(new: str, old: str, physical: str, old_mode: str = "activate") -> dict:
    event = _event("Update", physical=physical)
    event["ResourceProperties"]["RuleSetName"] = new
    event["OldResourceProperties"] = {"RuleSetName": old, "Mode": old_mode, "ReplaceActive": "false"}
    return event


def test_update_that_renames_our_set_activates_the_new_name_over_the_old_one(ses) -> None:
    # given our set active under its old name
    client, stubber = ses
    _active(stubber, OURS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": RENAMED})
    # when an Update renames it (OldResourceProperties names the old set)
    outcome = activation.handle(_update(RENAMED, OURS, physical="text311-active"), client)
    # then the old name counts as ours: the new set is activated, under a new physical id
    assert outcome.physical_id == f"{RENAMED}-active"


def test_update_from_another_applications_set_still_refuses_to_replace_it(ses) -> None:
    # given the old properties named another application's set (mode existing, verified only)
    client, stubber = ses
    _active(stubber, THEIRS)
    with pytest.raises(activation.ActivationRefused):
        activation.handle(_update(RENAMED, THEIRS, physical=f"{THEIRS}-verified", old_mode="verify"), client)


def test_a_rename_keeps_the_record_of_the_set_first_replaced(ses) -> None:
    client, stubber = ses
    _active(stubber, OURS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": RENAMED})
    outcome = activation.handle(_update(RENAMED, OURS, physical=f"text311-active/{THEIRS}"), client)
    assert activation.replaced_set(outcome.physical_id) == THEIRS


def test_an_update_that_keeps_the_name_keeps_the_physical_id_even_when_it_replaces_a_set(ses) -> None:
    # given another set activated since Create, and config now allowing its replacement
    client, stubber = ses
    _active(stubber, THEIRS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": OURS})
    event = _update(OURS, OURS, physical="text311-active")
    event["ResourceProperties"]["ReplaceActive"] = "true"
    # when the Update runs, then the id is unchanged: CloudFormation sends no Delete that would
    # deactivate the set just activated
    assert activation.handle(event, client).physical_id == "text311-active"


def test_an_update_from_activate_to_verify_on_the_same_set_keeps_the_physical_id(ses) -> None:
    # given our set active, created in activate mode, and the config now in existing (verify) mode
    client, stubber = ses
    _active(stubber, OURS)
    event = _update(OURS, OURS, physical="text311-active")
    event["ResourceProperties"]["Mode"] = "verify"
    # when the Update runs, then the id is unchanged: a new one would bring a Delete with the old
    # (activate) properties, which would switch our active set off
    assert activation.handle(event, client).physical_id == "text311-active"


def test_replacing_another_set_records_it_in_the_physical_id(ses) -> None:
    client, stubber = ses
    _active(stubber, THEIRS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": OURS})
    outcome = activation.handle(_event("Create", replace="true"), client)
    assert activation.replaced_set(outcome.physical_id) == THEIRS


def test_delete_gives_back_the_set_it_replaced(ses) -> None:
    # given our set active, having replaced another application's at Create
    client, stubber = ses
    _active(stubber, OURS)
    stubber.add_response("set_active_receipt_rule_set", {}, {"RuleSetName": THEIRS})
    # when the stack is deleted, then that set is active again (not "none")
    activation.handle(_event("Delete", physical=f"text311-active/{THEIRS}"), client)


def test_delete_deactivates_when_the_replaced_set_no_longer_exists(ses) -> None:
    client, stubber = ses
    _active(stubber, OURS)
    stubber.add_client_error(
        "set_active_receipt_rule_set", "RuleSetDoesNotExist", expected_params={"RuleSetName": THEIRS}
    )
    stubber.add_response("set_active_receipt_rule_set", {}, {})
    activation.handle(_event("Delete", physical=f"text311-active/{THEIRS}"), client)


def test_delete_after_a_rename_leaves_the_new_set_active(ses) -> None:
    # CloudFormation deletes the old physical id with the OLD properties once the rename succeeded
    client, stubber = ses
    _active(stubber, RENAMED)  # no set_active call stubbed: making one would fail the test
    activation.handle(_event("Delete", physical=f"text311-active/{THEIRS}"), client)


# --- answering CloudFormation in time ---------------------------------------------------------------------


def _cfn_event(request: str = "Create") -> dict:
    return {**_event(request), "LogicalResourceId": "Activation", "StackId": "s", "RequestId": "r",
            "ResponseURL": "https://example.invalid/"}


def test_no_ses_call_starts_when_the_answer_would_not_fit_in_the_time_left(monkeypatch) -> None:
    # given a function with less time left than one SES call and the answer need
    client = boto3.client("ses", region_name="us-east-1")
    stubber = Stubber(client)  # nothing stubbed: any call would fail with another reason
    stubber.activate()
    monkeypatch.setattr(activation, "_ses_client", lambda: client)
    sent: list[tuple] = []
    monkeypatch.setattr(activation, "_respond", lambda event, status, reason, outcome: sent.append((status, reason)))
    # when CloudFormation's request arrives
    activation.lambda_handler(_cfn_event(), FakeContext(activation.RESPONSE_MARGIN_MS - 1))
    # then CloudFormation is told FAILED because of the time, and SES was never called
    (status, reason), = sent
    assert status == "FAILED" and "OutOfTime" in reason and "describe_active_receipt_rule_set" in reason


def test_a_client_that_cannot_be_built_is_still_answered(monkeypatch) -> None:
    def broken() -> None:
        raise RuntimeError("no region")

    monkeypatch.setattr(activation, "_ses_client", broken)
    sent: list[str] = []
    monkeypatch.setattr(activation, "_respond", lambda event, status, reason, outcome: sent.append(status))
    activation.lambda_handler(_cfn_event("Delete"), FakeContext(60_000))
    assert sent == ["FAILED"]


def test_the_ses_client_has_bounded_timeouts_and_retries(monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config = activation._ses_client().meta.config
    attempts = config.retries["total_max_attempts"]
    # botocore's defaults are 60 s each with up to 3 attempts (legacy: 5): far beyond the margin kept
    assert attempts * (config.connect_timeout + config.read_timeout) < activation.SES_CALL_MAX_S


def test_the_answer_is_tried_a_bounded_number_of_times_then_given_up(monkeypatch) -> None:
    import urllib.error

    timeouts: list[float] = []

    def unreachable(request, timeout):
        timeouts.append(timeout)
        raise urllib.error.URLError("timed out")

    monkeypatch.setattr(activation.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(activation.time, "sleep", lambda _s: None)
    activation._respond(_cfn_event(), "SUCCESS", "ok", activation.Outcome("text311-active", {}))
    assert timeouts == [activation.RESPONSE_TIMEOUT_S] * activation.RESPONSE_ATTEMPTS
    assert activation.RESPONSE_ATTEMPTS * activation.RESPONSE_TIMEOUT_S < activation.RESPONSE_MAX_S
