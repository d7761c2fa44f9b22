"""The console API's edges through `make run` (issue 17, items 2 and 8): transfers that would mail a
resident's texts to someone else, sends without an Idempotency-Key, malformed JSON, who may close,
and a resident who texted STOP (the API says so and the page disables Send)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import POLL_CEILING, LocalRun, wait_for
from test_demo_page import WITHIN_MS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

GATINEAU = "5959974"  # its allow-list is "@gatineau.example" (config/local.yaml)
# Each ends in the city's domain, which is all the old check looked at.
INJECTED_AGENTS = ["mallory@evil.example, agent@gatineau.example",
                   "x@evil\nbcc: agent@gatineau.example",
                   "a@evil@gatineau.example"]


@dataclass
class Agent:
    """A signed-in console session, calling the console API as the page does."""

    run: LocalRun
    email: str
    token: str

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            f"{self.run.base}/console-api{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=POLL_CEILING) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def conversation_about(self, marker: str) -> str:
        def found() -> str | None:
            status, body = self.call("GET", "/conversations?" + urllib.parse.urlencode({"q": marker}))
            assert status == 200, body
            return body["conversations"][0]["id"] if body["conversations"] else None

        return wait_for(found, what=f"the conversation about {marker}")

    def thread(self, conversation_id: str) -> dict[str, Any]:
        status, body = self.call("GET", f"/conversations/{conversation_id}")
        assert status == 200, body
        return body["conversation"]


def sign_in(run: LocalRun, email: str, role: str = "agent") -> Agent:
    response = run.request("POST", "/console-api/local-sign-in",
                           {"email": email, "municipality_id": GATINEAU, "role": role})
    assert response.status == 200, response
    return Agent(run, email, response.body["token"])


def open_thread_page(browser, run: LocalRun, email: str, conversation_id: str):  # noqa: F811
    """A browser page signed in to the console (demo sign-in) as ``email``, on one conversation's thread."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-CA")
    page = context.new_page()
    page.goto(run.base + "/console/")
    page.locator("#local-email").fill(email)
    page.locator("#local-municipality").fill(GATINEAU)
    page.locator("#signin-local").get_by_role("button").click()
    expect(page.locator("#view-inbox")).to_be_visible(timeout=WITHIN_MS)
    page.goto(f"{run.base}/console/#/c/{conversation_id}")
    return context, page


@pytest.fixture
def reported(local_run: LocalRun, new_phone) -> tuple[str, str]:
    """A resident of Gatineau with an open conversation: (phone, marker in its subject)."""
    marker = f"{uuid.uuid4().int % 10**8:08d}"
    resident = new_phone("819")
    local_run.exchange(resident, "Gatineau")
    local_run.text(resident, f"{marker}: lampadaire éteint rue Laurier")
    local_run.idle()
    return resident, marker


@pytest.mark.parametrize("agent", INJECTED_AGENTS, ids=["list", "header", "two-at"])
def test_a_transfer_to_an_injected_address_is_400_and_the_conversation_keeps_no_owner(local_run, reported, agent):
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    conversation_id = marie.conversation_about(reported[1])

    status, body = marie.call("POST", f"/conversations/{conversation_id}/assign", {"agent": agent})

    assert status == 400 and body["message"].startswith("agent: "), body
    assert marie.thread(conversation_id)["owner"] is None


def test_a_transfer_to_one_agent_of_the_city_still_works(local_run, reported):
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    conversation_id = marie.conversation_about(reported[1])

    status, body = marie.call("POST", f"/conversations/{conversation_id}/assign", {"agent": "luc@gatineau.example"})

    assert (status, body["owner"]) == (200, "luc@gatineau.example")


def test_an_answer_without_an_idempotency_key_or_with_malformed_json_is_400_and_no_sms(local_run, reported):
    resident, marker = reported
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    conversation_id = marie.conversation_about(marker)
    before = len(local_run.answers(resident))

    no_key = marie.call("POST", f"/conversations/{conversation_id}/answer", {"text": "On it."})
    malformed = marie.call("POST", f"/conversations/{conversation_id}/answer", raw=b'{"text": ',
                           headers={"Idempotency-Key": str(uuid.uuid4())})

    assert no_key[0] == 400 and "Idempotency-Key" in no_key[1]["message"]
    assert malformed == (400, {"statusCode": 400, "message": "the body is not valid JSON"})
    local_run.idle()
    assert len(local_run.answers(resident)) == before


def test_only_the_owner_or_a_supervisor_closes_a_conversation(local_run, reported):
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    luc = sign_in(local_run, "luc@gatineau.example")
    conversation_id = marie.conversation_about(reported[1])
    assert marie.call("POST", f"/conversations/{conversation_id}/claim")[0] == 200

    assert luc.call("POST", f"/conversations/{conversation_id}/close")[0] == 403
    supervisor = sign_in(local_run, "chef@gatineau.example", role="supervisor")
    assert supervisor.call("POST", f"/conversations/{conversation_id}/close")[0] == 200


def test_after_stop_the_thread_says_opted_out_and_the_page_disables_send(browser, local_run, reported):  # noqa: F811
    from playwright.sync_api import expect

    resident, marker = reported
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    conversation_id = marie.conversation_about(marker)
    assert marie.thread(conversation_id)["resident_opted_out"] is False

    local_run.text(resident, "STOP")
    local_run.idle()
    assert marie.thread(conversation_id)["resident_opted_out"] is True

    context, page = open_thread_page(browser, local_run, marie.email, conversation_id)
    expect(page.locator("#thread-optout")).to_be_visible(timeout=WITHIN_MS)
    expect(page.locator("#answer-send")).to_be_disabled()
    context.close()


def test_a_thread_load_answered_late_does_not_undo_what_a_later_one_showed(browser, local_run, reported):  # noqa: F811
    """Loads of a thread overlap (the refresh after an action, the next action's, the minute's poll): the one
    answered last may be the one asked first. Here the reload after "Take it" is held back until the reload
    after "Close" has drawn the closed thread; released, it must not draw the thread open again."""
    from playwright.sync_api import expect

    _, marker = reported
    marie = sign_in(local_run, "marie.tremblay@gatineau.example")
    conversation_id = marie.conversation_about(marker)
    context, page = open_thread_page(browser, local_run, marie.email, conversation_id)
    expect(page.locator("#act-claim")).to_be_visible(timeout=WITHIN_MS)

    held = []

    def hold_the_first_load(route):
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))  # read now (the thread as claimed), answered after the later load
        else:
            route.continue_()

    page.route(f"**/console-api/conversations/{conversation_id}", hold_the_first_load)
    page.locator("#act-claim").click()  # the claim goes through; the reload after it is held
    wait_for(lambda: held or page.wait_for_timeout(100), what="the reload after the claim")
    page.locator("#act-close").click()
    expect(page.locator("#act-close")).to_be_hidden(timeout=WITHIN_MS)
    expect(page.locator("#thread-meta")).to_contain_text("Closed")

    stale_route, stale_answer = held[0]
    with page.expect_response(lambda response: response.request == stale_route.request):
        stale_route.fulfill(response=stale_answer)
    page.wait_for_timeout(500)  # time for the page to draw it, if it were to: what follows must hold regardless
    expect(page.locator("#thread-meta")).to_contain_text("Closed")
    expect(page.locator("#act-close")).to_be_hidden()
    context.close()
