"""Translation both ways through `make run`: a Spanish-speaking resident reaches an English-speaking city
that turned translation on; the agent answers in English by email; the resident receives Spanish. The
local run translates with the demo's phrasebook (TRANSLATOR=local-phrasebook), which knows only the
demo's phrases: the texts below are among them."""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import sys
import uuid
from email.message import EmailMessage

import pytest
from conftest import ROOT, LocalRun, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SASKATOON = 6141256  # GeoNames: Saskatoon, SK; a city no other end-to-end test uses, added here
CITY_MAIL = "311@saskatoon.example"
AGENT = "agent@saskatoon.example"
TEXT311 = [sys.executable, "-c", "import sys; from text311.cli import main; sys.exit(main())"]
REPORT = "Hay un bache enorme frente a mi casa."
ANSWER = "Thank you for your report. A crew will be at 1200 Princess Street at 10:30. Your reference is SAS-1042."
SPANISH = (
    "[local phrasebook] Gracias por su reporte. Un equipo estará en 1200 Princess Street a las 10:30. "
    "Su referencia es SAS-1042."
)


def text311(run: LocalRun, *args: str) -> None:
    """A `text311` command against the local run, in the environment `make run` writes to DATA_DIR/env."""
    env = dict(os.environ)
    for line in (run.data_dir / "env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    done = subprocess.run(
        [*TEXT311, *args, "--endpoint-url", f"http://127.0.0.1:{run.aws_port}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_spanish_speaking_resident_and_an_english_speaking_city_read_each_other(local_run, new_phone):
    # given an English-speaking city that turned translation on before its first text
    text311(
        local_run,
        "municipality",
        "add",
        str(SASKATOON),
        "--email",
        CITY_MAIL,
        "--agents",
        "@saskatoon.example",
        "--language",
        "en",
    )
    text311(local_run, "municipality", "translate", str(SASKATOON), "on")

    # when a resident writes in Spanish and names the city
    phone = new_phone("306")
    local_run.exchange(phone, REPORT)
    local_run.exchange(phone, "Saskatoon")

    # then the city's mail holds the resident's words and a marked machine translation into English
    [mail] = wait_for(lambda: local_run.mails(CITY_MAIL, "Hay un bache"), what="Saskatoon's first mail")
    assert REPORT in mail["text"]
    assert "Machine translation (local phrasebook, not a real translation), from Español:" in mail["text"]
    assert "[local phrasebook] There is a huge pothole in front of my house." in mail["text"]

    # when the agent answers in English by email
    before = len(local_run.answers(phone))
    answer = EmailMessage()
    answer["From"] = f"Agent <{AGENT}>"
    answer["To"] = mail["reply_to"]
    answer["Subject"] = f"RE: {mail['subject']}"
    answer["Message-ID"] = f"<{uuid.uuid4()}@saskatoon.example>"
    answer["In-Reply-To"] = mail["message_id"]
    quoted = "\n".join("> " + line for line in mail["text"].splitlines())
    answer.set_content(f"{ANSWER}\n\nOn Thu, Nov 26, 2026 at 3:41 PM Text311 <notify@text311.test> wrote:\n{quoted}\n")
    with smtplib.SMTP("127.0.0.1", local_run.smtp_port, timeout=10) as smtp:
        smtp.send_message(answer)

    # then the resident receives it in Spanish, its address, time and reference unchanged (in numbered parts)
    def received() -> str:
        return " ".join(re.sub(r"^\d+/\d+ ", "", part) for part in local_run.answers(phone)[before:])

    wait_for(lambda: "SAS-1042" in received(), what="the Spanish answer's last part")
    assert received() == SPANISH
