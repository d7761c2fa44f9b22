"""The number's keywords and what it answers to each: End User Messaging acts on them itself.

One table for the two places that need it, without importing the CDK: the stack sets it on the
phone number (``stacks/messaging.py``), and the local run's stand-in for the number answers with it
(``localrun/number.py``). The words come from the core's language files (AIDE, ARRET, START…).
"""

from __future__ import annotations

from dataclasses import dataclass

from text311.i18n import catalog

# What an opted-out resident hears last. End User Messaging answers
# the mandatory STOP keyword itself, and records the number in the opt-out list.
STOP_MESSAGE = (
    "Text311: you will get no more texts from this number / vous ne recevrez plus de textos. "
    "START to resume / pour reprendre."
)
# Set on the number as its mandatory keywords; every other word is an optional keyword.
MANDATORY_KEYWORDS = frozenset({"HELP", "STOP"})


@dataclass(frozen=True)
class NumberKeyword:
    keyword: str  # upper case, as the number holds it
    action: str  # AUTOMATIC_RESPONSE, OPT_OUT or OPT_IN
    message: str  # what the number answers


def number_keywords(support_contact: str) -> list[NumberKeyword]:
    """Every language's carrier keywords with the number's action and answer, HELP and STOP included. A HELP
    word of one language only (AYUDA, AJUDA, AIUTO, AIDE) is answered in that language's help text; HELP and
    INFO, shared or the default's, in the bilingual one."""
    cat = catalog()
    kinds = cat.keyword_kinds()
    answers = {
        "help": ("AUTOMATIC_RESPONSE", lambda word: cat.keyword_help_text(support_contact, word)),
        "opt_out": ("OPT_OUT", lambda word: STOP_MESSAGE),
        "opt_in": ("OPT_IN", lambda word: cat.message("en", "opted_in")),
    }
    return [
        NumberKeyword(word.upper(), action, answer(word))
        for kind, (action, answer) in answers.items()
        for word in sorted(kinds.get(kind, ()))
    ]
