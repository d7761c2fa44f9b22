"""The names of our SES receipt rule set and receipt rule, one place for the stack and the operators' tools.

Both carry the SMS region's name: several SMS regions may receive agents' answers in the same
receiving region (their mail stacks side by side), and each must own a distinct set, or add a
distinct rule to a shared set (``receipt_rule_set: {mode: existing}``). ``stacks/email.py`` creates
them, ``stacks/config.py`` refuses a real clash, ``text311 doctor`` looks for them.
"""

from __future__ import annotations


def default_rule_set_name(region: str) -> str:
    """The set a deployment creates and activates when config names none (``create_and_activate``)."""
    return f"text311-{region}"


def rule_name(region: str) -> str:
    """Our rule in whichever set holds it: the agents' answers for ``region``."""
    return f"agent-answers-{region}"
