"""Console API: API Gateway HTTP API (JWT authorizer on every route) → one Lambda, Powertools router.

The handler reads the caller from the verified claims and calls the console service; every
tenant check lives in the service and the table keys, so the local run exercises the same ones.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311 import services
from text311.addresses import AddressRefused
from text311.auth import Caller, Unauthorized, caller_from_claims
from text311.console import Conflict, Forbidden, NotFound
from text311.observability import logger, metrics, tracer

# CORS is API Gateway's (the console's origin only); the local run serves page and API from one origin.
app = APIGatewayHttpResolver()


def caller() -> Caller:
    try:
        return caller_from_claims(services.claims_verifier().claims(app.current_event.raw_event))
    except Unauthorized as exc:
        raise UnauthorizedError(str(exc)) from exc


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
    return {"conversations": services.console_service().list(caller(), q("status", "open"), q("view"), q("q"))}


@app.get("/conversations/<conversation_id>")
def read_thread(conversation_id: str) -> dict[str, Any]:
    return services.console_service().thread(caller(), conversation_id)


@cache
def answer_once() -> Any:
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

    return send


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
    return answer_once()(request=request)


@app.post("/conversations/<conversation_id>/claim")
def claim(conversation_id: str) -> dict[str, Any]:
    return services.console_service().claim(caller(), conversation_id)


@app.post("/conversations/<conversation_id>/assign")
def assign(conversation_id: str) -> dict[str, Any]:
    return services.console_service().assign(caller(), conversation_id, body_text("agent", 254))


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


@logger.inject_lambda_context(clear_state=True)  # no correlation id carried from the last request
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
