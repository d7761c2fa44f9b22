"""The agents' console in headless Chromium against `make run`: the same console/ files CloudFront
serves, the same console_api handler, signed in with the local demo sign-in instead of Cognito."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import ARTIFACTS, LocalRun, wait_for
from test_demo_page import WITHIN_MS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_an_agent_signs_in_sees_the_text_answers_and_the_phone_gets_the_sms(browser, local_run: LocalRun,  # noqa: F811
                                                                             new_phone):
    from playwright.sync_api import expect

    marker = uuid.uuid4().hex[:6]
    resident = new_phone("819")
    local_run.exchange(resident, "Gatineau")
    local_run.text(resident, f"{marker}: nid de poule devant le 12 rue Laurier")  # the subject shows the start
    local_run.idle()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-CA")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(local_run.base + "/console/")
    page.locator("#local-email").fill("agent@gatineau.example")
    page.locator("#local-email").press("Tab")  # the form fills the city from the demo agents on change
    page.locator("#local-municipality").fill("5959974")
    page.locator("#signin-local").get_by_role("button").click()

    conversation = page.locator("#list a", has_text=marker)
    expect(conversation).to_be_visible(timeout=WITHIN_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-inbox.png"), full_page=True)

    conversation.click()
    expect(page.locator("#messages")).to_contain_text(marker, timeout=WITHIN_MS)
    answer = f"Merci, une équipe passe demain ({marker})."
    page.locator("#answer").fill(answer)
    page.locator("#answer-send").click()

    wait_for(lambda: answer in "\n".join(local_run.answers(resident)), what="the answer on the phone")
    expect(page.locator("#messages")).to_contain_text(answer, timeout=WITHIN_MS)
    page.screenshot(path=str(ARTIFACTS / "console-thread.png"), full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors in the console: {errors}"


def test_the_console_api_refuses_requests_without_a_session_and_other_cities_agents(local_run: LocalRun):
    assert local_run.request("GET", "/console-api/conversations").status == 401
    refused = local_run.request("POST", "/console-api/local-sign-in",
                                {"email": "sam@cityofkingston.example", "municipality_id": "5959974", "role": "agent"})
    assert refused.status == 403


def test_the_link_in_the_citys_mail_opens_the_thread_in_the_console(browser, local_run: LocalRun,  # noqa: F811
                                                                    new_phone):
    from playwright.sync_api import expect

    marker = uuid.uuid4().hex[:6]
    resident = new_phone("819")
    local_run.exchange(resident, "Gatineau")
    local_run.text(resident, f"{marker}: lampadaire éteint rue Principale")
    [mail] = wait_for(lambda: local_run.mails("311@gatineau.example", marker), what="the city's mail")
    [link] = re.findall(r"http://\S+/console/#/\S+", mail["text"])

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-CA")
    page = context.new_page()
    page.goto(link)  # not signed in yet: the sign-in keeps the link's thread
    page.locator("#local-email").fill("agent@gatineau.example")
    page.locator("#local-email").press("Tab")
    page.locator("#local-municipality").fill("5959974")
    page.locator("#signin-local").get_by_role("button").click()

    expect(page.locator("#messages")).to_contain_text(marker, timeout=WITHIN_MS)
    assert page.url.endswith(link.rpartition("/console/")[2])
    context.close()
