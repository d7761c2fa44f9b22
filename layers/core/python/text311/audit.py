"""The audit trail (issue 22, item 5): who changed a conversation or a city's settings, when, and what.

Every console action that changes a conversation (answer, claim, transfer, close, reopen, note,
status) and every operator command that changes a city (``text311 municipality ...``) records one
entry here. Entries live in the audit table (``adapters/audit_table.py``): a city's partition sorted
by time, so a supervisor's date range is one Query, and a thread's history is one Query of the
``by-conversation`` index. An entry holds no resident's number and no message text: the thread
already keeps those, under their own retention and erasure.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pynamodb.exceptions import PutError

from text311.adapters.audit_table import AuditModel


class Action(StrEnum):
    ANSWER = "answer"
    CLAIM = "claim"
    TRANSFER = "transfer"
    CLOSE = "close"
    REOPEN = "reopen"
    NOTE = "note"
    STATUS = "status"
    REQUEST = "request"  # a service request filed (text311.service_requests), or its status changed
    # changes to the city's settings (the operators' CLI, later the supervisors' screens)
    SUBSCRIBE = "settings.subscribe"
    UNSUBSCRIBE = "settings.unsubscribe"
    HOURS = "settings.hours"
    SURVEY = "settings.survey"
    INTAKE = "settings.intake"  # guided intake turned on or off
    SERVICES = "settings.services"
    CANNED = "settings.canned"
    TARGET = "settings.target"
    TRANSLATE = "settings.translate"  # machine translation turned on or off for the city
    OPEN311 = "settings.open311"  # the Open311 api_key rotated, descriptions published or not
    AGENT = "settings.agent"
    DEPARTMENT = "settings.department"


@dataclass(frozen=True)
class AuditEntry:
    city_id: int
    conversation_id: str | None
    actor: str
    action: str
    detail: str
    at: datetime
    entry_id: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "at": self.at.astimezone(UTC).isoformat(),
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "conversation_id": self.conversation_id,
        }


def entry_id_of(action_id: str) -> str:
    """The entry id of an action known by an id of its own (an answer's external id): the same for every
    attempt of it, the length of a new one."""
    return hashlib.sha256(action_id.encode()).hexdigest()[:16]


def _key(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _entry(item: AuditModel) -> AuditEntry:
    return AuditEntry(
        city_id=int(item.city_id),
        conversation_id=item.conversation_id,
        actor=item.actor,
        action=item.action,
        detail=item.detail or "",
        at=item.at,
        entry_id=item.entry_key.partition("#")[2],
    )


class AuditLog:
    """Writes and reads audit entries. ``retention_days``: entries expire (TTL) this long after they
    are written; None keeps them."""

    def __init__(self, retention_days: int | None = None, new_id: Callable[[], str] | None = None) -> None:
        self.retention_days = retention_days
        self.new_id = new_id or (lambda: secrets.token_hex(8))

    def record(
        self,
        city_id: int,
        conversation_id: str | None,
        actor: str,
        action: Action | str,
        detail: str,
        at: datetime,
        entry_id: str | None = None,
    ) -> AuditEntry:
        """One entry. Without ``entry_id`` its id is new, so two entries of the same millisecond are two
        items. With one (``entry_id_of`` an action's own id) and the same ``at``, a retry of the action
        finds its entry written and writes nothing: the entry is recorded once."""
        given = entry_id is not None
        entry_id = entry_id or self.new_id()
        item = AuditModel(
            city_id=int(city_id),
            entry_key=f"{_key(at)}#{entry_id}",
            conversation_id=conversation_id or None,
            actor=actor,
            action=str(action),
            detail=detail,
            at=at,
            expires_at=at + timedelta(days=self.retention_days) if self.retention_days else None,
        )
        try:
            item.save(condition=AuditModel.entry_key.does_not_exist())
        except PutError as exc:
            if not (given and exc.cause_response_code == "ConditionalCheckFailedException"):
                raise
        return _entry(item)

    def entries(self, city_id: int, start: datetime, end: datetime) -> Iterator[AuditEntry]:
        """The city's entries from ``start`` (included) to ``end`` (excluded), oldest first: one Query
        (paged by DynamoDB). ``<end>#…`` sorts after ``<end>``, so BETWEEN leaves ``end`` itself out."""
        condition = AuditModel.entry_key.between(_key(start), _key(end))
        for item in AuditModel.query(int(city_id), condition):
            yield _entry(item)

    def for_conversation(self, city_id: int, conversation_id: str) -> list[AuditEntry]:
        """A conversation's entries, oldest first. The index is keyed by the conversation alone, so the
        city is checked on each entry too: an id of another city's conversation finds nothing."""
        found = AuditModel.by_conversation.query(conversation_id, filter_condition=AuditModel.city_id == int(city_id))
        return [_entry(item) for item in found]


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection"): such a cell
# is written with a leading apostrophe, which the spreadsheet shows as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("time", "time_utc", "actor", "action", "conversation", "detail")


# The export is one response of the console's API, which Lambda caps at 6 MB: a row is about 100 to 150
# bytes, so this many rows stay below it; the characters are checked too, for a range of long details.
EXPORT_MAX_ROWS = 40_000
EXPORT_MAX_CHARACTERS = 5_000_000


class ExportTooLarge(ValueError):
    """More entries than one export holds: the caller narrows the date range."""


def safe_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def entries_csv(entries: Iterable[AuditEntry], time_zone: str) -> str:
    """The entries as CSV (the csv module's quoting), times in the city's zone and in UTC.
    ``ExportTooLarge`` past EXPORT_MAX_ROWS rows or EXPORT_MAX_CHARACTERS: never a cut export."""
    zone = ZoneInfo(time_zone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, entry in enumerate(entries, start=1):
        if count > EXPORT_MAX_ROWS or out.tell() > EXPORT_MAX_CHARACTERS:
            raise ExportTooLarge(f"from, to: more than {count - 1} entries to export: narrow the date range")
        row = (
            entry.at.astimezone(zone).isoformat(timespec="seconds"),
            entry.at.astimezone(UTC).isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            entry.conversation_id or "",
            entry.detail,
        )
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def day_range(first: str, last: str, time_zone: str, max_days: int = 366) -> tuple[datetime, datetime]:
    """``YYYY-MM-DD`` to ``YYYY-MM-DD`` (both days included) as instants in the city's zone: from the
    first day's midnight to the midnight after the last. ValueError naming the fault otherwise."""
    zone = ZoneInfo(time_zone)
    try:
        start_day = datetime.strptime(first, "%Y-%m-%d").date()
        end_day = datetime.strptime(last, "%Y-%m-%d").date()
    except (TypeError, ValueError) as exc:
        raise ValueError("from and to: dates written YYYY-MM-DD are required") from exc
    if end_day < start_day:
        raise ValueError("to: the last day comes before from")
    if (end_day - start_day).days >= max_days:
        raise ValueError(f"from, to: at most {max_days} days at a time")
    start = datetime.combine(start_day, datetime.min.time(), zone)
    end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), zone)
    return start, end
