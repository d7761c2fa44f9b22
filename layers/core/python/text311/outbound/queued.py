"""What producers send through: an SMS put on the identity's queue, sent later by the drainer.

Same ``send(destination, body, *, idempotency_key, context)`` as the direct sender, so the
producers' code keeps its shape. The producer's idempotency key becomes the message id: the same
inbound text or answer delivered twice enqueues the same id, and the drainer's ledger sends it once.

``context`` may carry two entries for the queue rather than for End User Messaging: ``kind`` (a
:class:`~text311.outbound.message.Kind`, default ``dialog``) and ``city`` (a GeoNames id). They are
taken out; the rest travels with the SMS and comes back in its delivery events.

Each message goes with its city as its ``MessageGroupId`` (:func:`queue_entry`), which makes the
standard queue an SQS *fair queue*: once a city has more than a tenth of the messages in flight and
at least 30 of them (a flood: the drainer holds a backlog in flight), SQS hands out the other
cities' messages first whenever there are any ("How Amazon SQS fair queues work", Amazon SQS
Developer Guide). Without it a small city's answer that arrives while a burst of thousands is being
read waits behind the burst on the queue itself, where the drainer's fair shares cannot see it
(issue 19: up to a second at 100 MPS, 94 flood parts). Nothing changes for the drainer or the queue's
settings: a standard queue with message groups is a fair queue.

What can be known now fails now: a body too long for SMS (``ReplyTooLong``) or blank raises before
anything is queued, and the country guard stands in front of this sender (services.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from text311.outbound.message import Kind, OutboundMessage, Priority
from text311.outbound.scheduler import about_minutes

STATUS_FRESH = 120.0  # seconds: an older status item means no drainer is running to describe the queue


@dataclass(frozen=True)
class Queued:
    message_id: str
    parts: int
    wait_minutes: int | None  # "queued, about N minutes"; None when a minute or less (or not asked)
    queued: bool = True
    message_ids: list[str] = field(default_factory=list)  # SMS ids are known only once the drainer sends


class StatusReader(Protocol):
    """Reads the drainer's status item (``text311.outbound.lease.StatusBoard.read``)."""

    def read(self, fresh_within: float) -> Mapping[str, Any] | None: ...


@dataclass
class QueuedSmsSender:
    sqs: Any
    queue_url: str
    identity: str
    split: Callable[[str], list[str]]  # raises for a body the drainer could never send
    clock: Callable[[], float]  # wall clock: ``enqueued_at``, for the wait metric
    status: StatusReader
    mps: float
    # Kinds whose sender is told the wait (an agent's answer); the others skip the status read.
    tell_wait: frozenset[Kind] = frozenset({Kind.AGENT})
    # The number as the queue carries it: KMS-sealed by the phone vault (services.py), so the queue,
    # its DLQ and any log of a request hold no plain number; the drainer unseals it to send.
    seal: Callable[[str], str] = lambda number: number

    def send(self, destination: str, body: str, *, idempotency_key: str,
             context: Mapping[str, str] | None = None) -> Queued:
        rest = dict(context or {})
        kind = Kind(rest.pop("kind", Kind.DIALOG))
        city = rest.pop("city", None) or _city_of(rest.get("conversation"))
        parts = len(self.split(body))
        message = OutboundMessage.create(
            id=idempotency_key, identity=self.identity, city=int(city) if city else None, kind=kind,
            destination=self.seal(destination), body=body, enqueued_at=self.clock(), context=rest,
            count=lambda _: parts,
        )
        self.sqs.send_message(QueueUrl=self.queue_url, **queue_entry(message))
        wait = self._wait_seconds(message) if kind in self.tell_wait else None
        return Queued(message_id=message.id, parts=parts, wait_minutes=None if wait is None else about_minutes(wait))

    def _wait_seconds(self, message: OutboundMessage) -> float:
        """Until this message's last part is on the line: what is ahead of its class (the drainer's
        last status) plus its own parts, at the drainer's pace (the configured MPS with no status)."""
        status = self.status.read(STATUS_FRESH)
        ahead, rate = 0.0, self.mps
        if status:
            ahead = float(status.get("wait_by_priority", {}).get(Priority(message.priority).name, 0.0))
            rate = float(status.get("rate") or self.mps)
        return ahead + message.parts / max(rate, 1e-6)


def queue_entry(message: OutboundMessage) -> dict[str, str]:
    """SendMessage's arguments for ``message`` besides the queue: its body, and its tenant (its city)
    as the message group, which SQS's fair queues share out by (module docstring)."""
    entry = {"MessageBody": message.to_json()}
    if message.tenant is not None:
        entry["MessageGroupId"] = message.tenant
    return entry


def _city_of(conversation_id: str | None) -> int | None:
    """An answer's city, from its conversation id ("<geonameid>-<random>", text311.conversations)."""
    head = (conversation_id or "").partition("-")[0]
    return int(head) if head.isdigit() else None
