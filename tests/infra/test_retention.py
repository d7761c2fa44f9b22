"""`make destroy` keeps residents' data: every table and bucket holding it, and the keys and secrets
without which it could not be read, have DeletionPolicy AND UpdateReplacePolicy Retain."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

# Resources the stack may delete, with the reason (anything else of these types must be retained).
DISPOSABLE = {
    "DataIdempotencyTable": "Powertools idempotency records: hashes of requests, 7-day TTL, rebuilt on use",
    "DataLimitsTable": "flood and per-city SMS counters: windows of a minute to a day, TTL'd, rebuilt on use",
    "ConsoleSiteBucket": "the console's static files, published again by every deployment",
}
KEPT_TYPES = (
    "AWS::DynamoDB::Table",  # subscribers, residents, conversations, messages
    "AWS::S3::Bucket",  # agents' raw answers and the access logs naming them
    "AWS::KMS::Key",  # without DataKey / PhoneKey the retained items cannot be decrypted
    "AWS::SecretsManager::Secret",  # PhoneHashKey finds a resident; ReplyTokenKeys verify sent addresses
    "AWS::Cognito::UserPool",  # agents' accounts
)


def _disposable(logical_id: str) -> bool:
    return any(logical_id.startswith(prefix) for prefix in DISPOSABLE)


def test_every_resource_with_residents_data_is_retained_on_delete_and_on_replacement(synth: Synth, region: str) -> None:
    resources = synth.raw[region]["Resources"]
    kept = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] in KEPT_TYPES and not _disposable(logical_id)
    }
    # the six data tables (subscribers, residents, conversations, messages, requests, audit) and the
    # raw-mail bucket are among them
    tables = [k for k, r in kept.items() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 6
    assert any(k.startswith("EmailRawMailBucket") for k in kept)
    not_retained = {
        logical_id: (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
        for logical_id, resource in kept.items()
        if (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) != ("Retain", "Retain")
    }
    assert not_retained == {}


def test_retained_tables_also_refuse_deletion_by_hand(synth: Synth, region: str) -> None:
    tables = synth.resources(region, "AWS::DynamoDB::Table")
    protected = {k for k, t in tables.items() if t["Properties"].get("DeletionProtectionEnabled")}
    assert protected == {k for k in tables if not _disposable(k)}


def test_only_the_listed_resources_are_disposable(synth: Synth, region: str) -> None:
    resources = synth.raw[region]["Resources"]
    disposable = {k for k, r in resources.items() if r["Type"] in KEPT_TYPES and _disposable(k)}
    assert {prefix for prefix in DISPOSABLE if any(k.startswith(prefix) for k in disposable)} <= set(DISPOSABLE)
    for logical_id in disposable:
        assert resources[logical_id].get("DeletionPolicy") == "Delete", logical_id
