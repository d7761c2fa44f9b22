"""Service requests in the agents' console (issue 20, items 3 and 6): what a thread's texts suggest,
filing a request from a thread, the city's list of requests with its filters and pages, status changes
and the supervisors' CSV export.

Filing and status changes take the path of the emailed ``#request`` and ``#status``
(``RequestCommands.file`` and ``change_status``): the same store, references, resident texts and
idempotency, keyed here by the browser's Idempotency-Key instead of an answer's Message-ID. Every read
names the caller's city as the partition key, so another city's reference is not found (404).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from text311.adapters.dynamodb import ConversationModel
from text311.adapters.requests_table import REQUEST_KEY_PREFIX, RequestModel
from text311.audit import Action, day_range, safe_cell
from text311.auth import Caller
from text311.console import Forbidden
from text311.console_errors import RequestRefused  # defined apart for the console API's cold start
from text311.cursors import BadCursor, pack, unpack
from text311.request_hints import point_text
from text311.request_texts import service_name
from text311.service_requests import STATUSES, ServiceRequest, UnknownRequest
from text311.service_requests import _request as request_of

if TYPE_CHECKING:
    from text311.console import ConsoleService
    from text311.location import FoundLocation
    from text311.request_commands import Done, RequestCommands

PAGE = 50
# A list without dates covers the city's last 90 days (as Open311's GET requests does).
DEFAULT_DAYS = 90
# The export's ceiling: a year of a large city's requests, in one response of the console's API.
EXPORT_MAX = 10_000
NOTE_MAX = 1000
CSV_COLUMNS = (
    "reference",
    "filed",
    "filed_utc",
    "service_code",
    "service",
    "status",
    "updated_utc",
    "address",
    "lat",
    "lon",
    "source",
    "conversation",
)
# The by-requested index's LastEvaluatedKey: the table's keys and the index's sort key.
_CURSOR_KEYS = ("city_id", "item_key", "requested_at")


@dataclass(frozen=True)
class RequestFilters:
    status: str | None = None  # one of STATUSES, or None: all
    service_code: str | None = None
    first: str | None = None  # YYYY-MM-DD, the city's day; None: DEFAULT_DAYS before ``last``
    last: str | None = None  # YYYY-MM-DD; None: today in the city
    cursor: str | None = None


def encode_cursor(city: str, key: dict[str, dict[str, str]] | None, scope: str = "") -> str | None:
    """``scope``: the filters the page was asked with; the next page must be asked with the same."""
    if not key:
        return None
    return pack({"city": city, "key": key, "scope": scope})


def decode_cursor(city: str, cursor: str | None, scope: str = "") -> dict[str, dict[str, str]] | None:
    """The LastEvaluatedKey a cursor carries, checked to lie among ``city``'s requests and to have been
    returned for the same filters (DynamoDB refuses a start key outside the days asked)."""
    if not cursor:
        return None
    data, key = unpack(cursor)
    if set(key) != set(_CURSOR_KEYS):
        raise BadCursor("cursor: not a cursor this list returned")
    if any(not isinstance(key[name], dict) or set(key[name]) != {"S"} for name in _CURSOR_KEYS):
        raise BadCursor("cursor: not a cursor this list returned")
    if data.get("city") != city or key["city_id"]["S"] != city:
        raise BadCursor("cursor: it belongs to another city's list")
    if not key["item_key"]["S"].startswith(REQUEST_KEY_PREFIX):
        raise BadCursor("cursor: not a cursor this list returned")
    if data.get("scope") != scope:
        raise BadCursor("cursor: it belongs to the list of other filters")
    return key


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def request_view(request: ServiceRequest, subscriber: Any, language: str) -> dict[str, Any]:
    return {
        "reference": request.reference,
        "service_code": request.service_code,
        "service_name": service_name(subscriber, request.service_code, language),
        "status": request.status,
        "description": request.description,
        "address": request.address,
        "lat": request.lat,
        "lon": request.lon,
        "requested_at": _iso(request.requested_at),
        "updated_at": _iso(request.updated_at),
        "conversation_id": request.conversation_id,
        "source": request.source,
        "history": [{"at": _iso(c.at), "status": c.status, "note": c.note, "by": c.by} for c in request.history],
    }


def _location_view(found: FoundLocation | None) -> dict[str, Any] | None:
    """The place found, and what the filing form's address field starts with: the coordinates of a
    shared point, else the geocoder's label or the words as written."""
    if found is None:
        return None
    point = found.point
    return {
        "kind": found.kind,
        "text": found.text,
        "label": found.label,
        "lat": point.latitude if point else None,
        "lon": point.longitude if point else None,
        "address": point_text(found) if found.kind == "point" else found.label or found.text,
    }


def _services_view(subscriber: Any, language: str) -> list[dict[str, str]]:
    """The city's services for a form's choice, named in ``language`` where the city has it."""
    return [{"code": s.service_code, "name": s.text(language).service_name} for s in subscriber.services]


def requests_csv(requests: Iterable[ServiceRequest], subscriber: Any, time_zone: str) -> str:
    """The requests as CSV (the csv module's quoting; a cell a spreadsheet would read as a formula is
    written as text, as the audit export does). No description: it is the resident's own words."""
    zone = ZoneInfo(time_zone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    language = subscriber.language if subscriber else "en"
    for r in requests:
        # Text cells go through safe_cell; a point is a number we wrote ("-75.70927" stays a number).
        writer.writerow(
            [
                safe_cell(r.reference),
                r.requested_at.astimezone(zone).isoformat(timespec="seconds"),
                r.requested_at.astimezone(UTC).isoformat(timespec="seconds"),
                safe_cell(r.service_code),
                safe_cell(service_name(subscriber, r.service_code, language)),
                safe_cell(r.status),
                r.updated_at.astimezone(UTC).isoformat(timespec="seconds"),
                safe_cell(r.address or ""),
                "" if r.lat is None else repr(float(r.lat)),
                "" if r.lon is None else repr(float(r.lon)),
                safe_cell(r.source),
                safe_cell(r.conversation_id or ""),
            ]
        )
    return out.getvalue()


@dataclass
class ConsoleRequests:
    """The console's requests, over the console's own service (its answers' path, city list and audit)."""

    console: ConsoleService

    @property
    def _commands(self) -> RequestCommands:
        commands = self.console.answers.requests
        if commands is None:
            raise RequestRefused("requests: service requests are not set up in this region")
        return commands

    def _subscriber(self, caller: Caller) -> Any:
        subscriber = self.console.subscribers.get(caller.municipality_id)
        if subscriber is None:
            raise Forbidden("this city is not subscribed")
        return subscriber

    def _request(self, caller: Caller, reference: str) -> ServiceRequest:
        found = self._commands.store.get(str(caller.municipality_id), reference)
        if found is None:
            raise UnknownRequest(reference)
        return found

    # -- a thread -----------------------------------------------------------------------------------

    def for_conversation(self, caller: Caller, conversation_id: str, language: str) -> dict[str, Any]:
        """What the thread's "File request" form needs: the suggestion, the conversation's requests
        and the city's services (names in ``language`` where the city has it)."""
        conversation = self.console._conversation(caller, conversation_id)
        subscriber = self._subscriber(caller)
        hint = self._commands.suggestion(conversation, subscriber)
        suggested = None
        if hint.service is not None:
            suggested = {"code": hint.service.service_code, "name": hint.service.text(language).service_name}
        filed = self._commands.store.for_conversation(str(caller.municipality_id), conversation_id)
        return {
            "suggestion": {"service": suggested, "location": _location_view(hint.location)},
            "requests": [request_view(r, subscriber, language) for r in filed],
            "services": _services_view(subscriber, language),
        }

    def file(
        self, caller: Caller, conversation_id: str, service_code: str, address: str, request_id: str, language: str
    ) -> dict[str, Any]:
        """File a request for the conversation (``address`` empty: the place its texts name), text the
        resident its reference and audit it, each once per ``request_id``."""
        from text311.request_commands import city_service_code

        conversation = self.console._conversation(caller, conversation_id)
        subscriber = self._subscriber(caller)
        if city_service_code(subscriber, service_code) is None:
            raise RequestRefused(f"service_code: {service_code!r} is not one of the city's services")
        click = f"console:{conversation_id}:{request_id}"
        done = self._commands.file(conversation, subscriber, service_code, address.strip(), caller.email, click)
        request = done.request
        self._audit_once(caller, done, f"{request.reference} ({request.service_code}) filed, from the console")
        texted = self._text_resident(conversation, done)
        return {"request": request_view(request, subscriber, language), "texted": texted}

    # -- the city's requests ------------------------------------------------------------------------

    def get(self, caller: Caller, reference: str, language: str) -> dict[str, Any]:
        return request_view(self._request(caller, reference), self._subscriber(caller), language)

    def set_status(
        self, caller: Caller, reference: str, status: str, note: str, request_id: str, language: str
    ) -> dict[str, Any]:
        """Agents and supervisors of the city alike (they file requests, they follow them up)."""
        if status not in STATUSES:
            raise RequestRefused(f"status: one of {', '.join(STATUSES)}")
        note = " ".join(note.split())
        if len(note) > NOTE_MAX:
            raise RequestRefused(f"note: at most {NOTE_MAX} characters")
        subscriber = self._subscriber(caller)
        request = self._request(caller, reference)
        conversation = self._conversation_of(caller, request)
        resident_language = str(conversation.language) if conversation is not None else subscriber.language
        click = f"console:{reference}:{request_id}"
        done = self._commands.change_status(
            str(caller.municipality_id), reference, status, note, caller.email, click, resident_language, subscriber
        )
        self._audit_once(caller, done, f"{reference} ({request.service_code}) now {status}, from the console")
        texted = conversation is not None and self._text_resident(conversation, done)
        return {"request": request_view(done.request, subscriber, language), "texted": texted}

    def _conversation_of(self, caller: Caller, request: ServiceRequest) -> ConversationModel | None:
        """The request's conversation in the caller's city; None for one posted through Open311 or erased."""
        if not request.conversation_id:
            return None
        try:
            return ConversationModel.get(caller.municipality_id, request.conversation_id)
        except ConversationModel.DoesNotExist:
            return None

    def page(self, caller: Caller, filters: RequestFilters, language: str) -> dict[str, Any]:
        """One page of the city's requests, newest first: ``requests`` and ``cursor`` (None: no more)."""
        city = str(caller.municipality_id)
        subscriber = self._subscriber(caller)
        start, end = self._days(filters, subscriber.time_zone)
        scope = f"{start.isoformat()}/{end.isoformat()}/{filters.status or ''}/{filters.service_code or ''}"
        found = self._query(caller, filters, decode_cursor(city, filters.cursor, scope))
        page: list[dict[str, Any]] = []
        for item in found:
            page.append(request_view(request_of(item), subscriber, language))
            if len(page) >= PAGE:
                break
        return {
            "requests": page,
            "cursor": encode_cursor(city, found.last_evaluated_key, scope),
            "services": _services_view(subscriber, language),
        }

    def export_csv(self, caller: Caller, filters: RequestFilters) -> str:
        """Supervisors only: every request the filters select, as CSV; ``RequestRefused`` when there are
        more than ``EXPORT_MAX`` (an export cut short would pass for a whole one)."""
        if not caller.supervisor:
            raise Forbidden("supervisors only")
        subscriber = self._subscriber(caller)
        found = list(islice(self._query(caller, filters, None), EXPORT_MAX + 1))
        if len(found) > EXPORT_MAX:
            raise RequestRefused(
                f"from, to: more than {EXPORT_MAX} requests to export: narrow the date range or filter them"
            )
        return requests_csv((request_of(item) for item in found), subscriber, subscriber.time_zone)

    def _query(self, caller: Caller, filters: RequestFilters, start_key: dict[str, Any] | None) -> Any:
        """The city's partition of the by-requested index, newest first, between the filters' days."""
        subscriber = self._subscriber(caller)
        if filters.status is not None and filters.status not in STATUSES:
            raise RequestRefused(f"status: one of {', '.join(STATUSES)}")
        start, end = self._days(filters, subscriber.time_zone)
        condition = None
        if filters.service_code:
            condition = RequestModel.service_code == filters.service_code
        if filters.status is not None:
            by_status = RequestModel.status == filters.status
            condition = by_status if condition is None else condition & by_status
        return RequestModel.by_requested.query(
            str(caller.municipality_id),
            RequestModel.requested_at.between(start, end - timedelta(microseconds=1)),
            filter_condition=condition,
            scan_index_forward=False,
            last_evaluated_key=start_key,
        )

    def _days(self, filters: RequestFilters, time_zone: str) -> tuple[datetime, datetime]:
        today = self.console.clock().astimezone(ZoneInfo(time_zone)).date()
        try:
            last = filters.last or today.isoformat()
            first = filters.first or (datetime.strptime(last, "%Y-%m-%d").date() - timedelta(days=DEFAULT_DAYS - 1))
        except ValueError as exc:
            raise RequestRefused("from and to: dates written YYYY-MM-DD are required") from exc
        try:
            return day_range(str(first), last, time_zone)
        except ValueError as exc:
            raise RequestRefused(str(exc)) from exc

    # -- once per click -----------------------------------------------------------------------------

    def _audit_once(self, caller: Caller, done: Done, detail: str) -> None:
        """The audit entry of a filing or change, once: a retried click claims the same key."""
        city = str(caller.municipality_id)
        if self._commands.store.claim_once(city, done.notice_key, done.request.reference):
            self.console._audit(caller, done.request.conversation_id, Action.REQUEST, detail)

    def _text_resident(self, conversation: ConversationModel, done: Done) -> bool:
        """The resident's text through the paced outbound path under the command's key (the outbound
        ledger sends a key once, so a retried click queues it again and texts nothing twice)."""
        answers = self.console.answers
        if conversation.resident_opted_out or answers.residents_opted_out(conversation.phone_hash):
            return False
        answers.sms.send(
            answers.decrypt_phone(conversation.phone_encrypted),
            done.resident_text,
            idempotency_key=done.key,
            context={"conversation": conversation.conversation_id, "kind": "dialog"},
        )
        return True
