"""The demo page in headless Chromium (Debian's, driven by Playwright): what a city sees in a demo.

A resident texts from the phone simulator, picks the city, the thread appears in the city's mailbox,
the agent answers from the browser, and the answer reaches the phone. A screenshot of the page is
kept in test-artifacts/ to be looked at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTIFACTS, POLL_CEILING, LocalRun

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WITHIN_MS = int(POLL_CEILING * 1000)  # a ceiling for expect(): it returns as soon as the page shows it
DEMO_PHONE = "+16135550142"  # "Resident in Kingston (613)" in config/local.yaml


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `bash scripts/e2e-deps.sh` (make test does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="run `bash scripts/e2e-deps.sh` (make test does)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, local_run: LocalRun):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(local_run.base + "/")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def send_text(page, body: str) -> None:
    page.get_by_label("Text message").fill(body)
    page.get_by_role("button", name="Send", exact=True).click()


def test_the_demo_page_plays_the_resident_and_the_city_from_first_text_to_answer(page, local_run: LocalRun):
    from playwright.sync_api import expect

    marker = uuid.uuid4().hex[:6]
    phone = page.get_by_role("log", name="Conversation on the phone")
    page.get_by_label("Phone number").select_option(DEMO_PHONE)  # a new resident: no other test uses it

    send_text(page, f"The traffic light at Princess and Division is stuck on red ({marker})")
    expect(phone.locator(".bubble.in")).to_have_count(1, timeout=WITHIN_MS)
    expect(phone.locator(".bubble.out").first).to_contain_text("which municipality", timeout=WITHIN_MS)
    send_text(page, "Kingston")
    expect(phone).to_contain_text("connected to Kingston", timeout=WITHIN_MS)

    page.get_by_label("Inbox").select_option("contactus@cityofkingston.example")
    threads = page.get_by_role("navigation", name="Threads")
    thread = threads.get_by_role("button", name=re.compile("Kingston: The traffic light"))
    expect(thread).to_be_visible(timeout=WITHIN_MS)
    thread.click()
    expect(page.locator("#thread-subject")).to_contain_text("Kingston: The traffic light", timeout=WITHIN_MS)
    expect(page.locator("#thread-messages")).to_contain_text(marker)

    answer = f"Thank you, a technician is on the way ({marker})."
    page.get_by_label("Answer (goes to the resident by SMS)").fill(answer)
    page.get_by_role("button", name="Send answer").click()

    expect(phone.locator(".bubble.out").last).to_contain_text(answer, timeout=WITHIN_MS)
    expect(phone.locator(".bubble.out").last).not_to_contain_text("wrote:")  # quoted history stripped
    expect(page.locator("#thread-messages .mail.answer").last).to_contain_text("sent by SMS", timeout=WITHIN_MS)
    texts = [m["body"] for m in local_run.phone(DEMO_PHONE) if m["direction"] == "out"]
    assert texts[-1] == answer

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page.png"), full_page=True)


def test_the_demo_page_fits_a_phone_screen(browser, local_run: LocalRun):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(local_run.base + "/")
    expect(page.get_by_label("Phone number")).to_be_visible()
    expect(page.get_by_label("Text message")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page-phone.png"), full_page=True)
    context.close()
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"


def test_the_page_shows_the_outbound_queue_and_its_pace(page, local_run):
    # given an idle run, then the page says how much waits for the SMS line and at what pace
    from playwright.sync_api import expect

    local_run.idle()
    mps = local_run.get("/sim/status")["outbound"]["mps"]
    expect(page.locator("#outbound")).to_contain_text(
        re.compile(rf"Outbound SMS queue: 0 messages queued · sending at [0-9.]+ of {mps:g} parts/s"),
        timeout=WITHIN_MS,
    )


def test_the_demo_page_links_the_agents_console(page, local_run):
    from playwright.sync_api import expect

    link = page.get_by_role("link", name="agents' console")
    expect(link).to_have_attribute("href", "/console/")

    link.click()

    expect(page).to_have_url(local_run.base + "/console/", timeout=WITHIN_MS)
