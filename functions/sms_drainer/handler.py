"""The outbound SMS drainer of the region's origination identity (docs/outbound.md).

Invoked every minute by a schedule, by its predecessor at hand-off (``{"handoff": true}``), and by
Lambda itself when a life failed (its on-failure destination is this function: the event is the
failed invocation's record, and this life takes the dead one's lease at once: the record names it).
One invocation holds the identity's lease and sends from the queue at the
MPS until shortly before its own timeout, idle or not, then gives back what it holds, drops the lease
and invokes its own function for the next life; any other finds the lease held and returns at once.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.observability import logger, metrics, tracer
from text311.outbound.drainer import failed_invocation, replaces_a_failed_drainer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    report = services.sms_drainer().drain(lambda: context.get_remaining_time_in_millis() / 1000,
                                          wait_for_lease=replaces_a_failed_drainer(event),
                                          invocation=context.aws_request_id, replacing=failed_invocation(event))
    return asdict(report)


handler = lambda_handler  # the name the outbound contract gives it; the stacks' builder uses lambda_handler
