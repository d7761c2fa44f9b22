"""A region's residents' languages (REGION_LANGUAGES): set per deployment in config/regions.yaml, the dialog's
priors and answer language until a resident names a city."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stacks.config import DEFAULT_CONFIG, Deployment, load_config

MINIMAL = {
    "region": "ca-central-1",
    "sms_origination_identity": "create",
    "reply_domain": "reply.example.ca",
    "sender_address": "Text311 <notify@example.ca>",
    "retention_days": 30,
    "alarm_email": "ops@example.ca",
    "served_countries": ["CA"],
}


def test_a_deployment_without_region_languages_answers_in_english_then_french():
    assert Deployment.model_validate(MINIMAL).region_languages == ["en", "fr"]


def test_a_region_language_without_a_language_file_is_refused():
    with pytest.raises(ValidationError, match="no language file"):
        Deployment.model_validate({**MINIMAL, "region_languages": ["en", "xx"]})


def test_the_canadian_region_writes_english_and_french_and_the_us_region_english_and_spanish():
    regions = {d.region: d.region_languages for d in load_config(DEFAULT_CONFIG).deployments}
    assert regions["ca-central-1"] == ["en", "fr"]
    assert regions["us-east-1"] == ["en", "es"]
