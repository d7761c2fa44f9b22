"""text311 municipality open311 key|publish against a moto subscribers table."""

from __future__ import annotations

import hashlib

import pytest
from harness import municipality_cli_with_gatineau

from text311.adapters.dynamodb import SubscriberModel
from text311.open311.keys import Open311SettingsStore

TABLE = "open311-cli-subscribers"
GATINEAU = 5959974


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SUBSCRIBERS_TABLE", raising=False)
    with municipality_cli_with_gatineau(TABLE) as run:
        yield run


def test_key_prints_a_new_key_once_and_stores_only_its_sha256(cli):
    result = cli("open311", "key", str(GATINEAU))

    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    stored = SubscriberModel.get(GATINEAU).open311_key_hash
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert Open311SettingsStore().get(GATINEAU).accepts(key)


def test_a_rotation_and_a_publish_are_audited_without_the_key(cli, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from text311.adapters.audit_table import AuditModel
    from text311.audit import AuditLog

    monkeypatch.setenv("AUDIT_TABLE", "open311-cli-audit")
    cli("survey", str(GATINEAU), "off")  # binds the audit model for this table, as every command does
    AuditModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)

    key = cli("open311", "key", str(GATINEAU)).stdout.strip().splitlines()[-1]
    cli("open311", "publish", str(GATINEAU), "on")

    now = datetime.now(UTC)
    recorded = [(e.action, e.detail) for e in AuditLog().entries(GATINEAU, now - timedelta(hours=1), now)]
    assert recorded == [
        ("settings.open311", "api_key created or rotated"),
        ("settings.open311", "descriptions published: on"),
    ]
    assert all(key not in detail for _, detail in recorded)


def test_an_operators_change_expires_after_the_configured_retention(cli, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from text311.adapters.audit_table import AuditModel

    monkeypatch.setenv("AUDIT_TABLE", "open311-cli-retention")
    monkeypatch.setenv("RETENTION_DAYS", "30")
    cli("survey", str(GATINEAU), "off")  # binds the audit model for this table, as every command does
    AuditModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)

    cli("open311", "publish", str(GATINEAU), "on")

    [entry] = list(AuditModel.query(GATINEAU))
    assert entry.expires_at is not None
    assert abs(entry.expires_at - (datetime.now(UTC) + timedelta(days=30))) < timedelta(hours=1)


@pytest.mark.parametrize("days", ["ninety", "0"])
def test_a_bad_retention_leaves_the_change_made_and_says_it_is_not_audited(cli, monkeypatch, days):
    monkeypatch.setenv("RETENTION_DAYS", days)

    result = cli("open311", "publish", str(GATINEAU), "on")

    assert result.exit_code == 0, result.output
    assert "not in the audit trail" in result.output
    assert Open311SettingsStore().get(GATINEAU).publish_descriptions is True


def test_key_again_rotates_it(cli):
    first = cli("open311", "key", str(GATINEAU)).stdout.strip().splitlines()[-1]

    second = cli("open311", "key", str(GATINEAU)).stdout.strip().splitlines()[-1]

    settings = Open311SettingsStore().get(GATINEAU)
    assert first != second
    assert settings.accepts(second) and not settings.accepts(first)


def test_key_keeps_the_citys_other_fields(cli):
    cli("survey", str(GATINEAU), "on")

    cli("open311", "key", str(GATINEAU))

    assert SubscriberModel.get(GATINEAU).survey is True


def test_key_of_an_unknown_city_fails_and_writes_nothing(cli):
    result = cli("open311", "key", "6077243")

    assert result.exit_code == 1
    assert "not a subscriber" in result.output
    assert Open311SettingsStore().get(6077243) is None


@pytest.mark.parametrize(("state", "published"), [("on", True), ("off", False)])
def test_publish_sets_the_citys_consent(cli, state, published):
    cli("open311", "publish", str(GATINEAU), "on" if state == "off" else "off")

    result = cli("open311", "publish", str(GATINEAU), state)

    assert result.exit_code == 0, result.output
    assert Open311SettingsStore().get(GATINEAU).publish_descriptions is published


def test_publish_refuses_another_word(cli):
    result = cli("open311", "publish", str(GATINEAU), "yes")

    assert result.exit_code == 1
    assert Open311SettingsStore().get(GATINEAU).publish_descriptions is False
