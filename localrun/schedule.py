"""EventBridge's schedule rules, locally: a thread that invokes a function with a ``Scheduled Event``
(the shape of tests/events/eventbridge_scheduled.json) every ``period`` seconds until stopped."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localrun.schedule")


def scheduled_event(rule_arn: str, region: str, at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class ScheduleLoop:
    def __init__(self, function: Any, rule_name: str, period_seconds: float) -> None:
        self.function, self.period = function, period_seconds
        self.rule_arn = f"arn:aws:events:{function.region}:123456789012:rule/{rule_name}"
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{rule_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop_taking_work(self) -> None:
        self._stop.set()

    def wait_stopped(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.function.invoke(scheduled_event(self.rule_arn, self.function.region, datetime.now(UTC)))
                self.ticks += 1
            except Exception:  # noqa: BLE001 - as EventBridge with no retries: the next tick checks again
                log.exception("%s failed; the next tick checks again", self.function.name)
