"""The local run's stand-in for an EventBridge schedule rule: the event it delivers has the documented
shape, and the response-target handler reads the tick's time from it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from localrun.schedule import ScheduleLoop, scheduled_event

SAMPLE = json.loads((Path(__file__).parents[1] / "events" / "eventbridge_scheduled.json").read_text())


class CountingFunction:
    name, region = "response_targets", "ca-central-1"

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.called = threading.Event()

    def invoke(self, event: dict) -> None:
        self.events.append(event)
        self.called.set()


def test_the_local_tick_has_every_field_of_the_documented_scheduled_event():
    event = scheduled_event("arn:aws:events:ca-central-1:123456789012:rule/R", "ca-central-1",
                            datetime(2026, 12, 2, 8, 15, 30, tzinfo=UTC))

    assert set(event) == set(SAMPLE)
    assert (event["detail-type"], event["source"], event["time"]) == ("Scheduled Event", "aws.events",
                                                                       "2026-12-02T08:15:30Z")


def test_the_response_target_handler_checks_as_of_the_local_ticks_time():
    from functions.response_targets.handler import scheduled_at

    at = datetime(2026, 12, 2, 8, 15, 30, tzinfo=UTC)
    assert scheduled_at(scheduled_event("arn:aws:events:ca-central-1:1:rule/R", "ca-central-1", at)) == at


def test_the_loop_invokes_the_function_until_stopped():
    function = CountingFunction()
    loop = ScheduleLoop(function, "ResponseTargetsSchedule", period_seconds=0.01)
    loop.start()
    assert function.called.wait(30)
    loop.stop_taking_work()
    assert loop.wait_stopped(30)
    ticks = len(function.events)
    assert ticks >= 1 and function.events[0]["resources"] == [
        "arn:aws:events:ca-central-1:123456789012:rule/ResponseTargetsSchedule"
    ]
