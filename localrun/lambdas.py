"""The deployed Lambda handlers, imported from ``functions/<name>/handler.py`` and invoked in-process."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from localrun.events import ACCOUNT

Handler = Callable[[dict, Any], Any]

# The bus's worker and the console's HTTP threads both invoke functions; stdout is swapped per call.
_INVOKE = threading.Lock()


@dataclass
class LambdaContext:
    """What Powertools reads from Lambda's context object (``inject_lambda_context``, idempotency)."""

    function_name: str
    invoked_function_arn: str
    timeout_seconds: int
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def end_now(self) -> None:
        """As if the timeout were reached: a handler that watches its remaining time winds down."""
        self._deadline = time.monotonic()


@dataclass(frozen=True)
class Function:
    """One function as the stack deploys it: its folder's handler and its timeout."""

    name: str
    region: str
    timeout_seconds: int
    handler: Handler
    # Where the function's stdout goes (CloudWatch Logs in AWS): Powertools prints its cold-start
    # metric there even with metrics disabled.
    stdout: IO[str] | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:text311-{self.name.replace('_', '-')}"

    def context(self) -> LambdaContext:
        return LambdaContext(function_name=f"text311-{self.name.replace('_', '-')}",
                             invoked_function_arn=self.arn, timeout_seconds=self.timeout_seconds)

    def invoke(self, event: dict) -> Any:
        context = self.context()
        # Only the bus's worker thread invokes functions, and nothing else prints to stdout once the
        # run has started, so swapping sys.stdout for the call is safe.
        with _INVOKE, contextlib.redirect_stdout(self.stdout or sys.stdout):
            return self.handler(event, context)

    def invoke_alongside(self, event: dict, context: LambdaContext) -> Any:
        """Run beside the bus's invocations, as another Lambda container would (the outbound drainer
        lives for minutes; holding the invocation lock that long would stop every other function).
        Its stdout is not swapped: that swap is process-wide and only safe one call at a time."""
        return self.handler(event, context)


def load_function(name: str, region: str, timeout_seconds: int, stdout: IO[str] | None = None) -> Function:
    """Import ``functions/<name>/handler.py`` (the file the stack bundles) and take its entry point."""
    module = importlib.import_module(f"functions.{name}.handler")
    return Function(name, region, timeout_seconds, module.lambda_handler, stdout)
