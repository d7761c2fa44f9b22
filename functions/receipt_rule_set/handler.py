"""CloudFormation custom resource: make our SES receipt rule set the active one, safely.

SES has ONE active receipt rule set per account and region, and CloudFormation cannot activate one.
A careless activation would silently switch off another application's inbound mail, so:

- ``Mode: activate``: on create/update, activate ``RuleSetName`` when nothing or our set is active
  (on an Update that renames the set, the old name from ``OldResourceProperties`` is ours too).
  If ANOTHER set is active, fail (the deployment rolls back) unless ``ReplaceActive`` is "true"; the
  set replaced is then recorded in the physical id, ``<set>-active/<replaced>``, because a Delete
  carries the physical id but not the data returned at Create. On delete, only if our set is still
  the active one: activate the set it replaced again when that set still exists, else deactivate.
- ``Mode: verify`` (config ``receipt_rule_set.mode: existing``): our rule was added to another
  application's set; check that this set is the active one, never change what is active.

The physical id changes only when the set's name does (not when only the mode does): CloudFormation then sends a
Delete for the old id with the OLD properties, which finds the old set inactive and does nothing. (So
a set replaced by an Update that keeps the name is not recorded; it is recorded at Create or rename.)

The logic is plain functions over an injected SES (v1) client. ``lambda_handler`` answers
CloudFormation on every path, in time: each SES call has bounded timeouts and retries, no call starts
when less than ``RESPONSE_MARGIN_MS`` of the function's time is left, and the answer (PUT to the
pre-signed ``ResponseURL``) has its own bounded timeout. The stack sets a ``ServiceTimeout`` too, so
CloudFormation stops waiting even if the function dies without answering.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# One SES call lasts at most 2 attempts of (3 s to connect + 5 s to read), plus the standard retry
# mode's first back-off (under 1 s): SES_CALL_MAX_S.
SES_CONNECT_S, SES_READ_S, SES_ATTEMPTS = 3, 5, 2
SES_CONFIG = Config(
    connect_timeout=SES_CONNECT_S, read_timeout=SES_READ_S,
    retries={"mode": "standard", "total_max_attempts": SES_ATTEMPTS},
)
SES_CALL_MAX_S = SES_ATTEMPTS * (SES_CONNECT_S + SES_READ_S) + 1
RESPONSE_TIMEOUT_S, RESPONSE_ATTEMPTS = 10, 2  # the PUT to CloudFormation, and a second between tries
RESPONSE_MAX_S = RESPONSE_ATTEMPTS * RESPONSE_TIMEOUT_S + 1
# No SES call starts unless it and the answer both fit in what is left of the function's timeout
# (stacks/email.py ACTIVATION_TIMEOUT leaves room for several calls).
RESPONSE_MARGIN_MS = (SES_CALL_MAX_S + RESPONSE_MAX_S) * 1000
_REPLACED = "/"  # separates our set from the one it replaced in the physical id; SES names hold no "/"


class ActivationRefused(Exception):
    """The account's active rule set is not ours and config does not allow replacing it."""


class OutOfTime(Exception):
    """Too little of the function's time is left to make another SES call and still answer."""


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]


class GuardedClient:
    """The SES client, refusing to start a call unless the call and the answer to CloudFormation both fit."""

    def __init__(self, client: Any, remaining_ms: Callable[[], int]) -> None:
        self._client, self._remaining_ms = client, remaining_ms

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute  # e.g. ``exceptions``

        def call(**kwargs: Any) -> Any:
            left = self._remaining_ms()
            if left < RESPONSE_MARGIN_MS:
                raise OutOfTime(f"ses {name} not started: {left} ms left, kept to answer CloudFormation")
            return attribute(**kwargs)

        return call


def active_physical_id(rule_set: str, replaced: str | None) -> str:
    return f"{rule_set}-active" + (f"{_REPLACED}{replaced}" if replaced else "")


def replaced_set(physical_id: str | None) -> str | None:
    """The set our activation replaced, from ``<set>-active/<replaced>``; None for any other id."""
    if not physical_id or _REPLACED not in physical_id:
        return None
    return physical_id.split(_REPLACED, 1)[1] or None


def active_rule_set(ses: Any) -> str | None:
    """The name of the active receipt rule set, or None when none is active."""
    response = ses.describe_active_receipt_rule_set()
    metadata = response.get("Metadata") or {}
    return metadata.get("Name")


def activate(
    ses: Any, rule_set: str, replace_active: bool, *, previous_name: str | None = None, replaced: str | None = None
) -> Outcome:
    """Activate ``rule_set``. ``previous_name``: our set's name before this Update renamed it (ours, so
    replaced without asking). ``replaced``: the other application's set recorded at an earlier activation."""
    active = active_rule_set(ses)
    if active not in (None, rule_set, previous_name):
        if not replace_active:
            raise ActivationRefused(
                f"receipt rule set {active!r} is already active in this region (another application's "
                f"inbound mail). Add our rule to it with receipt_rule_set: {{mode: existing, name: {active}}} "
                f"in config/regions.yaml, or set replace_active: true to switch it off."
            )
        replaced = replaced or active
    if active != rule_set:
        ses.set_active_receipt_rule_set(RuleSetName=rule_set)
        logger.info("activated %s (was %s)", rule_set, active)
    return Outcome(physical_id=active_physical_id(rule_set, replaced), data={"PreviouslyActive": active or ""})


def verify(ses: Any, rule_set: str) -> Outcome:
    active = active_rule_set(ses)
    if active != rule_set:
        raise ActivationRefused(
            f"receipt rule set {rule_set!r} is not the active one (active: {active or 'none'}); our rule "
            f"in it would never run. Fix receipt_rule_set.name in config/regions.yaml."
        )
    return Outcome(physical_id=f"{rule_set}-verified", data={"PreviouslyActive": active})


def deactivate_if_ours(ses: Any, rule_set: str, replaced: str | None = None) -> None:
    """On delete, only while our set is active (another set activated since then is left alone): give
    the account back the set we replaced, or no active set when we replaced none or it is gone.
    SES refuses to delete an active set, so our set must stop being active either way."""
    if active_rule_set(ses) != rule_set:
        return
    if replaced:
        try:
            ses.set_active_receipt_rule_set(RuleSetName=replaced)
            logger.info("restored %s, which %s replaced", replaced, rule_set)
            return
        except ses.exceptions.RuleSetDoesNotExistException:
            logger.warning("%s, which %s replaced, no longer exists: deactivating", replaced, rule_set)
    ses.set_active_receipt_rule_set()  # without a name: no active set
    logger.info("deactivated %s", rule_set)


def handle(event: dict, ses: Any) -> Outcome:
    properties = event["ResourceProperties"]
    rule_set = properties["RuleSetName"]
    mode = properties.get("Mode", "activate")
    replace_active = str(properties.get("ReplaceActive", "false")).lower() == "true"
    request = event["RequestType"]
    physical_id = event.get("PhysicalResourceId")
    if request == "Delete":
        if mode == "activate":
            deactivate_if_ours(ses, rule_set, replaced_set(physical_id))
        return Outcome(physical_id=physical_id or f"{rule_set}-{mode}", data={})
    old = (event.get("OldResourceProperties") or {}) if request == "Update" else {}
    if mode == "verify":
        outcome = verify(ses, rule_set)
    else:
        previous_name = old.get("RuleSetName") if old.get("Mode", "activate") == "activate" else None
        outcome = activate(ses, rule_set, replace_active, previous_name=previous_name,
                           replaced=replaced_set(physical_id))
    if physical_id and old.get("RuleSetName") == rule_set:
        # Same set, same resource, whatever the mode: a new id would make CloudFormation send a Delete
        # for the old one with the OLD properties, which (activate) would find our set active and switch
        # it off, also when the config moved from activate to verify.
        return Outcome(physical_id=physical_id, data=outcome.data)
    return outcome


def _respond(event: dict, status: str, reason: str, outcome: Outcome | None) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": (outcome.physical_id if outcome else None)
            or event.get("PhysicalResourceId")
            or event["LogicalResourceId"],
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": outcome.data if outcome else {},
        }
    ).encode()
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers=headers)
        try:
            # CloudFormation's pre-signed URL
            with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as response:  # noqa: S310
                response.read()
            return
        except OSError:  # URLError, timeouts: try once more; then the stack's ServiceTimeout ends the wait
            logger.exception("answer to CloudFormation failed (attempt %d of %d)", attempt, RESPONSE_ATTEMPTS)
            if attempt < RESPONSE_ATTEMPTS:
                time.sleep(1)


def _ses_client() -> Any:
    import boto3

    return boto3.client("ses", config=SES_CONFIG)


def lambda_handler(event: dict, context: Any) -> None:
    try:
        ses = GuardedClient(_ses_client(), context.get_remaining_time_in_millis)
        outcome = handle(event, ses)
    except Exception as exc:  # any failure must reach CloudFormation, or the stack waits until ServiceTimeout
        logger.exception("receipt rule set %s failed", event.get("RequestType"))
        _respond(event, "FAILED", f"{type(exc).__name__}: {exc}", None)
        return
    _respond(event, "SUCCESS", "ok", outcome)
