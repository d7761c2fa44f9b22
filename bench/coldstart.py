"""Handler cold start (issue 9): import time of each Lambda handler beside a bare ``import boto3``.

    .venv/bin/python bench/coldstart.py [--repeat N] [--root DIR]

Every figure is one import in a fresh interpreter (``python -c``, the clock started just before the
import, so interpreter start-up is left out), in the environment Lambda gives a function (its task
root and name set, so Powertools' Tracer is on, as in AWS), repeated ``--repeat`` times; the runs of
all modules are interleaved, so a busy machine slows them alike; medians. ``--root`` measures
another checkout of the repository (e.g. ``git archive HEAD | tar -x -C /tmp/before``) with this venv.

Lazy imports move work, they do not always remove it: ``first event`` is the import followed by
what that handler's first record loads (its envelope models, the core service, the settings model,
and Powertools' Tracer with the X-Ray SDK) and, for inbound_sms, the language model and word lists
its first text loads, i.e. the cost of a whole cold start before any AWS call.
Target: import ≤ 1.5 × bare boto3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5
BASELINE = "boto3"

# What a handler's first event imports beyond the handler module (lazy since issue 9).
FIRST_EVENT: dict[str, tuple[str, ...]] = {
    "functions.inbound_sms.handler": (
        "aws_lambda_powertools.utilities.parser.models", "text311.events", "text311.settings", "text311.inbound",
    ),
    "functions.inbound_email.handler": ("text311.settings", "text311.answers", "text311.replies"),
    "functions.delivery_status.handler": ("text311.settings", "text311.delivery"),
    "functions.mail_events.handler": (
        "aws_lambda_powertools.utilities.parser.models", "text311.events", "text311.settings",
        "text311.mail_confirmations", "text311.conversations",
    ),
    # Any route's caller check reads the city's roster (text311.subscribers); the settings and requests
    # routes import their services on their own first call.
    "functions.console_api.handler": ("text311.settings", "text311.console", "text311.auth", "text311.subscribers"),
    "functions.open311_api.handler": (
        "text311.settings", "text311.open311.compose", "text311.subscribers", "text311.service_requests",
    ),
}

# What a handler's first record runs beyond its imports, where that is the larger cost: inbound_sms
# detects the text's language (py3langid's model) and reads the place and category of a text (the
# English and French word lists), once per container.
FIRST_EVENT_RUNS: dict[str, str] = {
    "functions.inbound_sms.handler": (
        "from text311 import language, ordinary_words;language.model();"
        "ordinary_words.known('pothole', ('en', 'fr'));"
    ),
}

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "ca-central-1",
    "AWS_REGION": "ca-central-1",
    "POWERTOOLS_SERVICE_NAME": "text311",
    "POWERTOOLS_METRICS_NAMESPACE": "Text311",
}


def handlers(root: Path) -> list[str]:
    return sorted(f"functions.{p.parent.name}.handler" for p in (root / "functions").glob("*/handler.py"))


def child_code(module: str, then: tuple[str, ...]) -> str:
    after = "".join(f"import {m};" for m in then)
    if then:
        # The Tracer the first event builds: our lazy one's (Powertools' own was built at import before).
        after += "from text311 import observability as o;t = getattr(o.tracer, 'real', o.tracer);"
        after += FIRST_EVENT_RUNS.get(module, "")
    return (
        "import time;t0=time.perf_counter();"
        f"import {module};{after}"
        "print((time.perf_counter()-t0)*1000)"
    )


def measure_once(root: Path, code: str) -> float:
    env = {**os.environ, **ENVIRONMENT,
           "PYTHONPATH": os.pathsep.join([str(root), str(root / "layers" / "core" / "python")]),
           "PYTHONDONTWRITEBYTECODE": "1",
           # What Lambda sets: Powertools' Tracer is on, as in AWS.
           "LAMBDA_TASK_ROOT": str(root), "AWS_LAMBDA_FUNCTION_NAME": "text311-bench"}
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    modules = handlers(root)
    jobs = {("import", BASELINE): child_code(BASELINE, ())}
    for module in modules:
        jobs[("import", module)] = child_code(module, ())
        if module in FIRST_EVENT:
            jobs[("first event", module)] = child_code(module, FIRST_EVENT[module])
    # Compile once so that no run pays for writing .pyc files.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "functions"),
                    str(root / "layers" / "core" / "python")], check=False, capture_output=True)
    times: dict[tuple[str, str], list[float]] = {job: [] for job in jobs}
    for _ in range(args.repeat):
        for job, code in jobs.items():
            times[job].append(measure_once(root, code))
    median = {job: statistics.median(values) for job, values in times.items()}
    base = median[("import", BASELINE)]
    print(f"{args.repeat} fresh interpreters per figure, interleaved; medians in ms; root {root}\n")
    header = ("module", "import ms", "× boto3", "first event ms", "× boto3 ")
    rows = [(f"import {BASELINE} (baseline)", f"{base:.0f}", "1.00", "", "")]
    worst = 0.0
    for module in modules:
        ratio = median[("import", module)] / base
        worst = max(worst, ratio)
        first = median.get(("first event", module))
        rows.append((module, f"{median[('import', module)]:.0f}", f"{ratio:.2f}",
                     f"{first:.0f}" if first else "", f"{first / base:.2f}" if first else ""))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for index, row in enumerate((header, *rows)):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("-+-".join("-" * w for w in widths))
    verdict = "met" if worst <= TARGET else "NOT MET"
    print(f"\ntarget: every handler's import ≤ {TARGET} × bare boto3: {verdict} (worst {worst:.2f})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
