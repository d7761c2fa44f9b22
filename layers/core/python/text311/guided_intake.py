"""Guided intake (issue 20, docs/service-requests.md): a city that opts in has Text311 ask a connected
resident once where the problem is, when the first text of a new conversation names no place.

The text reaches the city at once all the same; the question is one SMS, never a step the resident
must answer: a "SKIP" or no reply at all blocks nothing (the reply is the resident's next text).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from text311.adapters.dynamodb import ConversationModel
from text311.location import find_location
from text311.observability import logger


def names_a_place(text: str) -> bool:
    """Whether the text gives a place: a shared point, an address or an intersection. Read from the text
    alone (no geocoder): an address the geocoder would not find is still the resident's answer."""
    try:
        return find_location(text) is not None
    except Exception as exc:  # noqa: BLE001 - unreadable: no question rather than a wrong one
        logger.warning("location not read for guided intake", extra={"error": type(exc).__name__})
        return True


def asks_where(subscriber: Any, event: str, urgent: bool, forwards: tuple[str, ...]) -> bool:
    """Whether the first text of a new conversation gets the question: the city opted in, the text is an
    ordinary text of a connected resident (not a keyword, not an emergency: the 911 notice goes instead)
    and it names no place."""
    if not getattr(subscriber, "guided_intake", False) or event != "forwarded" or urgent:
        return False
    return len(forwards) == 1 and not names_a_place(forwards[0])


def claim_question(conversation: ConversationModel, at: datetime) -> bool:
    """Note on the conversation that its resident is asked, in one conditional write: False (nothing
    written) when it was noted before, so a redelivered or concurrent text never asks twice."""
    model = ConversationModel
    try:
        conversation.update(
            actions=[model.location_asked_at.set(at)],
            condition=model.location_asked_at.does_not_exist(),
            add_version_condition=False,  # a text mailed meanwhile must not cost the note
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True
