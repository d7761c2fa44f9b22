"""The GeoReport v2 methods of one city, answered from its subscriber item and its request store.

One call, :meth:`Open311Api.answer`, takes what any HTTP front end has (the method, the path after
``/open311/v2/``, the query and form arguments) and returns the status, the body and its content
type, so the Lambda and the local run serve the same answers.

``jurisdiction_id`` is the city's GeoNames id (its subscriber id, e.g. ``5959974`` for Gatineau):
one endpoint serves every city of the region, so it is required. Open data: a phone number, name or
e-mail given in a POST is never stored; a request's description is published only when the city has
opted in, and then with phone numbers and e-mail addresses masked (so are addresses). A status note
is the agent's free text to the resident: published, masked, under that same opt-in; otherwise a
request in progress shows only its label ("In progress", "En cours") and any other no note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, unquote

from text311.city_services import Service
from text311.open311.formats import CONTENT_TYPES, FORMATS, render_definition, render_errors, render_records
from text311.open311.keys import Open311Settings
from text311.open311.privacy import mask_contacts
from text311.subscribers import Subscriber

if TYPE_CHECKING:  # the store is given at composition (open311/compose.py); typing only here
    from text311.service_requests import ServiceRequest, ServiceRequestStore

LIMIT = 1000  # the specification's largest answer
# The longest list of service_request_id one GET may name: each id is a read, and the route is public.
MAX_IDS = 100
WINDOW = timedelta(days=90)  # the default and the widest start_date..end_date range
MAX_DESCRIPTION = 4000  # the specification's limit
MAX_ADDRESS = 500
MAX_BODY = 64 * 1024  # a 4,000-character description, URL-encoded, with room to spare
SOURCE, BY = "open311", "open311"
# A request "in progress" is published as open with this note (in the city's language).
IN_PROGRESS_NOTE = {"en": "In progress", "fr": "En cours"}
_PATH = re.compile(r"^(services|requests)(?:/(.+))?\.([a-z]+)$")


class SettingsSource(Protocol):
    def get(self, geonameid: int) -> Open311Settings | None: ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def w3_datetime(moment: datetime) -> str:
    """``2010-01-01T00:00:00Z``: the W3C profile of ISO 8601, always with its zone (UTC here)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_w3_datetime(name: str, text: str) -> datetime:
    """A W3C date-time with its zone (``Z`` or ``±hh:mm``), as the specification requires."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))  # "+" in a query may arrive as " "
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text:
        raise Open311Error(400, f"{name}: {text!r} is not a w3 date-time with its zone, e.g. 2010-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def _form(body: str | None) -> dict[str, str]:
    if not body:
        return {}
    if len(body) > MAX_BODY:
        raise Open311Error(400, f"the form is larger than {MAX_BODY} bytes")
    return {name: ",".join(values) for name, values in parse_qs(body, keep_blank_values=True).items()}


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _coordinate(name: str, text: str, bound: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, f"{name}: {text!r} is not a WGS84 {'latitude' if bound == 90 else 'longitude'}")
    return value


class Open311Api:
    def __init__(
        self,
        *,
        subscribers: Callable[[int], Subscriber | None],
        settings: SettingsSource,
        requests: ServiceRequestStore,
        reference_prefix: Callable[[Subscriber], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.subscribers, self.settings, self.requests = subscribers, settings, requests
        self.reference_prefix, self.clock = reference_prefix, clock

    # -- the one entry point ------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: Mapping[str, str], form: str | None = None) -> Answer:
        """``path`` is what follows ``/open311/v2/`` (``services.json``, ``requests/GAT-1042.xml``),
        ``query`` the query string's arguments, ``form`` a POST's body (form-encoded, UTF-8), whose
        fields win over the query string's; a repeated field is comma-joined."""
        match = _PATH.match(path.strip("/"))
        suffix = path.rpartition(".")[2]
        fmt = suffix if suffix in FORMATS else "xml"  # an unknown format is told in XML, the required one
        try:
            if match is None or match.group(3) not in FORMATS:
                raise Open311Error(404, f"no such resource: {path!r} (services or requests, .json or .xml)")
            arguments = {**query, **_form(form)}
            resource, item = match.group(1), unquote(match.group(2)) if match.group(2) else None
            return Answer(200, self._route(method.upper(), resource, item, arguments, fmt), CONTENT_TYPES[fmt])
        except Open311Error as error:
            return Answer(error.status, render_errors([(error.status, error.description)], fmt), CONTENT_TYPES[fmt])

    def _route(self, method: str, resource: str, item: str | None, arguments: Mapping[str, str], fmt: str) -> str:
        if method == "POST" and resource == "requests" and item is None:
            return self._post_request(arguments, fmt)
        if method != "GET":
            raise Open311Error(400, f"{method} is not a method of {resource}{'/' + item if item else ''}")
        city = self._city(arguments)
        if resource == "services":
            return self._service_definition(city, item, fmt) if item else self._services(city, arguments, fmt)
        return self._request(city, item, arguments, fmt) if item else self._requests(city, arguments, fmt)

    # -- the city -----------------------------------------------------------------------------------

    def _city(self, arguments: Mapping[str, str]) -> Subscriber:
        jurisdiction = (arguments.get("jurisdiction_id") or "").strip()
        if not jurisdiction:
            raise Open311Error(400, "jurisdiction_id was not provided: the city's id, e.g. 5959974")
        city = self.subscribers(int(jurisdiction)) if jurisdiction.isdigit() and len(jurisdiction) < 12 else None
        if city is None:
            raise Open311Error(404, f"jurisdiction_id {jurisdiction!r} was not found")
        return city

    @staticmethod
    def _language(city: Subscriber, arguments: Mapping[str, str]) -> str:
        """The city's first language, or ``locale`` (GeoReport v2.1's argument) when it is one of its own."""
        asked = (arguments.get("locale") or "").strip().lower()[:2]
        return asked if asked in city.languages else city.languages[0]

    # -- services -----------------------------------------------------------------------------------

    def _services(self, city: Subscriber, arguments: Mapping[str, str], fmt: str) -> str:
        language = self._language(city, arguments)
        return render_records("services", "service", [s.as_open311(language) for s in city.services], fmt)

    def _service(self, city: Subscriber, code: str) -> Service:
        for service in city.services:
            if service.service_code == code:
                return service
        raise Open311Error(404, f"service_code {code!r} was not found")

    def _service_definition(self, city: Subscriber, code: str, fmt: str) -> str:
        service = self._service(city, code)
        if not service.metadata:  # the specification: a definition exists only for metadata true
            raise Open311Error(404, f"service_code {code!r} has no service definition (its metadata is false)")
        return render_definition(service.service_code, fmt)

    # -- reading requests ---------------------------------------------------------------------------

    def _request(self, city: Subscriber, reference: str, arguments: Mapping[str, str], fmt: str) -> str:
        found = self.requests.get(str(city.geonameid), reference)
        if found is None:
            raise Open311Error(404, f"service_request_id {reference!r} was not found")
        return self._render_requests(city, [found], arguments, fmt)

    def _requests(self, city: Subscriber, arguments: Mapping[str, str], fmt: str) -> str:
        city_id = str(city.geonameid)
        ids = _csv(arguments.get("service_request_id"))
        if ids:  # the specification: this overrides every other argument
            if len(ids) > MAX_IDS:
                raise Open311Error(400, f"service_request_id: at most {MAX_IDS} ids")
            found = [self.requests.get(city_id, reference) for reference in dict.fromkeys(ids)]
            return self._render_requests(city, [r for r in found if r is not None], arguments, fmt)
        start, end = self._window(arguments)
        # Only the city's own codes: one Query per code and status, so a public GET naming hundreds of
        # made-up codes must not become hundreds of reads.
        codes: list[str | None] = [
            self._service(city, code).service_code for code in dict.fromkeys(_csv(arguments.get("service_code")))
        ] or [None]
        statuses = self._statuses(arguments)
        kept: dict[str, ServiceRequest] = {}
        for code in codes:
            for status in statuses:
                for listed in self.requests.list(
                    city_id, start=start, end=end, service_code=code, status=status, limit=LIMIT
                ):
                    kept[listed.reference] = listed
        newest = sorted(kept.values(), key=lambda r: r.requested_at, reverse=True)[:LIMIT]
        return self._render_requests(city, newest, arguments, fmt)

    def _window(self, arguments: Mapping[str, str]) -> tuple[datetime, datetime]:
        start_text, end_text = arguments.get("start_date"), arguments.get("end_date")
        start = parse_w3_datetime("start_date", start_text) if start_text else None
        end = parse_w3_datetime("end_date", end_text) if end_text else None
        if start is None:
            end = end or self.clock()
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date to end_date may not span more than 90 days")
        return start, end

    @staticmethod
    def _statuses(arguments: Mapping[str, str]) -> list[str | None]:
        from text311.service_requests import CLOSED, IN_PROGRESS, OPEN

        asked = _csv(arguments.get("status"))
        unknown = [s for s in asked if s not in ("open", "closed")]
        if unknown:
            raise Open311Error(400, f"status: {unknown[0]!r} is not open or closed")
        if not asked or set(asked) == {"open", "closed"}:
            return [None]
        return [OPEN, IN_PROGRESS] if asked[0] == "open" else [CLOSED]

    def _render_requests(
        self, city: Subscriber, found: Sequence[ServiceRequest], arguments: Mapping[str, str], fmt: str
    ) -> str:
        settings = self.settings.get(city.geonameid) or Open311Settings()
        language = self._language(city, arguments)
        records = [self._published(city, r, settings.publish_descriptions, language) for r in found]
        return render_records("service_requests", "request", records, fmt)

    def _published(self, city: Subscriber, request: ServiceRequest, publish: bool, language: str) -> dict[str, Any]:
        """A request as open data: the specification's fields, in its order; nothing personal."""
        from text311.service_requests import CLOSED, IN_PROGRESS

        def masked(text: str | None) -> str | None:
            return mask_contacts(text, city.country) if text else None

        names = {s.service_code: s.text(language).service_name for s in city.services}
        last = request.history[-1] if request.history else None
        # A note is the agent's free text to the resident (a name, a home): open data only when the
        # city publishes descriptions, masked as they are; else the status label alone.
        note = masked(last.note.strip()) if publish and last is not None and last.note.strip() else None
        if request.status == IN_PROGRESS:
            label = IN_PROGRESS_NOTE.get(language, IN_PROGRESS_NOTE["en"])
            note = f"{label}: {note}" if note else label
        return {
            "service_request_id": request.reference,
            "status": "closed" if request.status == CLOSED else "open",
            "status_notes": note,
            "service_name": names.get(request.service_code, request.service_code),
            "service_code": request.service_code,
            "description": masked(request.description) if publish else None,
            "agency_responsible": None,
            "service_notice": None,
            "requested_datetime": w3_datetime(request.requested_at),
            "updated_datetime": w3_datetime(request.updated_at),
            "expected_datetime": None,
            "address": masked(request.address),
            "address_id": None,
            "zipcode": None,
            "lat": request.lat,
            "long": request.lon,
            "media_url": None,
        }

    # -- filing a request ---------------------------------------------------------------------------

    def _post_request(self, arguments: Mapping[str, str], fmt: str) -> str:
        city = self._city(arguments)
        if not city.active:  # a suspended city takes no new request (its published ones stay readable)
            raise Open311Error(403, f"jurisdiction_id {city.geonameid} does not take new requests")
        settings = self.settings.get(city.geonameid) or Open311Settings()
        api_key = (arguments.get("api_key") or "").strip()
        if not api_key:
            raise Open311Error(403, "api_key was not provided -- can't proceed with create_request")
        if not settings.accepts(api_key):
            raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request")
        code = (arguments.get("service_code") or "").strip()
        if not code:
            raise Open311Error(400, "service_code was not provided")
        service = self._service(city, code)
        lat, lon, address = self._location(arguments)
        description = (arguments.get("description") or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Open311Error(400, f"description: at most {MAX_DESCRIPTION} characters")
        # email, phone, first_name, last_name, device_id, account_id, media_url: never stored.
        filed = self.requests.file(
            city_id=str(city.geonameid),
            prefix=self.reference_prefix(city),
            service_code=service.service_code,
            description=description,
            address=address,
            lat=lat,
            lon=lon,
            conversation_id=None,
            source=SOURCE,
            by=BY,
        )
        return render_records(
            "service_requests",
            "request",
            [{"service_request_id": filed.reference, "service_notice": None, "account_id": None}],
            fmt,
        )

    @staticmethod
    def _location(arguments: Mapping[str, str]) -> tuple[float | None, float | None, str | None]:
        lat_text, lon_text = (arguments.get("lat") or "").strip(), (arguments.get("long") or "").strip()
        address = (arguments.get("address_string") or "").strip() or None
        if bool(lat_text) != bool(lon_text):
            raise Open311Error(400, "lat and long must both be sent")
        if address is not None and len(address) > MAX_ADDRESS:
            raise Open311Error(400, f"address_string: at most {MAX_ADDRESS} characters")
        if not lat_text and address is None:
            if (arguments.get("address_id") or "").strip():
                raise Open311Error(
                    400, "address_id is not known to this jurisdiction: send lat & long or address_string"
                )
            raise Open311Error(400, "a location was not provided: lat & long, or address_string")
        if not lat_text:
            return None, None, address
        return _coordinate("lat", lat_text, 90), _coordinate("long", lon_text, 180), address
