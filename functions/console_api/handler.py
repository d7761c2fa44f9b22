"""Console API: API Gateway HTTP API (JWT authorizer on every route) → one Lambda, Powertools router.

The handler reads the caller from the verified claims and calls the console service; every
tenant check lives in the service and the table keys, so the local run exercises the same ones.
At import it loads only the services' error types (text311.console_errors); each route imports the
service it calls, so a cold start pays for the settings or requests services only when used.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.addresses import AddressRefused
from text311.auth import Caller, Unauthorized, caller_from_claims
from text311.console_errors import (
    AgentConflict,
    AgentError,
    Conflict,
    Forbidden,
    NotFound,
    RequestRefused,
    SettingsRefused,
    UnknownRequest,
)
from text311.cursors import BadCursor
from text311.departments import UnknownDepartment
from text311.observability import logger, metrics, tracer

if TYPE_CHECKING:  # the services are imported by the routes that call them, not at cold start (bench/coldstart.py)
    from text311.console_requests import ConsoleRequests, RequestFilters

# CORS is API Gateway's (the console's origin only); the local run serves page and API from one origin.
app = APIGatewayHttpResolver()


def caller() -> Caller:
    try:
        found = caller_from_claims(services.claims_verifier().claims(app.current_event.raw_event))
    except Unauthorized as exc:
        raise UnauthorizedError(str(exc)) from exc
    # An ID token outlives a disable by up to an hour: the city's roster (text311.agents) ends it now.
    city = services.subscribers().get(found.municipality_id)
    if city is not None and found.email in city.disabled_agents:
        raise ServiceError(403, "this account is disabled")
    return found


def json_object() -> dict[str, Any]:
    # The decoder's own message (with its line and column) stays out of the answer: a short one will do.
    try:
        body = app.current_event.json_body
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError("the body is not valid JSON") from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    return body


def body_text(field: str, limit: int = 1600) -> str:
    value = json_object().get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError(f"{field}: a non-empty string is required")
    if len(value) > limit:
        raise BadRequestError(f"{field}: at most {limit} characters")
    return value


@app.exception_handler(NotFound)
def not_found(exc: NotFound) -> Response:
    raise NotFoundError("no such conversation")


@app.exception_handler(Forbidden)
def forbidden(exc: Forbidden) -> Response:
    raise ServiceError(403, str(exc))


@app.exception_handler(AddressRefused)
def address_refused(exc: AddressRefused) -> Response:
    raise BadRequestError(f"agent: {exc}")


@app.exception_handler(BadCursor)
def bad_cursor(exc: BadCursor) -> Response:
    raise BadRequestError(str(exc))


@app.exception_handler(Conflict)
def conflict(exc: Conflict) -> Response:
    raise ServiceError(409, str(exc))


@app.get("/me")
def me() -> dict[str, Any]:
    c = caller()
    return {"email": c.email, "municipality_id": c.municipality_id, "role": c.role.value}


@app.get("/conversations")
def list_conversations() -> dict[str, Any]:
    q = app.current_event.get_query_string_value
    return services.console_service().list(caller(), q("status", "open"), q("view"), q("q"), q("cursor"))


@app.get("/conversations/<conversation_id>")
def read_thread(conversation_id: str) -> dict[str, Any]:
    return services.console_service().thread(caller(), conversation_id)


@cache
def answer_once() -> tuple[Any, Any]:
    """The idempotent send and its config. Only this route needs Powertools' idempotency: imported by its
    first call, not at cold start."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=services.settings().idempotency_table, boto3_client=services.clients().dynamodb
    )
    config = IdempotencyConfig(
        event_key_jmespath="[caller, conversation_id, request_id]", expires_after_seconds=24 * 3600
    )

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=persistence)
    def send(request: dict) -> dict:
        c = caller()
        return services.console_service().answer(c, request["conversation_id"], request["text"], request["request_id"])

    return send, config


@app.post("/conversations/<conversation_id>/answer")
def answer(conversation_id: str) -> dict[str, Any]:
    # A browser retrying the same click sends the same Idempotency-Key: one SMS, the same response.
    # Without one, a retry could not be told from a new click, so the request is refused.
    request_id = (app.current_event.headers.get("idempotency-key") or "").strip()
    if not request_id or len(request_id) > 128:
        raise BadRequestError("Idempotency-Key: a header of 1 to 128 characters is required to send an SMS")
    request = {
        "caller": caller().email,
        "conversation_id": conversation_id,
        "request_id": request_id,
        "text": body_text("text"),
    }
    send, config = answer_once()
    # The click's record is "in progress" only until this invocation's own deadline: a retry of a click
    # whose invocation timed out is then run again, not refused as in progress for the record's 24 hours.
    config.register_lambda_context(app.lambda_context)
    return send(request=request)


@app.post("/conversations/<conversation_id>/preview")
def preview(conversation_id: str) -> dict[str, Any]:
    # The answer as the resident would receive it (a machine translation), before it is sent: no SMS.
    return services.console_service().preview(caller(), conversation_id, body_text("text"))


@app.post("/conversations/<conversation_id>/claim")
def claim(conversation_id: str) -> dict[str, Any]:
    return services.console_service().claim(caller(), conversation_id)


@app.post("/conversations/<conversation_id>/assign")
def assign(conversation_id: str) -> dict[str, Any]:
    return services.console_service().assign(caller(), conversation_id, body_text("agent", 254))


@app.post("/conversations/<conversation_id>/transfer")
def transfer(conversation_id: str) -> dict[str, Any]:
    """To one of the city's departments (``{"department": id}``): its inbox is mailed the next texts."""
    return services.console_service().transfer(caller(), conversation_id, body_text("department", 64))


@app.get("/departments")
def departments() -> dict[str, Any]:
    return {"departments": services.console_service().departments(caller())}


@app.exception_handler(UnknownDepartment)
def unknown_department(exc: UnknownDepartment) -> Response:
    raise NotFoundError("no such department")


@app.post("/conversations/<conversation_id>/close")
def close(conversation_id: str) -> dict[str, Any]:
    return services.console_service().set_status(caller(), conversation_id, "closed")


@app.post("/conversations/<conversation_id>/reopen")
def reopen(conversation_id: str) -> dict[str, Any]:
    return services.console_service().set_status(caller(), conversation_id, "open")


@app.post("/conversations/<conversation_id>/notes")
def add_note(conversation_id: str) -> dict[str, Any]:
    return services.console_service().note(caller(), conversation_id, body_text("text", 4000))


@app.get("/canned")
def canned() -> dict[str, Any]:
    return services.console_service().canned(caller())


@app.get("/stats")
def stats() -> dict[str, Any]:
    return services.console_service().stats(caller())


@app.get("/usage")
def usage() -> dict[str, Any]:
    # The supervisor's own city's usage and cost for a UTC month (?month=YYYY-MM), as the CLI counts it.
    from text311.usage import Month

    month = app.current_event.get_query_string_value("month") or ""
    try:
        Month.parse(month)
    except ValueError as exc:
        raise BadRequestError(str(exc)) from exc
    return services.console_service().usage(caller(), month)


@app.get("/audit.csv")
def audit_csv() -> Response:
    """A supervisor's export of the city's audit trail, ``?from=YYYY-MM-DD&to=YYYY-MM-DD``."""
    q = app.current_event.get_query_string_value
    c = caller()
    try:
        body = services.console_service().audit_csv(c, q("from", "") or "", q("to", "") or "")
    except ValueError as exc:
        raise BadRequestError(str(exc)) from exc
    name = f"audit-{c.municipality_id}-{q('from')}-{q('to')}.csv"
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# -- a supervisor's city settings (text311.city_settings) ---------------------------------------------


@app.exception_handler(SettingsRefused)
def settings_refused(exc: SettingsRefused) -> Response:
    raise BadRequestError(str(exc))


@app.exception_handler(AgentError)
def agent_refused(exc: AgentError) -> Response:
    raise BadRequestError(f"agent: {exc}")


@app.exception_handler(AgentConflict)
def agent_conflict(exc: AgentConflict) -> Response:
    raise ServiceError(409, f"agent: {exc}")


@app.get("/settings")
def read_settings() -> dict[str, Any]:
    return services.city_settings().view(caller())


@app.post("/settings/agents")
def invite_agent() -> dict[str, Any]:
    role = json_object().get("role", "agent")
    return services.city_settings().invite(caller(), body_text("email", 254), role if isinstance(role, str) else "")


@app.post("/settings/agents/disable")
def disable_agent() -> dict[str, Any]:
    return services.city_settings().set_agent_enabled(caller(), body_text("email", 254), False)


@app.post("/settings/agents/enable")
def enable_agent() -> dict[str, Any]:
    return services.city_settings().set_agent_enabled(caller(), body_text("email", 254), True)


@app.post("/settings/canned")
def set_canned() -> dict[str, Any]:
    answers = json_object().get("answers")
    if not isinstance(answers, list):
        raise BadRequestError("answers: a list of texts is required")
    return services.city_settings().set_canned(caller(), body_text("language", 8), answers)


@app.post("/settings/hours")
def set_hours() -> dict[str, Any]:
    body = json_object()
    weekly, holidays = body.get("weekly"), body.get("holidays", [])
    if (weekly is not None and not isinstance(weekly, dict)) or not isinstance(holidays, list):
        raise BadRequestError("weekly: an object of weekday to hours, or null; holidays: a list of dates")
    return services.city_settings().set_hours(caller(), weekly, holidays)


@app.post("/settings/target")
def set_target() -> dict[str, Any]:
    return services.city_settings().set_target(caller(), json_object().get("minutes"))


def department_body() -> tuple[Any, Any, Any]:
    """A department's form: ``name``, ``inbox`` and ``agents`` (a list of addresses), checked by the service."""
    body = json_object()
    return body.get("name"), body.get("inbox"), body.get("agents", [])


@app.post("/settings/departments")
def add_department() -> dict[str, Any]:
    return services.city_settings().add_department(caller(), *department_body())


@app.post("/settings/departments/<department_id>")
def change_department(department_id: str) -> dict[str, Any]:
    return services.city_settings().change_department(caller(), department_id, *department_body())


@app.post("/settings/departments/<department_id>/remove")
def remove_department(department_id: str) -> dict[str, Any]:
    # A department's conversations keep its id, which then names none: their mail goes to the city's inbox.
    return services.city_settings().remove_department(caller(), department_id)


# -- service requests (text311.console_requests) --------------------------------------------------------


@cache
def console_requests() -> ConsoleRequests:
    from text311.console_requests import ConsoleRequests

    return ConsoleRequests(console=services.console_service())


@app.exception_handler(UnknownRequest)
def unknown_request(exc: UnknownRequest) -> Response:
    raise NotFoundError("no such request")


@app.exception_handler(RequestRefused)
def request_refused(exc: RequestRefused) -> Response:
    raise BadRequestError(str(exc))


def click_key() -> str:
    """The browser's Idempotency-Key: a retried click files and texts nothing twice (as an answer)."""
    key = (app.current_event.headers.get("idempotency-key") or "").strip()
    if not key or len(key) > 128:
        raise BadRequestError("Idempotency-Key: a header of 1 to 128 characters is required")
    return key


def ui_language() -> str:
    return app.current_event.get_query_string_value("lang", "") or "en"


def request_filters() -> RequestFilters:
    from text311.console_requests import RequestFilters

    q = app.current_event.get_query_string_value
    return RequestFilters(
        status=q("status") or None,
        service_code=q("service_code") or None,
        first=q("from") or None,
        last=q("to") or None,
        cursor=q("cursor") or None,
    )


@app.get("/conversations/<conversation_id>/requests")
def conversation_requests(conversation_id: str) -> dict[str, Any]:
    return console_requests().for_conversation(caller(), conversation_id, ui_language())


@app.post("/conversations/<conversation_id>/requests")
def file_request(conversation_id: str) -> dict[str, Any]:
    key = click_key()
    address = json_object().get("address") or ""
    if not isinstance(address, str) or len(address) > 200:
        raise BadRequestError("address: a text of at most 200 characters")
    return console_requests().file(
        caller(), conversation_id, body_text("service_code", 64), address, key, ui_language()
    )


@app.get("/requests")
def list_requests() -> dict[str, Any]:
    return console_requests().page(caller(), request_filters(), ui_language())


@app.get("/requests.csv")
def requests_csv() -> Response:
    """A supervisor's export of the filtered list (``status``, ``service_code``, ``from``, ``to``)."""
    c = caller()
    body = console_requests().export_csv(c, request_filters())
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={
            "Content-Disposition": f'attachment; filename="requests-{c.municipality_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@app.get("/requests/<reference>")
def read_request(reference: str) -> dict[str, Any]:
    return console_requests().get(caller(), reference, ui_language())


@app.post("/requests/<reference>/status")
def set_request_status(reference: str) -> dict[str, Any]:
    key = click_key()
    body = json_object()
    note = body.get("note") or ""
    if not isinstance(note, str):
        raise BadRequestError("note: a text is required")
    return console_requests().set_status(caller(), reference, body_text("status", 16), note, key, ui_language())


@logger.inject_lambda_context(clear_state=True)  # no correlation id carried from the last request
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
