"""``text311 dns``: the records a domain owner publishes, from the regions file and SES (moto, Stubber)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from text311.cli import app
from text311.cli.dns import DomainPlan, dkim_tokens, load_plan, records

TOKENS = ["abcdefghijklmnopqrstuvwxyz234567", "bcdefghijklmnopqrstuvwxyz2345678", "cdefghijklmnopqrstuvwxyz23456789"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "regions.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "deployments": [
                    {"region": "ca-central-1", "reply_domain": "reply.text311.ca",
                     "sender_address": "Text311 <notify@text311.ca>", "alarm_email": "ops@text311.ca"},
                    {"region": "eu-west-3", "reply_domain": "reply.fr.text311.example",
                     "sender_address": "Text311 <notify@fr.text311.example>", "alarm_email": "ops@text311.example",
                     "mail_receiving_region": "eu-west-1", "mail_from_subdomain": "mail"},
                ]
            }
        )
    )
    return path


def test_records_name_mx_dkim_mail_from_and_dmarc_when_ses_receives_in_the_region(config: Path) -> None:
    plan = load_plan(config, "ca-central-1")
    lines = [r.zone_line for r in records(plan, TOKENS)]
    assert lines == [
        *[f"{t}._domainkey.text311.ca. 1800 IN CNAME {t}.dkim.amazonses.com" for t in TOKENS],
        "bounce.text311.ca. 1800 IN MX 10 feedback-smtp.ca-central-1.amazonses.com",
        'bounce.text311.ca. 1800 IN TXT "v=spf1 include:amazonses.com ~all"',
        '_dmarc.text311.ca. 1800 IN TXT "v=DMARC1; p=none; rua=mailto:ops@text311.ca"',
        "reply.text311.ca. 1800 IN MX 10 inbound-smtp.ca-central-1.amazonaws.com",
    ]


def test_records_point_the_mx_at_the_receiving_region_and_add_the_reply_domains_dkim(config: Path) -> None:
    plan = load_plan(config, "eu-west-3")
    found = records(plan, TOKENS, TOKENS[:1])
    mx = found[-1]
    assert (mx.name, mx.type, mx.priority, mx.value) == (
        "reply.fr.text311.example", "MX", 10, "inbound-smtp.eu-west-1.amazonaws.com"
    )
    assert any(r.name == f"{TOKENS[0]}._domainkey.reply.fr.text311.example" for r in found)
    mail_from = [r for r in found if r.name == "mail.fr.text311.example"]
    assert {r.type for r in mail_from} == {"MX", "TXT"}
    assert "feedback-smtp.eu-west-3.amazonses.com" in {r.value for r in mail_from}  # sending stays in eu-west-3


def test_dkim_tokens_are_read_from_sesv2_get_email_identity() -> None:
    sesv2 = boto3.client("sesv2", region_name="ca-central-1")
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_email_identity",
            {"DkimAttributes": {"Status": "PENDING", "Tokens": TOKENS}},
            {"EmailIdentity": "text311.ca"},
        )
        assert dkim_tokens(sesv2, "text311.ca") == TOKENS


def test_a_missing_identity_gives_a_placeholder_record_not_an_error() -> None:
    plan = DomainPlan("ca-central-1", "ca-central-1", "text311.ca", "reply.text311.ca", "bounce.text311.ca", "o@x.ca")
    with mock_aws():
        tokens = dkim_tokens(boto3.client("sesv2", region_name="ca-central-1"), "text311.ca")
    assert tokens == []
    assert "no tokens yet" in records(plan, tokens)[0].purpose


def test_cli_prints_every_record_against_moto(config: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("sesv2", region_name="ca-central-1").create_email_identity(EmailIdentity="text311.ca")
        result = CliRunner().invoke(app, ["dns", "--region", "ca-central-1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "reply.text311.ca. 1800 IN MX 10 inbound-smtp.ca-central-1.amazonaws.com" in result.output
    assert "bounce.text311.ca. 1800 IN MX 10 feedback-smtp.ca-central-1.amazonses.com" in result.output
    assert "_dmarc.text311.ca." in result.output


def test_cli_refuses_a_region_that_is_not_configured(config: Path) -> None:
    result = CliRunner().invoke(app, ["dns", "--region", "us-west-2", "--config", str(config)])
    assert result.exit_code == 1
    assert "no deployment for region us-west-2 (configured: ca-central-1, eu-west-3)" in result.output


def test_the_shipped_config_plans_mx_for_every_region() -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "regions.yaml"
    for region in ("ca-central-1", "us-east-1"):
        plan = load_plan(shipped, region)
        assert records(plan, TOKENS)[-1].value == f"inbound-smtp.{plan.receiving_region}.amazonaws.com"


def test_cli_without_credentials_prints_what_the_config_gives_and_says_what_needs_them(
    config: Path, tmp_path: Path, monkeypatch
) -> None:
    # given no AWS credentials anywhere (and no instance metadata to ask: no socket is opened)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # an earlier test's session caches its credentials
    # when the owner asks for a region receiving elsewhere
    result = CliRunner().invoke(app, ["dns", "--region", "eu-west-3", "--config", str(config)])
    # then every record from the config is printed, the DKIM ones as placeholders, and no traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert "reply.fr.text311.example. 1800 IN MX 10 inbound-smtp.eu-west-1.amazonaws.com" in result.output
    assert "mail.fr.text311.example. 1800 IN MX 10 feedback-smtp.eu-west-3.amazonses.com" in result.output
    assert "<token>._domainkey.fr.text311.example" in result.output
    assert "need AWS credentials" in result.output and "NoCredentialsError" in result.output
    assert "fr.text311.example in eu-west-3" in result.output
    assert "reply.fr.text311.example in eu-west-1" in result.output
