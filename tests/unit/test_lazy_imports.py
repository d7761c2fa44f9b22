"""Cold start (issue 9): what a handler's import must not load, and the Tracer built only when tracing is on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def modules_after_import(module: str, **env: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/core/python")]), **env}
    out = subprocess.run([sys.executable, "-c", code], env=environment, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("handler", "not_loaded"),
    [
        ("functions.inbound_sms.handler", {"pydantic", "aws_xray_sdk", "text311.answers", "text311.directory",
                                           "rapidfuzz", "aws_lambda_powertools.utilities.parser"}),
        ("functions.inbound_email.handler", {"pydantic", "aws_xray_sdk", "text311.inbound",
                                             "aws_lambda_powertools.utilities.parser"}),
        ("functions.delivery_status.handler", {"pydantic", "aws_xray_sdk", "text311.answers"}),
        ("functions.mail_events.handler", {"pydantic", "aws_xray_sdk", "text311.conversations",
                                           "aws_lambda_powertools.utilities.parser"}),
    ],
)
def test_a_handler_import_leaves_the_first_events_work_to_the_first_event(handler, not_loaded):
    loaded = modules_after_import(handler, LAMBDA_TASK_ROOT=str(ROOT), AWS_LAMBDA_FUNCTION_NAME="f")
    assert not_loaded & loaded == set()


def test_with_tracing_off_no_tracer_is_ever_built(monkeypatch):
    from text311.observability import LazyTracer

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    tracer = LazyTracer("text311")
    handler = tracer.capture_lambda_handler(lambda event, context: {"seen": event})
    assert handler({"a": 1}, None) == {"seen": {"a": 1}}
    assert tracer._tracer is None


def test_with_tracing_on_the_handler_goes_through_powertools_tracer(monkeypatch):
    from text311.observability import LazyTracer

    tracer = LazyTracer("text311")
    wrapped = []

    class FakeTracer:
        def capture_lambda_handler(self, handler, **options):
            wrapped.append(options)
            return lambda event, context: {"traced": handler(event, context)}

    monkeypatch.setattr("text311.observability.Tracer._is_tracer_disabled", staticmethod(lambda: False))
    tracer._tracer = FakeTracer()  # type: ignore[assignment]
    handler = tracer.capture_lambda_handler(capture_response=False)(lambda event, context: event)
    assert handler(1, None) == {"traced": 1} and handler(2, None) == {"traced": 2}
    assert wrapped == [{"capture_response": False}]  # wrapped once, on the first event
