"""Dashboard and alarms. Every DLQ alarms at its first message: a message there is a resident's text
or an agent's answer that did not go through, and someone must look at it."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.outbound import DRAINER_INVOCATIONS_ALARM, Outbound
from text311.outbound.message import Priority

PERIOD = Duration.minutes(5)
# The functions' own metrics (Powertools EMF, text311.observability): namespace and service dimension.
NAMESPACE = "Text311"
SERVICE = {"service": "text311"}
# Rejected agent answers in 5 minutes that page someone. A city's agents mistyping or replying from
# a personal address make a few a day; ten in five minutes is forged mail, a misrouted mailing list
# or a broken DKIM/SPF setup at a city, and each of them means answers are not reaching residents.
REJECTED_ANSWERS_ALARM = 10
# A resident waiting more than 15 minutes for an agent's answer, for 5 minutes in a row: the identity
# is too slow for the traffic (a faster identity or shorter answers are the levers, docs/outbound.md).
ANSWER_WAIT_ALARM_SECONDS = 15 * 60
ANSWER_WAIT_MINUTES = 5
# What the drainer publishes (docs/outbound.md, "Visibility"): per identity and priority class.
EXPECTED_WAIT = "OutboundExpectedWaitSeconds"
PRIORITIES = tuple(priority.name for priority in Priority)  # URGENT, ANSWER, NOTICE
QUEUE_PARTS = "OutboundQueueParts"
# Outcomes that each mean someone must look, at the first one (metric → what it means). The drainer and
# its queue source emit them (text311/outbound/drainer.py, sqs_source.py).
FIRST_OCCURRENCE_ALARMS = {
    "OutboundUnreadable": "an outbound SMS body no drainer can read (a producer's bug): it goes to the DLQ",
    "OutboundCallbackFailed": "an SMS was sent or failed but its record or the agent's notice was not written",
    "OutboundHandoffFailed": "the drainer could not start its successor: SMS wait for the next tick",
    "OutboundSpendLimit": "the account's monthly SMS spend limit is reached: every SMS now fails",
    "AuditWriteFailed": "a change was made but its audit entry was not written (the trail has a gap)",
}
# Heartbeats (lease renewal, visibility extension, status) the drainer could not make in 5 minutes. One is
# retried at the next beat; this many means DynamoDB or SQS keeps refusing and a takeover is near.
HEARTBEAT_FAILURES_ALARM = 5
# Numbers refused (not served, premium, unallocated…) in 5 minutes, inbound and outbound together. A
# few a day are typos and foreign visitors; this many at once is SMS pumping under way.
NUMBERS_REFUSED_ALARM = 20
# Age of the oldest message, per kind of queue. A work queue's consumer takes a message within seconds;
# the outbound queue holds a backlog the drainer paces (the ANSWER wait alarm covers a slow line, this
# one a queue that no drainer drains); a DLQ keeps 14 days, and a message still there after 10 is
# about to be lost.
WORK_QUEUE_AGE_ALARM = Duration.minutes(15)
OUTBOUND_QUEUE_AGE_ALARM = Duration.minutes(30)
DLQ_AGE_ALARM = Duration.days(10)


def service_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE, metric_name=name, dimensions_map=SERVICE, period=PERIOD, statistic=statistic,
        label=label,
    )


def outbound_metric(name: str, identity: str, priority: str, statistic: str) -> cloudwatch.Metric:
    """A drainer metric of one identity and class (``URGENT``, ``ANSWER``, ``NOTICE``), per minute."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={**SERVICE, "identity": identity, "class": priority},
        period=Duration.minutes(1),
        statistic=statistic,
    )


def split_by(dimension: str, name: str, statistic: str, label: str) -> cloudwatch.MathExpression:
    """One line per value of ``dimension`` (reason, city): a SEARCH, so new values appear by themselves."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{NAMESPACE},{dimension},service}} MetricName=\"{name}\"', '{statistic}', 300)",
        label=label,
        period=PERIOD,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str,
        key: kms.IKey,
        functions: dict[str, lambda_.Function],
        inbound_queue: sqs.IQueue,
        dead_letter_queues: dict[str, sqs.IQueue],
        outbound: Outbound,
        api: apigwv2.HttpApi | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = cw_actions.SnsAction(self.alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for label, dlq in dead_letter_queues.items():
            alarm = dlq.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ).create_alarm(
                self,
                f"Dlq{_id(label)}",
                alarm_description=f"Text311: a message is in the {label} dead-letter queue",
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(alarm)
        for name, function in functions.items():
            alarm = function.metric_errors(period=PERIOD, statistic="Sum").create_alarm(
                self,
                f"Errors{_id(name)}",
                alarm_description=f"Text311: {name} raised errors",
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(alarm)
        rejected = service_metric("AnswersRejected").create_alarm(
            self,
            "RejectedAnswersSpike",
            alarm_description=(
                f"Text311: more than {REJECTED_ANSWERS_ALARM} agent answers rejected in 5 minutes "
                "(forged mail, or a city's mail failing SPF/DKIM); the dashboard splits them by reason"
            ),
            threshold=REJECTED_ANSWERS_ALARM,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms.append(rejected)
        for name, meaning in FIRST_OCCURRENCE_ALARMS.items():
            self._alarm_above(service_metric(name), name, 0, f"Text311: {meaning}")
        self._alarm_above(
            service_metric("NumbersRefused"), "NumbersRefusedSpike", NUMBERS_REFUSED_ALARM,
            f"Text311: more than {NUMBERS_REFUSED_ALARM} numbers refused in 5 minutes (SMS pumping under "
            "way?); the dashboard splits them by direction and reason",
        )
        self._alarm_above(
            service_metric("OutboundHeartbeatFailed"), "OutboundHeartbeatFailures", HEARTBEAT_FAILURES_ALARM,
            f"Text311: more than {HEARTBEAT_FAILURES_ALARM} drainer heartbeats failed in 5 minutes (lease, "
            "visibility or status not renewed); a successor takes over when the lease expires",
        )
        self._drainer_alarms(outbound)
        self._queue_age_alarms(outbound, {dlq.node.path for dlq in dead_letter_queues.values()})
        # Minimum per minute: every estimate in the minute was above the threshold, not one spike.
        self.answer_wait_alarm = outbound_metric(EXPECTED_WAIT, outbound.identity, "ANSWER", "Minimum").create_alarm(
            self,
            "OutboundAnswerWait",
            alarm_description=(
                f"Text311: agents' answers wait more than {ANSWER_WAIT_ALARM_SECONDS // 60} minutes in the "
                f"outbound SMS queue, for {ANSWER_WAIT_MINUTES} minutes (the identity's MPS is too low "
                "for the traffic)"
            ),
            threshold=ANSWER_WAIT_ALARM_SECONDS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=ANSWER_WAIT_MINUTES,
            datapoints_to_alarm=ANSWER_WAIT_MINUTES,
            # No drainer running (none is needed, or the tick has not come yet): no data is no wait.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms.append(self.answer_wait_alarm)
        # A city's inbox that bounces or complains loses texts (text311/mail_feedback.py): one is enough
        # to look; the dashboard and `text311 municipality show` name the city.
        for total, per_city in (("MailBounced", "CityMailBounced"), ("MailComplained", "CityMailComplained")):
            self._alarm_above(
                service_metric(total), per_city, 0,
                f"Text311: a resident's text mailed to a city came back ({per_city}, by "
                "municipality on the dashboard): its inbox is wrong, full or blocking us",
            )
        for alarm in self.alarms:
            alarm.add_alarm_action(notify)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Inbound texts (messages received by the inbound queue)",
                left=[inbound_queue.metric_number_of_messages_sent(period=PERIOD, statistic="Sum")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues (messages visible)",
                left=[
                    dlq.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=label
                    )
                    for label, dlq in dead_letter_queues.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=PERIOD, statistic="Sum", label=n) for n, f in functions.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p95)",
                left=[
                    f.metric_duration(period=PERIOD, statistic="p95", label=n) for n, f in functions.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Messages: texts in, mails to cities, answers sent, SMS parts sent",
                left=[
                    service_metric("InboundSms", label="texts in"),
                    service_metric("EmailsToCity", label="mails to cities"),
                    service_metric("AnswersSent", label="answers sent"),
                    service_metric("SmsSegmentsSent", label="SMS parts sent"),
                ],
                right=[
                    service_metric("SmsDelivered", label="delivered"),
                    service_metric("SmsUndelivered", label="undelivered"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Rejected agent answers, by reason",
                left=[split_by("reason", "AnswerRejected", "Sum", "rejected")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="First-response time per city (seconds, average)",
                left=[split_by("city", "FirstResponseTime", "Average", "first response")],
                width=12,
            ),
            # text311.response_targets: conversations that waited beyond their city's first-response target
            cloudwatch.GraphWidget(
                title="First-response target breaches per city",
                left=[split_by("city", "FirstResponseBreached", "Sum", "breached")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Texts' mail that did not reach a city, per municipality (SES bounces, complaints, delays)",
                left=[split_by("municipality", name, "Sum", label) for name, label in (
                    ("CityMailBounced", "bounced"), ("CityMailComplained", "complained"),
                    ("CityMailDelayed", "delayed"))],
                width=24,
            ),
        )
        self._outbound_widgets(outbound)
        if api is not None:
            # 4xx includes refused tokens (401) and other cities' conversations (404); 5xx also
            # shows as console_api errors, which alarm.
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Console API requests and errors",
                    left=[
                        api.metric_count(period=PERIOD, statistic="Sum", label="requests"),
                        api.metric_client_error(period=PERIOD, statistic="Sum", label="4xx"),
                        api.metric_server_error(period=PERIOD, statistic="Sum", label="5xx"),
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Console API latency (p95)",
                    left=[api.metric_latency(period=PERIOD, statistic="p95")],
                    width=12,
                ),
            )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))


    def _alarm_above(self, metric: cloudwatch.Metric, construct_id: str, threshold: float, description: str) -> None:
        """An alarm on one period above ``threshold``; no data (nothing happened) is no alarm."""
        self.alarms.append(metric.create_alarm(
            self, construct_id, alarm_description=description, threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ))

    def _drainer_alarms(self, outbound: Outbound) -> None:
        """The drainer allows recursive loops (its hand-off chain): a chain that forks or a crash loop
        shows as invocations well above the ticks' five per 5 minutes."""
        if outbound.drainer is None:
            return
        self._alarm_above(
            outbound.drainer.metric_invocations(period=PERIOD, statistic="Sum"), "DrainerInvocations",
            DRAINER_INVOCATIONS_ALARM,
            f"Text311: the SMS drainer was invoked more than {DRAINER_INVOCATIONS_ALARM} times in 5 minutes "
            "(normal: 5 ticks and a hand-off); a runaway chain of drainers?",
        )

    def _queue_age_alarms(self, outbound: Outbound, dead_letter_queues: set[str]) -> None:
        """Every queue of the stack, found rather than listed, so a new one cannot be forgotten."""
        queues = [c for c in Stack.of(self).node.find_all() if isinstance(c, sqs.Queue)]
        for queue in queues:
            if queue.node.path in dead_letter_queues:
                limit, kind = DLQ_AGE_ALARM, "dead-letter queue (14-day retention)"
            elif queue.node.path == outbound.queue.node.path:
                limit, kind = OUTBOUND_QUEUE_AGE_ALARM, "outbound SMS queue (no drainer?)"
            else:
                limit, kind = WORK_QUEUE_AGE_ALARM, "queue (its consumer is failing?)"
            name = queue.node.path.partition("/")[2]  # the path under the stack
            self._alarm_above(
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                "Age" + "".join(ch for ch in name if ch.isalnum()), limit.to_seconds(),
                f"Text311: a message waits in the {name} {kind} for over {limit.to_human_string()}",
            )

    def _outbound_widgets(self, outbound: Outbound) -> None:
        queue = outbound.queue
        # In flight is what the drainer holds (it holds the whole backlog), so depth is both counts.
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Outbound SMS queue (messages waiting and held by the drainer; parts per class)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label="waiting"
                    ),
                    queue.metric_approximate_number_of_messages_not_visible(
                        period=PERIOD, statistic="Maximum", label="held by the drainer"
                    ),
                ],
                right=[
                    outbound_metric(QUEUE_PARTS, outbound.identity, p, "Maximum").with_(label=f"{p} parts")
                    for p in PRIORITIES
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"Outbound SMS expected wait per class (seconds; alarm on ANSWER > {ANSWER_WAIT_ALARM_SECONDS})",
                left=[
                    outbound_metric(EXPECTED_WAIT, outbound.identity, priority, "Maximum").with_(label=priority)
                    for priority in PRIORITIES
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=ANSWER_WAIT_ALARM_SECONDS, label="ANSWER alarm")
                ],
                width=12,
            ),
        )


def _id(label: str) -> str:
    return "".join(part.title() for part in label.replace("_", " ").split())
