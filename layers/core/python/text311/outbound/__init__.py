"""One paced outbound path for every SMS Text311 sends (issue 12). See docs/outbound.md.

Producers build an :class:`OutboundMessage` and put it on the identity's queue; one
:class:`OutboundScheduler` per identity drains it at the identity's MPS, urgent first, cities in
fair shares, each message id sent at most once.
"""

from text311.outbound.errors import Classified, FailureReason, Outcome, classify
from text311.outbound.fair_queue import FairQueue
from text311.outbound.ledger import DynamoDbLedger, InMemoryLedger, LedgerEntry, LedgerState, SentLedger
from text311.outbound.message import NO_CITY, PRIORITY_OF, Kind, OutboundMessage, Priority
from text311.outbound.pacing import Aimd, Clock, FakeClock, MpsLimit, Pacer, SystemClock
from text311.outbound.parts import count_parts
from text311.outbound.scheduler import (
    InMemorySource,
    MessageSource,
    OutboundScheduler,
    QueueStatus,
    Sender,
    SendStatus,
    StepResult,
    about_minutes,
)

__all__ = [
    "NO_CITY", "PRIORITY_OF", "Aimd", "Classified", "Clock", "DynamoDbLedger", "FailureReason", "FairQueue",
    "FakeClock", "InMemoryLedger", "InMemorySource", "Kind", "LedgerEntry", "LedgerState", "MessageSource",
    "MpsLimit", "Outcome", "OutboundMessage", "OutboundScheduler", "Pacer", "Priority", "QueueStatus",
    "SendStatus", "Sender", "SentLedger", "StepResult", "SystemClock", "about_minutes", "classify",
    "count_parts",
]
