"""CloudFormation custom resource: make our SES receipt rule set the active one, safely.

SES has ONE active receipt rule set per account and region, and CloudFormation cannot activate one.
A careless activation would silently switch off another application's inbound mail, so:

- ``Mode: activate``: on create/update, activate ``RuleSetName`` when nothing or our set is active.
  If ANOTHER set is active, fail (the deployment rolls back) unless ``ReplaceActive`` is "true".
  On delete, deactivate only if our set is still the active one.
- ``Mode: verify`` (config ``receipt_rule_set.mode: existing``): our rule was added to another
  application's set; check that this set is the active one, never change what is active.

The logic is plain functions over an injected SES (v1) client; ``lambda_handler`` only adds the
CloudFormation response (PUT to the pre-signed ``ResponseURL``), so the stack never hangs on an error.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class ActivationRefused(Exception):
    """The account's active rule set is not ours and config does not allow replacing it."""


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str]


def active_rule_set(ses: Any) -> str | None:
    """The name of the active receipt rule set, or None when none is active."""
    response = ses.describe_active_receipt_rule_set()
    metadata = response.get("Metadata") or {}
    return metadata.get("Name")


def activate(ses: Any, rule_set: str, replace_active: bool) -> Outcome:
    active = active_rule_set(ses)
    if active not in (None, rule_set) and not replace_active:
        raise ActivationRefused(
            f"receipt rule set {active!r} is already active in this region (another application's "
            f"inbound mail). Add our rule to it with receipt_rule_set: {{mode: existing, name: {active}}} "
            f"in config/regions.yaml, or set replace_active: true to switch it off."
        )
    if active != rule_set:
        ses.set_active_receipt_rule_set(RuleSetName=rule_set)
        logger.info("activated %s (was %s)", rule_set, active)
    return Outcome(physical_id=f"{rule_set}-active", data={"PreviouslyActive": active or ""})


def verify(ses: Any, rule_set: str) -> Outcome:
    active = active_rule_set(ses)
    if active != rule_set:
        raise ActivationRefused(
            f"receipt rule set {rule_set!r} is not the active one (active: {active or 'none'}); our rule "
            f"in it would never run. Fix receipt_rule_set.name in config/regions.yaml."
        )
    return Outcome(physical_id=f"{rule_set}-verified", data={"PreviouslyActive": active})


def deactivate_if_ours(ses: Any, rule_set: str) -> None:
    """On delete: deactivate only our own set; another set activated since then is left alone."""
    if active_rule_set(ses) == rule_set:
        # SetActiveReceiptRuleSet without a name deactivates; SES refuses to delete an active set.
        ses.set_active_receipt_rule_set()
        logger.info("deactivated %s", rule_set)


def handle(event: dict, ses: Any) -> Outcome:
    properties = event["ResourceProperties"]
    rule_set = properties["RuleSetName"]
    mode = properties.get("Mode", "activate")
    replace_active = str(properties.get("ReplaceActive", "false")).lower() == "true"
    request = event["RequestType"]
    if request == "Delete":
        if mode == "activate":
            deactivate_if_ours(ses, rule_set)
        return Outcome(physical_id=event.get("PhysicalResourceId") or f"{rule_set}-{mode}", data={})
    if mode == "verify":
        return verify(ses, rule_set)
    return activate(ses, rule_set, replace_active)


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
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (CloudFormation's pre-signed URL)
        response.read()


def lambda_handler(event: dict, context: Any) -> None:
    import boto3

    try:
        outcome = handle(event, boto3.client("ses"))
    except Exception as exc:  # any failure must reach CloudFormation, or the stack waits an hour
        logger.exception("receipt rule set %s failed", event.get("RequestType"))
        _respond(event, "FAILED", str(exc), None)
        return
    _respond(event, "SUCCESS", "ok", outcome)
