"""The console's strings for what an answer can become: every status readable, in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "console"
# What a message record can hold (answers.py, delivery.py; a text's mail: mail_feedback.py), each
# shown as delivery_<status>.
STATUSES = ("pending", "emailed", "queued", "sent", "in_doubt", "failed", "delivered", "undelivered",
            "bounced", "complained", "delayed")


def strings(language: str) -> dict[str, str]:
    return json.loads((CONSOLE / "i18n" / f"{language}.json").read_text())


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_answer_status_has_a_readable_label(language):
    labels = strings(language)

    missing = [status for status in STATUSES if f"delivery_{status}" not in labels]

    assert missing == []
    assert all("_" not in labels[f"delivery_{status}"] for status in STATUSES)  # words, not keys


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_queued_answer_says_about_how_many_minutes(language):
    labels = strings(language)

    assert "{minutes}" in labels["queuedWait"] and "{minutes}" not in labels["queued"]


def test_the_page_reads_the_wait_from_the_answer_response():
    script = (CONSOLE / "app.js").read_text()

    assert re.search(r'result\.status === "queued"', script)
    assert re.search(r't\("queuedWait", \{ minutes: result\.wait_minutes \}\)', script)
    assert 'id="answer-outcome"' in (CONSOLE / "index.html").read_text()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_text_the_city_did_not_receive_is_marked_in_the_thread(language):
    # a bounced or complained text carries a badge beside its status, in both languages
    script = (CONSOLE / "app.js").read_text()

    assert re.search(r'NOT_REACHED = new Set\(\["bounced", "complained"\]\)', script)
    assert re.search(r'NOT_REACHED\.has\(m\.status\) \? el\("span", \{ className: "badge not-reached", '
                     r'textContent: t\("cityNotReached"\)', script)
    assert strings(language)["cityNotReached"]
