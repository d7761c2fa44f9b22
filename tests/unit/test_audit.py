"""The audit trail (issue 22, item 5): an entry for every console action, shown in the thread's history,
exported by a supervisor as CSV for a date range, one city only, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from harness import GATINEAU, KINGSTON
from test_console_api import (  # the console API in moto, shared with its own tests
    GATINEAU_AGENT,
    GATINEAU_OTHER_AGENT,
    GATINEAU_SUPERVISOR,
    KINGSTON_AGENT,
    call,
    ids,
    region,  # noqa: F401 - the fixture
)

from text311.audit import Action, AuditLog, day_range, entries_csv, safe_cell
from text311.console import ConsoleService

KINGSTON_SUPERVISOR = {**KINGSTON_AGENT, "email": "chef@kingston.example.ca", "custom:role": "supervisor"}


def history(api, conversation_id, claims=GATINEAU_AGENT):
    status, thread = call(api, "GET", f"/conversations/{conversation_id}", claims)
    assert status == 200
    return [(h["actor"], h["action"], h["detail"]) for h in thread["history"]]


def audit_csv(api, claims, first, last):
    event_query = {"from": first, "to": last}
    from aws_events import http_api_request
    from test_console_api import CONTEXT

    response = api.lambda_handler(http_api_request("GET", "/audit.csv", claims=claims, query=event_query), CONTEXT)
    return response["statusCode"], response.get("headers", {}), response.get("body") or ""


def rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_every_console_action_on_a_conversation_is_in_its_history_with_who_and_what(region):  # noqa: F811
    api, sms = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}"

    call(api, "POST", f"{path}/claim", GATINEAU_AGENT)
    call(
        api,
        "POST",
        f"{path}/answer",
        GATINEAU_AGENT,
        {"text": "A crew is on its way."},
        headers={"idempotency-key": "click-audit"},
    )
    call(api, "POST", f"{path}/notes", GATINEAU_AGENT, {"text": "Called the roads crew"})
    call(api, "POST", f"{path}/assign", GATINEAU_AGENT, {"agent": GATINEAU_OTHER_AGENT["email"]})
    call(api, "POST", f"{path}/close", GATINEAU_SUPERVISOR)
    call(api, "POST", f"{path}/reopen", GATINEAU_AGENT)

    assert history(api, conversation_id) == [
        ("marie@gatineau.example.ca", "claim", ""),
        ("marie@gatineau.example.ca", "answer", "queued, 1 SMS part(s)"),
        ("marie@gatineau.example.ca", "note", "21 characters"),
        ("marie@gatineau.example.ca", "transfer", "from marie@gatineau.example.ca to luc@gatineau.example.ca"),
        ("chef@gatineau.example.ca", "close", ""),
        ("marie@gatineau.example.ca", "reopen", ""),
    ]


def test_a_refused_or_repeated_action_records_nothing(region):  # noqa: F811
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}"
    call(api, "POST", f"{path}/claim", GATINEAU_OTHER_AGENT)

    assert call(api, "POST", f"{path}/close", GATINEAU_AGENT)[0] == 403  # not theirs
    assert call(api, "POST", f"{path}/claim", GATINEAU_AGENT)[0] == 409  # someone else's
    call(api, "POST", f"{path}/reopen", GATINEAU_AGENT)  # open already: no change

    assert history(api, conversation_id) == [("luc@gatineau.example.ca", "claim", "")]


def test_console_and_settings_entries_expire_after_the_deployments_retention(region):  # noqa: F811
    # Entries name agents and conversations: personal data kept only as long as configured.
    from text311 import services
    from text311.adapters.audit_table import AuditModel

    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)
    assert call(api, "POST", "/settings/target", GATINEAU_SUPERVISOR, {"minutes": 30})[0] == 200

    entries = list(AuditModel.query(GATINEAU.geonameid))
    days = services.settings().retention_days
    expected = datetime.now(UTC) + timedelta(days=days)
    assert {entry.action for entry in entries} >= {"claim", "settings.target"}
    for entry in entries:
        assert entry.expires_at is not None, entry.action
        assert abs(entry.expires_at - expected) < timedelta(hours=1), entry.action


def test_a_retried_transfer_is_noted_and_recorded_once(region):  # noqa: F811
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}/assign"

    for _ in range(2):  # the browser retries the click
        status, body = call(api, "POST", path, GATINEAU_SUPERVISOR, {"agent": GATINEAU_OTHER_AGENT["email"]})
        assert status == 200 and body["owner"] == GATINEAU_OTHER_AGENT["email"]

    assert history(api, conversation_id) == [
        ("chef@gatineau.example.ca", "transfer", "from no one to luc@gatineau.example.ca")
    ]
    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert [m["body"] for m in thread["messages"] if m["direction"] == "note"] == [
        "Transferred to luc@gatineau.example.ca by chef@gatineau.example.ca."
    ]


@pytest.mark.parametrize("crash", ["before the entry", "after the entry"])
def test_an_answer_retried_after_a_crash_is_recorded_once(region, monkeypatch, crash):  # noqa: F811
    # The first attempt queues the SMS and stops (the Lambda dies) before or after its audit entry, before
    # its response is stored: the browser's retry of the click runs the answer again, a second later.
    from text311 import services

    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    service: ConsoleService = services.console_service()
    write = ConsoleService._audit
    crashed = []

    def audit_then_crash(self, *args, **kwargs):
        if not crashed:
            crashed.append(True)
            if crash == "after the entry":
                write(self, *args, **kwargs)
            raise RuntimeError(f"stopped {crash}")
        write(self, *args, **kwargs)

    monkeypatch.setattr(ConsoleService, "_audit", audit_then_crash)
    first = datetime.now(UTC)
    for moment in (first, first + timedelta(seconds=1)):
        monkeypatch.setattr(service, "clock", lambda moment=moment: moment)
        try:
            call(
                api,
                "POST",
                f"/conversations/{conversation_id}/answer",
                GATINEAU_AGENT,
                {"text": "On it."},
                headers={"idempotency-key": "click-crash"},
            )
        except RuntimeError:
            pass

    _, thread = call(api, "GET", f"/conversations/{conversation_id}", GATINEAU_AGENT)
    assert [m["body"] for m in thread["messages"] if m["direction"] == "out"] == ["On it."]  # one answer
    assert [entry for entry in history(api, conversation_id) if entry[1] == "answer"] == [
        ("marie@gatineau.example.ca", "answer", "queued, 1 SMS part(s)" if crash == "after the entry" else "retried")
    ]


def test_the_close_stores_the_time_to_close_and_a_reopen_clears_it(region):  # noqa: F811
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}"

    closed = call(api, "POST", f"{path}/close", GATINEAU_AGENT)[1]
    reopened = call(api, "POST", f"{path}/reopen", GATINEAU_AGENT)[1]

    assert closed["closed_at"] is not None and closed["closed_at"] >= closed["opened_at"]
    assert reopened["closed_at"] is None


def test_a_supervisor_exports_the_days_entries_as_csv_with_the_citys_times(region):  # noqa: F811
    api, _ = region
    [conversation_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)

    status, headers, body = audit_csv(api, GATINEAU_SUPERVISOR, today(), today())

    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    [row] = rows(body)
    assert (row["actor"], row["action"], row["conversation"]) == (GATINEAU_AGENT["email"], "claim", conversation_id)
    assert row["time"][-6:] in ("-05:00", "-04:00")  # Gatineau's zone


def test_the_export_is_only_for_supervisors_and_only_of_their_city(region):  # noqa: F811
    api, _ = region
    [gatineau_id] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{gatineau_id}/claim", GATINEAU_AGENT)

    assert audit_csv(api, GATINEAU_AGENT, today(), today())[0] == 403
    status, _, body = audit_csv(api, KINGSTON_SUPERVISOR, today(), today())
    assert status == 200 and rows(body) == []


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-13-01", "2026-12-31"),
        ("", ""),
        ("2026-12-02", "2026-12-01"),
        ("2024-01-01", "2026-01-01"),
        ("2026-12-01", "=1+1"),
    ],
)
def test_a_bad_date_range_is_400(region, first, last):  # noqa: F811
    api, _ = region
    assert audit_csv(api, GATINEAU_SUPERVISOR, first, last)[0] == 400


def test_another_citys_conversation_has_no_history_here(region):  # noqa: F811
    api, _ = region
    [kingston_id] = ids(api, KINGSTON_AGENT)
    call(api, "POST", f"/conversations/{kingston_id}/claim", KINGSTON_AGENT)

    assert call(api, "GET", f"/conversations/{kingston_id}", GATINEAU_SUPERVISOR)[0] == 404
    assert AuditLog().for_conversation(GATINEAU.geonameid, kingston_id) == []
    assert len(AuditLog().for_conversation(KINGSTON.geonameid, kingston_id)) == 1


def test_the_date_range_is_the_citys_days_first_included_to_last_included(region):  # noqa: F811
    log = AuditLog()
    start, end = day_range("2026-11-01", "2026-11-02", "America/Toronto")  # DST ended 2026-11-01
    for at in (start - timedelta(milliseconds=1), start, end - timedelta(milliseconds=1), end):
        log.record(GATINEAU.geonameid, None, "cli:ops", Action.HOURS, at.isoformat(), at)

    found = [e.at for e in log.entries(GATINEAU.geonameid, start, end)]

    assert found == [start, end - timedelta(milliseconds=1)]
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=49)  # the day of the change: 25 hours


@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell("Transferred to a@b.c") == "Transferred to a@b.c"


def test_the_csv_is_injection_safe_and_quoted_by_the_csv_module(region):  # noqa: F811
    at = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    entry = AuditLog().record(
        GATINEAU.geonameid, None, "=cmd|' /C calc'!A0", Action.CANNED, 'added "Merci, c\'est noté", 2 lines\nsecond', at
    )

    [row] = rows(entries_csv([entry], "America/Toronto"))

    assert row["actor"] == "'=cmd|' /C calc'!A0"
    assert row["detail"] == 'added "Merci, c\'est noté", 2 lines\nsecond'
    assert row["time"] == "2026-12-01T10:00:00-05:00" and row["time_utc"] == "2026-12-01T15:00:00+00:00"


def test_an_export_of_more_entries_than_it_holds_is_refused_not_cut_short(region, monkeypatch):  # noqa: F811
    import text311.audit

    api, _ = region
    monkeypatch.setattr(text311.audit, "EXPORT_MAX_ROWS", 2)
    [conversation_id] = ids(api, GATINEAU_AGENT)
    path = f"/conversations/{conversation_id}"
    call(api, "POST", f"{path}/claim", GATINEAU_AGENT)
    call(api, "POST", f"{path}/notes", GATINEAU_AGENT, {"text": "Called the roads crew"})
    assert audit_csv(api, GATINEAU_SUPERVISOR, today(), today())[0] == 200  # exactly as many as it holds

    call(api, "POST", f"{path}/close", GATINEAU_AGENT)
    status, _, body = audit_csv(api, GATINEAU_SUPERVISOR, today(), today())

    assert status == 400 and "narrow the date range" in body


def test_an_audit_write_that_fails_does_not_undo_the_change(region):  # noqa: F811
    api, _ = region

    class BrokenLog(AuditLog):
        def record(self, *args, **kwargs):
            raise RuntimeError("throttled")

    from text311 import services

    service: ConsoleService = services.console_service()
    service.audit = BrokenLog()
    [conversation_id] = ids(api, GATINEAU_AGENT)

    status, body = call(api, "POST", f"/conversations/{conversation_id}/claim", GATINEAU_AGENT)

    assert status == 200 and body["owner"] == GATINEAU_AGENT["email"]
