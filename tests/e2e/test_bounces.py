"""A city inbox that bounces must not swallow texts (issue 18), through `make run`: a city whose inbox is
SES's mailbox simulator bounce address. The local run's SES publishes what SES would (a permanent
bounce, localrun/ses_simulator.py); the mail_events function marks the text bounced, counts it for
the city and tells the resident, once, to call 311."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
import uuid

import pytest
from conftest import ROOT, LocalRun, wait_for
from test_add_municipality import TEXT311, run_env

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

OTTAWA = 6094817  # GeoNames: Ottawa, ON
BOUNCING_INBOX = "bounce@simulator.amazonses.com"
NOTICE = "Text311: we could not reach Ottawa 311 by email"  # templates/en.json "city_unreachable"


def add_city(run: LocalRun) -> None:
    env = run_env(run)
    added = subprocess.run([*TEXT311, "municipality", "add", str(OTTAWA), "--email", BOUNCING_INBOX,
                            "--agents", "@ottawa.example", "--language", "en",
                            "--endpoint-url", env["AWS_ENDPOINT_URL"]],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stdout + added.stderr


def console(run: LocalRun, path: str, token: str) -> dict:
    request = urllib.request.Request(f"{run.base}/console-api{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def bounced_metrics(run: LocalRun) -> list[dict]:
    """The functions' log (CloudWatch Logs in AWS): the mail_events records that count a bounce."""
    lines = [json.loads(line) for line in (run.data_dir / "lambda.log").read_text().splitlines()
             if line.startswith("{")]
    return [r for r in lines if r.get("metric") == "CityMailBounced"]


def test_a_text_to_a_city_whose_inbox_bounces_ends_bounced_and_the_resident_is_told_once(local_run, new_phone):
    add_city(local_run)
    resident = new_phone("613")
    marker = f"{uuid.uuid4().int % 10**8:08d}"
    local_run.exchange(resident, "Ottawa ON")
    first = f"{marker}: pothole on Bank Street"
    local_run.text(resident, first)
    local_run.text(resident, f"{marker}: and the sidewalk too")  # bounces as well: still one notice
    local_run.idle()

    # the resident is told, once, in their language
    told = wait_for(lambda: [a for a in local_run.answers(resident) if a.startswith(NOTICE)] or None,
                    what="the city-unreachable notice")
    local_run.idle()
    assert len([a for a in local_run.answers(resident) if a.startswith(NOTICE)]) == len(told) == 1

    # the console shows both texts bounced
    token = local_run.request("POST", "/console-api/local-sign-in",
                              {"email": "agent@ottawa.example", "municipality_id": str(OTTAWA),
                               "role": "agent"}).body["token"]
    [conversation] = console(local_run, "/conversations?" + urllib.parse.urlencode({"q": marker}),
                             token)["conversations"]
    messages = console(local_run, f"/conversations/{conversation['id']}", token)["messages"]
    assert [m["status"] for m in messages if m["direction"] == "in" and marker in m["body"]] == ["bounced"] * 2

    # and the per-city metric counted each (metrics are off locally: the log line carries its name)
    counted = bounced_metrics(local_run)
    assert [r["municipality"] for r in counted if r["outcome"] == "changed"] == [str(OTTAWA)] * 2
