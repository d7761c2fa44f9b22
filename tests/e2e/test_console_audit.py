"""Issue 22, items 4-6 in headless Chromium against `make run`: a supervisor finds a text by a word of
it, sees it marked overdue, takes it and adds a note, reads the thread's history, and downloads the
day's audit trail as CSV. Screenshots of each screen go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from conftest import ARTIFACTS, LocalRun
from test_demo_page import WITHIN_MS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

GATINEAU = 5959974


def dynamodb(local_run: LocalRun):
    return boto3.client(
        "dynamodb",
        region_name="ca-central-1",
        endpoint_url=f"http://127.0.0.1:{local_run.aws_port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def make_overdue(local_run: LocalRun, conversation_id: str) -> None:
    """A 5-minute target for the city, and the conversation opened 10 minutes ago: overdue at once
    (what `text311 municipality target 5959974 5` writes, and what ten minutes of waiting would do)."""
    client = dynamodb(local_run)
    client.update_item(
        TableName="text311-subscribers",
        Key={"geonameid": {"N": str(GATINEAU)}},
        UpdateExpression="SET response_target_minutes = :m",
        ExpressionAttributeValues={":m": {"N": "5"}},
    )
    opened = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    client.update_item(
        TableName="text311-conversations",
        Key={"municipality_id": {"N": str(GATINEAU)}, "conversation_id": {"S": conversation_id}},
        UpdateExpression="SET opened_at = :o",
        ExpressionAttributeValues={":o": {"S": opened}},
    )


def test_a_supervisor_finds_an_overdue_text_acts_and_downloads_the_audit(
    browser,  # noqa: F811
    local_run: LocalRun,
    new_phone,
):
    from playwright.sync_api import expect

    marker = uuid.uuid4().hex[:6]
    resident = new_phone("819")
    local_run.exchange(resident, "Gatineau")
    local_run.text(resident, "Bonjour")  # the subject is this first text: the marker is only in the next one
    local_run.text(resident, f"Le lampadaire {marker} est éteint rue Principale")
    local_run.idle()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-CA", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(local_run.base + "/console/")
    page.locator("#local-email").fill("supervisor@gatineau.example")
    page.locator("#local-email").press("Tab")
    page.locator("#local-municipality").fill(str(GATINEAU))
    page.locator("#local-role").select_option("supervisor")
    page.locator("#signin-local").get_by_role("button").click()
    expect(page.locator("#list")).to_be_visible(timeout=WITHIN_MS)

    # Find: a word of the second text, which is not in the subject.
    page.locator("#f-status").select_option("all")
    page.locator("#f-q").fill(marker)
    page.locator("#filters").get_by_role("button", name="Search").click()
    expect(page.locator("#list li")).to_have_count(1, timeout=WITHIN_MS)
    conversation_id = page.locator("#list a").get_attribute("href").rsplit("/", 1)[1]

    make_overdue(local_run, conversation_id)
    page.locator("#filters").get_by_role("button", name="Search").click()
    expect(page.locator("#list .badge.overdue")).to_have_text("Overdue", timeout=WITHIN_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-search-overdue.png"), full_page=True)

    # Act: take it and add a note; the history says who did what.
    page.locator("#list a").click()
    expect(page.locator("#thread-h .badge.overdue")).to_be_visible(timeout=WITHIN_MS)
    page.locator("#act-claim").click()
    expect(page.locator("#history")).to_contain_text("took it", timeout=WITHIN_MS)
    page.locator("#note").fill(f"Called the lighting crew ({marker})")
    page.locator("#note-form").get_by_role("button").click()
    expect(page.locator("#history li")).to_have_count(2, timeout=WITHIN_MS)
    expect(page.locator("#history")).to_contain_text("supervisor@gatineau.example")
    expect(page.locator("#history")).to_contain_text("added a note")
    page.screenshot(path=str(ARTIFACTS / "console-thread-history.png"), full_page=True)

    # Export: today's audit trail, as the supervisor's browser saves it.
    page.locator("#nav-stats").click()
    expect(page.locator("#audit-download")).to_be_visible(timeout=WITHIN_MS)
    with page.expect_download(timeout=WITHIN_MS) as download:
        page.locator("#audit-download").click()
    saved = download.value.path()
    rows = list(csv.DictReader(io.StringIO(open(saved, encoding="utf-8").read())))
    mine = [(r["actor"], r["action"]) for r in rows if r["conversation"] == conversation_id]
    assert mine == [("supervisor@gatineau.example", "claim"), ("supervisor@gatineau.example", "note")]
    page.screenshot(path=str(ARTIFACTS / "console-audit-export.png"), full_page=True)

    context.close()
    assert errors == [], f"JavaScript errors in the console: {errors}"
