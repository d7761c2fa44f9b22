"""The dashboard shows the functions' own metrics and an alarm watches rejected answers, in every region."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

REGIONS = ("ca-central-1", "us-east-1")


@pytest.mark.parametrize("region", REGIONS)
def test_rejected_answers_spike_alarms_to_the_alarm_topic(synth, region):
    synth.templates[region].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Text311",
            "MetricName": "AnswersRejected",
            "Dimensions": [{"Name": "service", "Value": "text311"}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 10,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": Match.any_value(),
        },
    )


def dashboard_text(value) -> str:
    """The dashboard body as text: the literal pieces of its Fn::Join, tokens (region, ids) left out."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(dashboard_text(v) for v in value)
    if isinstance(value, dict) and "Fn::Join" in value:
        return dashboard_text(value["Fn::Join"][1])
    return ""


@pytest.mark.parametrize("region", REGIONS)
def test_dashboard_plots_messages_rejections_by_reason_and_first_response_per_city(synth, region):
    [dashboard] = synth.resources(region, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard_text(dashboard["Properties"]["DashboardBody"]))
    metrics = [m for w in body["widgets"] for m in w.get("properties", {}).get("metrics", [])]
    names = {m[1] for m in metrics if m and m[0] == "Text311"}
    searches = " ".join(m[0]["expression"] for m in metrics if m and isinstance(m[0], dict) and "expression" in m[0])

    assert {"InboundSms", "EmailsToCity", "AnswersSent", "SmsSegmentsSent", "SmsUndelivered"} <= names
    assert "SEARCH('{Text311,reason,service} MetricName=\"AnswerRejected\"', 'Sum', 300)" in searches
    assert "SEARCH('{Text311,city,service} MetricName=\"FirstResponseTime\"', 'Average', 300)" in searches
