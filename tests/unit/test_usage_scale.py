"""The month's messages are read only for conversations that could hold any: one closed before the
month received nothing in it (a text opens a new conversation, an answer needs it open), so its
messages are not queried and a city's old conversations cost no Query a month."""

from __future__ import annotations

from text311.usage import Month, count_usage


def stored(conversation_id: str, opened: str, status: str = "open", closed: str | None = None) -> dict:
    item = {"conversation_id": {"S": conversation_id}, "opened_at": {"S": opened}, "status": {"S": status}}
    if closed:
        item["closed_at"] = {"S": closed}
    return item


class Records:
    def __init__(self, conversations: list[dict]) -> None:
        self.items, self.queried = conversations, []

    def country(self, city_id: int) -> str:
        return "CA"

    def conversations(self, city_id: int) -> list[dict]:
        return self.items

    def messages(self, conversation_id: str, month: Month) -> list[dict]:
        self.queried.append(conversation_id)
        return []


def test_only_conversations_not_closed_before_the_month_have_their_messages_queried():
    records = Records(
        [
            stored("old-closed", "2026-10-01T10:00:00.000000+0000", "closed", "2026-11-30T23:59:59.000000+0000"),
            stored("closed-in-month", "2026-11-01T10:00:00.000000+0000", "closed", "2026-12-02T08:00:00.000000+0000"),
            stored("old-open", "2026-09-01T10:00:00.000000+0000"),
            stored("reopened", "2026-09-01T10:00:00.000000+0000", "open"),  # a reopen clears closed_at
            stored("opened-in-month", "2026-12-05T10:00:00.000000+0000"),
            stored("later", "2027-01-01T00:00:00.000000+0000"),
        ]
    )

    count_usage(1, Month(2026, 12), records, lambda language: "")

    assert records.queried == ["closed-in-month", "old-open", "reopened", "opened-in-month"]
