"""The outbound SMS drainer, locally: ``functions/sms_drainer/handler.py`` invoked again and again.

In AWS an EventBridge rule starts the drainer every minute and each life ends before the 15-minute
Lambda limit (docs/outbound.md). Here one thread plays both: it invokes the same handler with a short
Lambda context, so a life ends after ``life_seconds`` minus the drainer's stop margin and the next one
takes over, and the handoff (held messages given back to the queue, lease dropped) happens in the
demo too.
"""

from __future__ import annotations

import logging
import threading

from localrun.lambdas import Function, LambdaContext

log = logging.getLogger("localrun.drainer")

# A life as the handler sees it. The drainer stops taking messages 45 s before its end
# (Drainer.stop_margin), so each life sends for about 30 s, then hands over.
LIFE_SECONDS = 75
# After a life that found the lease held or failed: what the one-minute schedule stands for, shorter.
RETRY_SECONDS = 1.0


class DrainerLoop:
    def __init__(self, function: Function, life_seconds: int = LIFE_SECONDS) -> None:
        self.function = Function(function.name, function.region, life_seconds, function.handler, function.stdout)
        self.lives = 0  # invocations that held the lease (shown by /sim/status)
        self._stop = threading.Event()
        self._context: LambdaContext | None = None
        self._thread = threading.Thread(target=self._run, name="sms-drainer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop_taking_work(self) -> None:
        """Ask the current life to end (its remaining time drops to zero) and start no other."""
        self._stop.set()
        if self._context is not None:
            self._context.end_now()

    def wait_stopped(self, timeout: float) -> bool:
        """Whether the life ended within ``timeout``. A life blocked in a long poll or a send ends when
        that call does; if it has not, it is abandoned (a daemon thread), as a Lambda cut short: the
        messages it held become visible again on the queue."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._context = context = self.function.context()
            try:
                report = self.function.invoke_alongside({"nudge": True}, context)
            except Exception:  # noqa: BLE001 - as Lambda: a failed life is followed by the next one
                if not self._stop.is_set():
                    log.exception("sms_drainer failed; starting another")
                self._stop.wait(RETRY_SECONDS)
                continue
            held = report.get("lease_held", True) if isinstance(report, dict) else getattr(report, "lease_held", True)
            if not held:  # a previous life's lease has not expired yet (it died holding it)
                self._stop.wait(RETRY_SECONDS)
                continue
            self.lives += 1
