"""Satisfaction: one survey text after an agent closes a conversation, and the resident's 1-5 reply.

The survey goes out from the console's close (``ConsoleService.set_status``); the reply is caught
by the inbound path before the dialog (``InboundSmsService``), recorded on the conversation against
its agent, and never forwarded. See docs/contact-centre.md.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from text311.observability import NAMESPACE

# A score alone: one digit 1 to 5, spaces and a closing mark allowed ("5!", " 4 ", "3.").
_SCORE = re.compile(r"^\s*([1-5])\s*[.!)]*\s*$")


def parse_score(text: str) -> int | None:
    """The score a reply gives, or None for anything else (words, 0, 6, 10, a sentence)."""
    found = _SCORE.match(text)
    return int(found.group(1)) if found else None


def survey_key(conversation_id: str) -> str:
    """The survey SMS's idempotency key: one survey a conversation, however often it is closed."""
    return f"{conversation_id}:survey"


def record_score_metric(city_id: int, score: int) -> None:
    """``SurveyScore`` per city (geonameid): its average is the city's satisfaction."""
    with single_metric(name="SurveyScore", unit=MetricUnit.Count, value=score, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="city", value=str(city_id))
