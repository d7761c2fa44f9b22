"""Fault injection and the soak test. ``python -m tests.reliability.soak`` prints the soak's figures."""

import os
import sys
from pathlib import Path

# The shared test modules (harness, aws_events) live in tests/, which pytest puts on sys.path; so does
# this line when the soak runs as ``python -m``. No AWS endpoint is ever reached: fake credentials.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "ca-central-1", "AWS_REGION": "ca-central-1", "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Text311",
}.items():
    os.environ.setdefault(_name, _value)
