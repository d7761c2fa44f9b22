"""Open311 GeoReport v2: API Gateway HTTP API (route ``/open311/v2/{proxy+}``, no authorizer) → the core.

Public open data: GETs need no key; a POST carries the city's ``api_key``, checked by the core. The
handler only reads the path, the query string and the form body, and returns the core's answer.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from text311.observability import logger, metrics, tracer

PREFIX = "/open311/v2/"

app = APIGatewayHttpResolver()


def answer() -> Response:
    # The API and its stores (pynamodb, the cities' records) load with the first request, as in the other
    # handlers: the import stays within its cold-start target (bench/coldstart.py).
    from text311.open311.compose import open311_api

    event = app.current_event
    method = event.request_context.http.method
    # API Gateway joins a repeated query parameter with commas, as Open311 lists values.
    result = open311_api().answer(
        method,
        event.path.removeprefix(PREFIX),
        event.query_string_parameters or {},
        form=event.decoded_body if method == "POST" else None,
    )
    return Response(status_code=result.status, content_type=result.content_type, body=result.body)


@app.get("/open311/v2/<resource>")
@app.post("/open311/v2/<resource>")
def resource(resource: str) -> Response:
    return answer()


@app.get("/open311/v2/<resource>/<item>")
@app.post("/open311/v2/<resource>/<item>")
def item(resource: str, item: str) -> Response:
    return answer()


@app.not_found
def elsewhere(exc: Exception) -> Response:
    return answer()  # the core answers an unknown path in the specification's error format


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
