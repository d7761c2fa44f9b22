"""Outbound SMS (issue 12, docs/outbound.md): the region's one paced path for every SMS it sends.

producers ──SendMessage (MessageGroupId = city)──▶ SQS ``OutboundQueue`` (KMS, + ``OutboundDlq`` after 60 receives)
EventBridge ``rate(1 minute)`` ──▶ sms_drainer ──receive / delete / change visibility──▶ queue
sms_drainer ──SendTextMessage, at the identity's MPS──▶ End User Messaging

One queue per origination identity; a stack has one identity today, so one queue here. The drainer is
not an event source mapping: a lease in the idempotency table keeps it a singleton per identity, and
the schedule only restarts it (docs/outbound.md, "The durable queue in AWS: the choice"). The queue
is a standard queue; the producers' message groups make it an SQS fair queue, which needs no setting.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.access import grant_consume
from stacks.messaging import dead_lettered_queue
from stacks.security import SEND_KEY, Security

# The drainer holds the whole backlog in flight and hands it back at every 15-minute handoff, so a
# message is received once per handoff: 60 receives is 14 hours of backlog, more than SQS's 12-hour
# maximum visibility. Only repeated transient failures or crashes should reach the DLQ.
OUTBOUND_MAX_RECEIVE_COUNT = 60
DRAINER_TIMEOUT = Duration.minutes(15)
DRAINER_SCHEDULE = events.Schedule.rate(Duration.minutes(1))
# The drainer opts out of Lambda's recursive-loop guard (its hand-off chain), so it is capped here
# instead. At most three run at once in normal operation: the life that holds the lease, its
# successor starting while it finishes, and a tick (or, during a deploy, the old version's last life);
# every one but the lease holder returns at once. A fourth is throttled, and Lambda retries a
# throttled asynchronous event by itself. A chain that forked would stay at three, and its invocation
# rate alarms (DRAINER_INVOCATIONS_ALARM).
DRAINER_CONCURRENCY = 3
# Invocations per 5 minutes: five ticks and at most one hand-off (or a restart) in normal operation.
DRAINER_INVOCATIONS_ALARM = 15
# SQS's maximum: a message waits in the queue as long as a backlog may need, and the ledger's 15-day
# TTL outlives it, so a redelivery always finds its ledger record.
RETENTION = Duration.days(14)


def _event_invoke_config(function: lambda_.Function) -> lambda_.CfnEventInvokeConfig:
    """The L1 of the asynchronous-invocation settings the function was built with (``retry_attempts``)."""
    for child in function.node.children:
        if isinstance(child, lambda_.EventInvokeConfig):
            config = child.node.default_child
            assert isinstance(config, lambda_.CfnEventInvokeConfig)
            return config
    raise ValueError(f"{function.node.path} has no asynchronous invocation settings to add a destination to")


class Outbound(Construct):
    """The outbound queue of the stack's origination identity, its DLQ, and the drainer's schedule.

    ``environment`` goes to every function (Settings reads it at cold start); ``grant_enqueue`` is for
    producers, ``drive`` makes a function the queue's drainer.
    """

    def __init__(self, scope: Construct, construct_id: str, *, security: Security, identity: str, mps: float) -> None:
        super().__init__(scope, construct_id)
        self.identity = identity
        self.mps = mps
        self.security = security
        # A message received without an explicit visibility stays hidden for the drainer's whole life.
        self.queue, self.dlq = dead_lettered_queue(
            self,
            "Outbound",
            security,
            visibility=DRAINER_TIMEOUT,
            max_receive_count=OUTBOUND_MAX_RECEIVE_COUNT,
            retention=RETENTION,
        )
        self.schedule: events.Rule | None = None
        self.drainer: lambda_.Function | None = None

    @property
    def environment(self) -> dict[str, str]:
        return {"OUTBOUND_QUEUE_URL": self.queue.queue_url, "SMS_MPS": f"{self.mps:g}"}

    def grant_enqueue(self, producer: iam.IGrantable) -> None:
        """sqs:SendMessage on this queue only, with the data key through SQS."""
        self.queue.grant(producer, "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        self.security.grant_data_key(producer, "sqs", SEND_KEY)

    @staticmethod
    def _restart_on_failure(drainer: lambda_.Function) -> None:
        """A drainer life that fails (exception, timeout, sandbox killed) is followed at once by
        another: its on-failure destination is its own function (issue 19). The new life reads the
        invocation record and takes over the dead one's lease (at once: the record names the invocation
        that holds it), instead of leaving the queue to the next tick. The role already may invoke its
        own function (the hand-off's policy); the destination's ARN is set on the L1, because the
        L2's ``LambdaDestination`` would grant it again in the default policy, which the function
        depends on (a cycle)."""
        config = _event_invoke_config(drainer)
        config.destination_config = lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
            on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=drainer.function_arn)
        )

    def drive(self, drainer: lambda_.Function) -> None:
        """Receive/delete/change visibility on the queue, a tick every minute that restarts the
        drainer if none holds the lease (a tick that finds it held exits at once), and the cap on
        concurrent drainers (``DRAINER_CONCURRENCY``)."""
        grant_consume(drainer, self.queue, self.security)
        self.drainer = drainer
        # The L2 takes reserved concurrency only when it builds the function; the L1 property is the same.
        function = drainer.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.reserved_concurrent_executions = DRAINER_CONCURRENCY
        self._restart_on_failure(drainer)
        self.schedule = events.Rule(
            self,
            "DrainerSchedule",
            description="Text311: start the outbound SMS drainer if none is running",
            schedule=DRAINER_SCHEDULE,
            targets=[
                # A late or failed tick is worthless: the next one comes a minute later.
                targets.LambdaFunction(drainer, retry_attempts=0, max_event_age=Duration.minutes(1))
            ],
        )
