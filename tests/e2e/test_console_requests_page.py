"""Issue 20, items 3 and 6, and issue 22, item 6, in headless Chromium against `make run`: an agent opens
a resident's pothole text, sees the suggested category and the geocoded place, files the request in one
click and the resident is texted its reference; the reference finds the conversation in the search; a
supervisor's Requests screen lists it, changes its status (texted to the resident, kept in its history) and
downloads the list as CSV, which an agent is not offered. Screenshots of each screen go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import re

import pytest
from conftest import ARTIFACTS, LocalRun, wait_for
from test_demo_page import WITHIN_MS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

GATINEAU = 5959974
REFERENCE = re.compile(r"GAT-\d+")


def sign_in(browser, local_run: LocalRun, email: str, role: str, width: int = 1280):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-CA", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(local_run.base + "/console/")
    page.locator("#local-email").fill(email)
    page.locator("#local-email").press("Tab")
    page.locator("#local-municipality").fill(str(GATINEAU))
    page.locator("#local-role").select_option(role)
    page.locator("#signin-local").get_by_role("button").click()
    return context, page, errors


def test_an_agent_files_a_request_from_a_thread_and_a_supervisor_follows_it_up(
    browser,  # noqa: F811
    local_run: LocalRun,
    new_phone,
):
    from playwright.sync_api import expect

    resident = new_phone("819")
    local_run.exchange(resident, "Gatineau")
    local_run.text(resident, "Il y a un gros nid de poule devant le 100 rue Laurier")
    local_run.idle()
    ARTIFACTS.mkdir(exist_ok=True)

    # The agent: the thread shows the suggestion; the form starts with it.
    context, page, errors = sign_in(browser, local_run, "agent@gatineau.example", "agent")
    expect(page.locator("#list")).to_be_visible(timeout=WITHIN_MS)
    expect(page.locator("#nav-requests")).to_be_visible()
    page.locator("#list a", has_text="nid de poule").first.click()
    expect(page.locator("#thread-requests")).to_be_visible(timeout=WITHIN_MS)
    expect(page.locator("#req-suggestion")).to_contain_text("Pothole (pothole)")
    expect(page.locator("#req-suggestion")).to_contain_text("45.42985,-75.70927")
    expect(page.locator("#file-service")).to_have_value("pothole")
    expect(page.locator("#file-address")).to_have_value("100 rue Laurier")
    page.locator("#thread-requests").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "console-file-request.png"), full_page=True)

    # One click files it; the resident is texted the reference.
    before = len(local_run.answers(resident))
    page.locator("#file-form").get_by_role("button", name="File request").click()
    expect(page.locator("#status")).to_contain_text("filed", timeout=WITHIN_MS)
    reference = REFERENCE.search(page.locator("#status").inner_text()).group(0)
    expect(page.locator("#thread-requests-list > li")).to_have_count(1, timeout=WITHIN_MS)
    expect(page.locator("#thread-requests-list")).to_contain_text("100 rue Laurier (45.42985,-75.70927)")
    texted = wait_for(
        lambda: [a for a in local_run.answers(resident)[before:] if reference in a], what="the reference texted"
    )
    assert len(texted) == 1
    page.screenshot(path=str(ARTIFACTS / "console-request-filed.png"), full_page=True)

    # The reference finds the conversation; an agent is not offered the export.
    page.locator("a[href='#/inbox']").first.click()
    page.locator("#f-q").fill(reference.lower().replace("-", ""))
    page.locator("#filters").get_by_role("button", name="Search").click()
    expect(page.locator("#list li")).to_have_count(1, timeout=WITHIN_MS)
    expect(page.locator("#list")).to_contain_text("nid de poule")
    page.locator("#nav-requests").click()
    expect(page.locator("#rq-list")).to_contain_text(reference, timeout=WITHIN_MS)
    expect(page.locator("#rq-export")).to_be_hidden()
    context.close()
    assert errors == [], f"JavaScript errors in the agent's console: {errors}"

    # The supervisor: the Requests screen, filtered to potholes; a status change with a note.
    context, page, errors = sign_in(browser, local_run, "supervisor@gatineau.example", "supervisor")
    page.locator("#nav-requests").click()
    expect(page.locator("#rq-export")).to_be_visible(timeout=WITHIN_MS)
    page.locator("#rq-service").select_option("pothole")  # the list is drawn again, filtered
    expect(page.locator("#rq-list")).not_to_have_attribute("aria-busy", "true", timeout=WITHIN_MS)
    item = page.locator("#rq-list li.request", has_text=reference)
    expect(item).to_be_visible(timeout=WITHIN_MS)
    item.locator("select").select_option("in_progress")
    item.locator("input").fill("Crew on Tuesday.")
    before = len(local_run.answers(resident))
    item.get_by_role("button", name="Change status").click()
    expect(page.locator("#status")).to_contain_text(f"Status of {reference} changed", timeout=WITHIN_MS)
    item = page.locator("#rq-list li.request", has_text=reference)
    expect(item.locator(".badge")).to_have_text("In progress", timeout=WITHIN_MS)
    item.locator("summary").click()
    expect(item.locator("ol li")).to_have_count(2)
    expect(item.locator("ol")).to_contain_text("supervisor@gatineau.example")
    expect(item.locator("ol")).to_contain_text("Crew on Tuesday.")
    wait_for(
        lambda: [a for a in local_run.answers(resident)[before:] if "Crew on Tuesday." in a],
        what="the status change texted",
    )
    page.screenshot(path=str(ARTIFACTS / "console-requests.png"), full_page=True)

    with page.expect_download(timeout=WITHIN_MS) as download:
        page.locator("#rq-export").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    mine = [r for r in rows if r["reference"] == reference]
    assert [(r["service_code"], r["status"], r["address"]) for r in mine] == [
        ("pothole", "in_progress", "100 rue Laurier")
    ]
    assert all(resident[-4:] not in value for row in rows for value in row.values())
    context.close()
    assert errors == [], f"JavaScript errors in the supervisor's console: {errors}"

    # At phone width, the screen is one column.
    context, page, errors = sign_in(browser, local_run, "supervisor@gatineau.example", "supervisor", width=375)
    page.locator("#nav-requests").click()
    expect(page.locator("#rq-list li.request").first).to_be_visible(timeout=WITHIN_MS)
    page.screenshot(path=str(ARTIFACTS / "console-requests-phone.png"), full_page=True)
    context.close()
    assert errors == []
