"""The number's own answers to keywords, locally: what End User Messaging does before any function runs.

In AWS the phone number holds its keywords (``stacks/keywords.py``, set by ``stacks/messaging.py``):
a text that begins with one gets the keyword's answer from the number itself, an opt-out keyword
puts the sender on the opt-out list (sends to it are then refused with ``ConflictException``
``DESTINATION_PHONE_NUMBER_OPTED_OUT``), an opt-in keyword takes it off; the text still reaches the
two-way topic with ``messageKeyword`` set. ``LocalNumber`` does the same with the same table, so the
functions run with ``ANSWER_KEYWORDS=false`` here as they do in AWS.
"""

from __future__ import annotations

import uuid

from localrun.sms_sink import PhoneLog
from stacks.keywords import NumberKeyword, number_keywords
from text311.i18n import fold

# Trimmed from the first word before matching, as the core does (text311.keywords).
_PUNCTUATION = ".!?,;:"


class LocalNumber:
    def __init__(self, support_contact: str, phones: PhoneLog, opted_out: set[str]) -> None:
        # Keyed by the folded word: "ARRÊT", "arret" and "Arret." are the number's ARRET.
        self.keywords = {fold(k.keyword): k for k in number_keywords(support_contact)}
        self.phones = phones
        self.opted_out = opted_out  # the opt-out list: the SMS sink refuses these numbers

    def keyword_of(self, body: str) -> NumberKeyword | None:
        """The keyword the text begins with, if the number has it."""
        first = body.strip().split(maxsplit=1)
        return self.keywords.get(fold(first[0]).strip(_PUNCTUATION)) if first else None

    def receive(self, origination: str, body: str) -> str | None:
        """Act on a keyword text as the number does (once per text); return the keyword matched."""
        keyword = self.keyword_of(body)
        if keyword is None:
            return None
        if keyword.action == "OPT_OUT":
            self.opted_out.add(origination)
        elif keyword.action == "OPT_IN":
            self.opted_out.discard(origination)
        # The number answers even a number it has just opted out: the confirmation is the last text.
        self.phones.record(origination, "out", keyword.message, str(uuid.uuid4()))
        return keyword.keyword
