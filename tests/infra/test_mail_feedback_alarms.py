"""A city inbox that bounces must not swallow texts (issue 18): SES's feedback events reach the
mail_events function, each bounce or complaint alarms, and the dashboard names the city."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.infra.test_dashboard_alarms import dashboard_text

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

REGIONS = ("ca-central-1", "us-east-1")


@pytest.mark.parametrize("total", ["MailBounced", "MailComplained"])
@pytest.mark.parametrize("region", REGIONS)
def test_a_bounce_or_a_complaint_from_a_city_alarms_at_its_first_occurrence(synth, region, total):
    # text311/mail_feedback.py: the total has the service dimension only (an alarm cannot sum cities)
    synth.templates[region].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Text311",
            "MetricName": total,
            "Dimensions": [{"Name": "service", "Value": "text311"}],
            "Statistic": "Sum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": Match.any_value(),
        },
    )


@pytest.mark.parametrize("region", REGIONS)
def test_the_dashboard_splits_bounces_complaints_and_delays_by_municipality(synth, region):
    [dashboard] = synth.resources(region, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard_text(dashboard["Properties"]["DashboardBody"]))
    metrics = [m for w in body["widgets"] for m in w.get("properties", {}).get("metrics", [])]
    searches = " ".join(m[0]["expression"] for m in metrics if m and isinstance(m[0], dict) and "expression" in m[0])
    for name in ("CityMailBounced", "CityMailComplained", "CityMailDelayed"):
        assert f"SEARCH('{{Text311,municipality,service}} MetricName=\"{name}\"', 'Sum', 300)" in searches
