"""functions/open311_api: API Gateway's documented HTTP API (payload 2.0) event in, the core's answer out,
with its status and Content-Type; a form POST arrives base64-encoded, as API Gateway sends it."""

from __future__ import annotations

import base64
import importlib
import json
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from aws_events import sample
from harness import GATINEAU, LambdaContext, setup_region
from moto import mock_aws

from text311.open311 import compose
from text311.open311.keys import Open311SettingsStore

CONTEXT = LambdaContext("open311-api", 15_000)
JURISDICTION = str(GATINEAU.geonameid)


@pytest.fixture
def handler(aws_env, monkeypatch):
    with mock_aws():
        setup_region(aws_env, monkeypatch)
        compose.open311_api.cache_clear()
        yield importlib.import_module("functions.open311_api.handler")
        compose.open311_api.cache_clear()


def event(method: str, path: str, query: dict[str, str], form: dict[str, str] | None = None) -> dict:
    """AWS's sample (tests/events/apigw_http_v2.json) on the public route: no authorizer."""
    request = sample("apigw_http_v2.json")
    del request["requestContext"]["authorizer"]
    request.update(
        routeKey="ANY /open311/v2/{proxy+}",
        rawPath=path,
        rawQueryString=urlencode(query),
        queryStringParameters=query or None,
        cookies=None,
        pathParameters={"proxy": path[12:]},
        stageVariables=None,
        body=None,
        isBase64Encoded=False,
        headers={"host": "id.execute-api.us-east-1.amazonaws.com"},
    )
    request["requestContext"].update(routeKey=request["routeKey"])
    request["requestContext"]["http"].update(method=method, path=path)
    if form is not None:
        # API Gateway base64-encodes a body whose type is not text (application/x-www-form-urlencoded).
        request["headers"]["content-type"] = "application/x-www-form-urlencoded; charset=utf-8"
        request.update(body=base64.b64encode(urlencode(form).encode()).decode(), isBase64Encoded=True)
    return request


def test_get_services_json_answers_the_list_as_json(handler):
    response = handler.lambda_handler(
        event("GET", "/open311/v2/services.json", {"jurisdiction_id": JURISDICTION}), CONTEXT
    )

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert "pothole" in {s["service_code"] for s in json.loads(response["body"])}


def test_a_form_post_files_a_request_read_back_as_xml(handler):
    key = Open311SettingsStore().rotate_key(GATINEAU.geonameid)
    form = {
        "jurisdiction_id": JURISDICTION,
        "api_key": key,
        "service_code": "pothole",
        "address_string": "12 rue Laurier",
        "description": "Nid-de-poule",
    }

    posted = handler.lambda_handler(event("POST", "/open311/v2/requests.json", {}, form), CONTEXT)
    [created] = json.loads(posted["body"])
    read = handler.lambda_handler(
        event("GET", f"/open311/v2/requests/{created['service_request_id']}.xml", {"jurisdiction_id": JURISDICTION}),
        CONTEXT,
    )

    assert posted["statusCode"] == 200
    assert read["headers"]["Content-Type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(read["body"].encode())
    assert (root.tag, root[0].tag, root[0].findtext("address")) == ("service_requests", "request", "12 rue Laurier")


def test_a_post_with_a_wrong_key_is_403_in_the_specs_error_format(handler):
    form = {
        "jurisdiction_id": JURISDICTION,
        "api_key": "guess",
        "service_code": "pothole",
        "lat": "45.4",
        "long": "-75.7",
    }

    response = handler.lambda_handler(event("POST", "/open311/v2/requests.xml", {}, form), CONTEXT)

    assert response["statusCode"] == 403
    root = ElementTree.fromstring(response["body"].encode())
    assert (root.tag, root[0].tag, root[0].findtext("code")) == ("errors", "error", "403")


def test_a_path_deeper_than_the_api_is_404_in_the_specs_format(handler):
    response = handler.lambda_handler(
        event("GET", "/open311/v2/a/b/c.json", {"jurisdiction_id": JURISDICTION}), CONTEXT
    )

    assert response["statusCode"] == 404
    assert json.loads(response["body"])[0]["code"] == 404
