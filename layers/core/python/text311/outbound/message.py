"""One outbound SMS as it waits in an identity's queue.

Every SMS Text311 sends goes through here: the producer (a handler) builds an
:class:`OutboundMessage` with :meth:`OutboundMessage.create` and puts :meth:`to_json` on the
identity's queue; the drainer reads it back with :meth:`from_json`.

**Versions side by side.** During a deploy an old drainer runs for up to 15 minutes beside new
producers (and a new drainer beside messages old producers queued). The body therefore carries its
schema version ``v`` (:data:`SCHEMA_VERSION`; a body without one is version 1, and version 1 is
written without it, because the drainer from before versions refuses any field it does not know),
and :meth:`from_json` ignores fields it does not know: a producer may add a field without a new
version, and an old drainer still sends the message. A change an old drainer cannot
read (a field it would need, a new ``kind``) raises the version; :meth:`from_json` then raises
:class:`NewerSchema`, and the source gives the message back for a newer drainer instead of dropping it
(``sqs_source.py``).

Priority classes (strict between classes, fair between cities within one):

- ``URGENT`` (0): keyword confirmations (STOP/ARRÊT, HELP/AIDE, START) and emergency notices
  ("not for emergencies, call 911"). Compliance and safety: they go before anything queued.
- ``ANSWER`` (1): agent answers (email and console) *and* dialog answers ("which city?"). Both
  answer a resident who is waiting. Dialog answers are not put below agent answers: until the
  resident picks a city their report does not reach any city, so delaying the dialog delays the
  whole chain; they are short (one part) and bounded by inbound traffic. Not above either: an
  inbound flood must not starve agents. Before a city is chosen a dialog answer has no city, so it
  is queued under :data:`NO_CITY`, which gets its fair share like one more city.
- ``NOTICE`` (2): delivery-failure notices and other texts nobody is waiting on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import IntEnum, StrEnum
from typing import Any

from text311.outbound.parts import count_parts

NO_CITY = 0  # a dialog answer before the resident has chosen a city: its own fairness bucket
SCHEMA_VERSION = 1  # raise it only for a change an older drainer cannot read (see the docstring)


class NewerSchema(ValueError):
    """A body written by a newer producer than this drainer can read: give it back, do not drop it."""

    def __init__(self, version: object) -> None:
        super().__init__(f"outbound message schema {version!r} is newer than {SCHEMA_VERSION}")
        self.version = version


class Priority(IntEnum):
    URGENT = 0
    ANSWER = 1
    NOTICE = 2


class Kind(StrEnum):
    """What the producer is sending; the priority follows from it (one table, below)."""

    KEYWORD = "keyword"
    EMERGENCY = "emergency"
    AGENT = "agent"
    DIALOG = "dialog"
    FAILURE_NOTICE = "failure_notice"


PRIORITY_OF: Mapping[Kind, Priority] = {
    Kind.KEYWORD: Priority.URGENT,
    Kind.EMERGENCY: Priority.URGENT,
    Kind.AGENT: Priority.ANSWER,
    Kind.DIALOG: Priority.ANSWER,
    Kind.FAILURE_NOTICE: Priority.NOTICE,
}


@dataclass(frozen=True)
class OutboundMessage:
    """``id`` is the idempotency key: the same logical SMS always has the same id (the SES
    message id of an agent's answer, ``<inbound id>:r<n>`` for a dialog answer), so a redelivery
    or a retry of the producer is recognised by the ledger and sent once."""

    id: str
    identity: str  # origination identity (phone number, pool or its ARN): one queue and one pace each
    city: int  # GeoNames id of the subscriber, or NO_CITY
    kind: Kind
    destination: str  # E.164, or whatever the drainer's ``destination`` resolver turns into one
    body: str
    parts: int
    enqueued_at: float  # epoch seconds (wall clock), for the wait metric
    context: Mapping[str, str] = field(default_factory=dict)  # returned by End User Messaging in events
    receipt: Any = field(default=None, compare=False, repr=False)  # the queue's handle; never serialised

    @property
    def priority(self) -> Priority:
        return PRIORITY_OF[self.kind]

    @property
    def tenant(self) -> str | None:
        """The queue's ``MessageGroupId`` for this message (SQS fair queues, queued.py): its city, the
        drainer's unit of fairness too; None without a city, and SQS then counts the message as a tenant
        of its own (a STOP's confirmation)."""
        return None if self.city == NO_CITY else str(self.city)

    @classmethod
    def create(
        cls,
        *,
        id: str,
        identity: str,
        city: int | None,
        kind: Kind | str,
        destination: str,
        body: str,
        enqueued_at: float,
        context: Mapping[str, str] | None = None,
        count: Callable[[str], int] = count_parts,
    ) -> OutboundMessage:
        if not id:
            raise ValueError("an outbound message needs an idempotency key")
        return cls(
            id=id,
            identity=identity,
            city=int(city) if city else NO_CITY,
            kind=Kind(kind),
            destination=destination,
            body=body,
            parts=max(1, count(body)),
            enqueued_at=enqueued_at,
            context=dict(context or {}),
        )

    def with_receipt(self, receipt: Any) -> OutboundMessage:
        return replace(self, receipt=receipt)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("receipt")
        data["kind"] = self.kind.value
        # Version 1 is written without ``v``: the drainer before versions builds the message from every
        # field and would refuse (and, being older, drop) a body with one it does not know.
        versioned = data if SCHEMA_VERSION == 1 else {"v": SCHEMA_VERSION, **data}
        return json.dumps(versioned, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, receipt: Any = None) -> OutboundMessage:
        """The message in ``text``; :class:`NewerSchema` for a version above ours, ``ValueError``,
        ``TypeError`` or ``KeyError`` for a body no version of the drainer can read."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"an outbound message is a JSON object, not {type(data).__name__}")
        version = data.pop("v", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise NewerSchema(version)
        known = {f.name for f in fields(cls)} - {"receipt"}
        data = {name: value for name, value in data.items() if name in known}  # a newer producer's extras
        data["kind"] = Kind(data["kind"])
        data["context"] = dict(data.get("context") or {})
        return cls(**data, receipt=receipt)
