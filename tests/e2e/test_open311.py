"""The Open311 GeoReport v2 API of `make run` at /open311/v2/: a demo city's services, a request filed
with its demo api_key (from GET /sim/config), read back as JSON and as XML."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from conftest import POLL_CEILING, LocalRun

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def fetch(run: LocalRun, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, Content-Type, body) of a GET, or of a form POST as Open311 clients send it."""
    data = urlencode(form).encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} if form is not None else {}
    request = urllib.request.Request(run.base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=POLL_CEILING) as response:
            return response.status, response.headers["Content-Type"], response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8")


def test_a_request_posted_with_the_demo_key_reads_back_as_json_and_xml(local_run):
    city = next(c for c in local_run.get("/sim/config")["municipalities"] if c["geonameid"] == 5959974)
    jurisdiction, api_key = city["open311"]["jurisdiction_id"], city["open311"]["api_key"]
    query = f"?jurisdiction_id={jurisdiction}"

    status, content_type, body = fetch(local_run, f"/open311/v2/services.json{query}")
    assert (status, content_type) == (200, "application/json; charset=utf-8")
    assert "pothole" in {s["service_code"] for s in json.loads(body)}

    form = {
        "jurisdiction_id": jurisdiction,
        "api_key": api_key,
        "service_code": "pothole",
        "lat": "45.4286",
        "long": "-75.7134",
        "description": "Nid-de-poule, rappelez-moi au 819-555-0143",
        "phone": "8195550143",
    }
    assert fetch(local_run, "/open311/v2/requests.json", {**form, "api_key": "not-the-key"})[0] == 403
    status, _, body = fetch(local_run, "/open311/v2/requests.json", form)
    assert status == 200, body
    [created] = json.loads(body)
    reference = created["service_request_id"]

    status, _, body = fetch(local_run, f"/open311/v2/requests/{reference}.json{query}")
    assert status == 200, body
    [request] = json.loads(body)
    assert (request["service_request_id"], request["status"], request["lat"]) == (reference, "open", 45.4286)

    status, content_type, body = fetch(local_run, f"/open311/v2/requests/{reference}.xml{query}")
    assert (status, content_type) == (200, "text/xml; charset=utf-8")
    root = ElementTree.fromstring(body.encode())
    assert (root.tag, root[0].tag, root[0].findtext("service_request_id")) == ("service_requests", "request", reference)
    assert "5550143" not in body and "5550143" not in json.dumps(request)
