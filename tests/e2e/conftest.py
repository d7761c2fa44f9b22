"""The real `make run` entry point (scripts/run-local.sh) on free ports, driven through the simulation API.

One local run per test session (all e2e tests share the xdist group "e2e", so one worker runs them);
each test uses its own resident phone numbers, so tests do not see each other's conversations.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# How long a poll may wait before the test fails. A ceiling, not a target: a poll returns as soon as
# its condition holds, so a quiet machine never waits this long, and a loaded one still passes.
# How fast things happen is measured by the benchmarks (bench/), not asserted here.
POLL_CEILING = 60.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], *, timeout: float = POLL_CEILING, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


@dataclass
class Response:
    status: int
    body: Any


@dataclass
class LocalRun:
    process: subprocess.Popen[str]
    base: str
    smtp_port: int
    aws_port: int
    data_dir: Path
    log_path: Path

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=POLL_CEILING) as response:
                return Response(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            return Response(error.code, json.loads(error.read() or b"null"))

    def get(self, path: str) -> Any:
        response = self.request("GET", path)
        assert response.status == 200, (path, response)
        return response.body

    def post(self, path: str, body: Any) -> Any:
        response = self.request("POST", path, body)
        assert response.status == 202, (path, response)
        return response.body

    # -- the resident's side ------------------------------------------------------------------------

    def text(self, phone: str, body: str, message_id: str | None = None, **extra: str) -> str:
        payload = {"from": phone, "body": body, **({"id": message_id} if message_id else {}), **extra}
        return str(self.post("/sim/sms", payload)["id"])

    def phone(self, phone: str) -> list[dict[str, Any]]:
        return list(self.get(f"/sim/phones/{phone}/messages"))

    def answers(self, phone: str) -> list[str]:
        return [m["body"] for m in self.phone(phone) if m["direction"] == "out"]

    def next_answer(self, phone: str, before: int) -> str:
        answers = wait_for(lambda: (a := self.answers(phone))[before:] and a, what=f"an SMS to {phone}")
        return answers[before]

    def exchange(self, phone: str, body: str) -> str:
        """Text ``body``; return every SMS it caused, joined (a long answer comes in numbered parts)."""
        before = len(self.answers(phone))
        self.text(phone, body)
        self.next_answer(phone, before)
        self.idle()
        return "\n".join(self.answers(phone)[before:])

    # -- the city's side ----------------------------------------------------------------------------

    def mails(self, to: str, containing: str) -> list[dict[str, Any]]:
        return [m for m in self.get(f"/sim/mailbox?to={to}") if containing in m["raw"] or containing in m["text"]]

    def idle(self) -> None:
        """Wait until the bus has nothing queued, in flight or waiting for redelivery."""
        wait_for(lambda: self.get("/sim/status")["pending"] == 0, what="the local run to be idle")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the run and wait for its exit status (a hang fails the test after the ceiling)."""
        self.process.send_signal(sig)
        return self.process.wait(POLL_CEILING)


# `make run` as a person types it; -o: the venv is built already (its stamp may be older than a
# requirements file edited since, and a test installs nothing).
MAKE_RUN = ["make", "--no-print-directory", "-o", ".venv/.installed", "run"]


def start_local_run(data_dir: Path, *, via_make: bool = False) -> LocalRun:
    """The local run on free ports: ``scripts/run-local.sh``, or ``make run`` in a process group of its
    own (a terminal's Ctrl-C signals the whole group)."""
    port, smtp_port, aws_port = free_port(), free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "SMTP_PORT": str(smtp_port), "AWS_PORT": str(aws_port),
           "DATA_DIR": str(data_dir)}
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "console.log"
    log = log_path.open("w")
    command = MAKE_RUN if via_make else ["bash", "scripts/run-local.sh"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                               start_new_session=via_make)
    run = LocalRun(process, f"http://127.0.0.1:{port}", smtp_port, aws_port, data_dir, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"make run exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            return run.request("GET", "/sim/config").status == 200
        except OSError:
            return False

    wait_for(ready, what="make run to answer /sim/config")
    return run


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    run = start_local_run(tmp_path_factory.mktemp("local-run"))
    yield run
    if run.process.poll() is None:
        run.stop()


_numbers = itertools.count(1)


@pytest.fixture
def new_phone() -> Callable[[str], str]:
    """A number never used before in this session, in the given area code (613: Kingston, ON);
    555-2xxx, away from the demo phones of config/local.yaml."""

    def make(area_code: str = "613") -> str:
        return f"+1{area_code}555{2000 + next(_numbers):04d}"

    return make
