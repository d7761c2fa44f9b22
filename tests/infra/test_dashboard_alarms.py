"""The dashboard shows the functions' own metrics and an alarm watches rejected answers, in every region."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import logical_id

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
    assert "SEARCH('{Text311,city,service} MetricName=\"FirstResponseBreached\"', 'Sum', 300)" in searches


@pytest.mark.parametrize("region", REGIONS)
def test_the_response_targets_check_runs_every_five_minutes_without_retries(synth, region):
    synth.templates[region].has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(5 minutes)",
        "Targets": [{"Arn": {"Fn::GetAtt": [logical_id(synth.stacks[region].functions.response_targets), "Arn"]},
                     "Id": "Target0", "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 300}}],
    })


def _alarms_on(synth, region, metric_name: str) -> list[dict]:
    return [a["Properties"] for a in synth.resources(region, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == metric_name]


@pytest.mark.parametrize("metric", ["OutboundUnreadable", "OutboundCallbackFailed", "OutboundHandoffFailed",
                                    "OutboundSpendLimit",
                                    # text311/mail_feedback.py: a city inbox that bounces or complains
                                    "MailBounced", "MailComplained"])
@pytest.mark.parametrize("region", REGIONS)
def test_an_outcome_that_needs_a_person_alarms_at_its_first_occurrence(synth, region, metric):
    synth.templates[region].has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Text311",
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": "text311"}],
            "Statistic": "Sum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": Match.any_value(),
        },
    )


@pytest.mark.parametrize("region", REGIONS)
def test_a_spike_of_refused_numbers_alarms_as_sms_pumping(synth, region):
    # text311/sms_guards.py count_refused_number: the total NumbersRefused, service dimension only
    [alarm] = _alarms_on(synth, region, "NumbersRefused")
    assert alarm["Namespace"] == "Text311" and alarm["Dimensions"] == [{"Name": "service", "Value": "text311"}]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300 and alarm["Threshold"] == 20
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["AlarmActions"]


@pytest.mark.parametrize("region", REGIONS)
def test_every_queue_alarms_on_the_age_of_its_oldest_message(synth, region):
    queues = set(synth.resources(region, "AWS::SQS::Queue"))
    watched = {}
    for alarm in _alarms_on(synth, region, "ApproximateAgeOfOldestMessage"):
        [dimension] = alarm["Dimensions"]
        assert dimension["Name"] == "QueueName" and alarm["AlarmActions"]
        watched[dimension["Value"]["Fn::GetAtt"][0]] = alarm["Threshold"]

    assert len(queues) >= 6 and set(watched) == queues
    dlqs = {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for r in synth.resources(region, "AWS::SQS::Queue").values() if "RedrivePolicy" in r["Properties"]}
    assert dlqs and all(watched[q] == 10 * 86400 for q in dlqs)  # before the DLQ's 14 days run out
    stack = synth.stacks[region]
    assert watched[logical_id(stack.outbound.queue)] == 30 * 60  # no drainer drains it
    assert watched[logical_id(stack.messaging.inbound.queue)] == 15 * 60  # its consumer is failing


@pytest.mark.parametrize("region", REGIONS)
def test_the_dashboard_splits_city_mail_bounces_complaints_and_delays_by_municipality(synth, region):
    [dashboard] = synth.resources(region, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard_text(dashboard["Properties"]["DashboardBody"]))
    metrics = [m for w in body["widgets"] for m in w.get("properties", {}).get("metrics", [])]
    searches = " ".join(m[0]["expression"] for m in metrics if m and isinstance(m[0], dict) and "expression" in m[0])
    for name in ("CityMailBounced", "CityMailComplained", "CityMailDelayed"):
        assert f"SEARCH('{{Text311,municipality,service}} MetricName=\"{name}\"', 'Sum', 300)" in searches
