"""Find anything (issue 22, item 6): the console's search by message text, last four digits and agent,
paging past 50 with a cursor bound to the city, and a resident's earlier conversations; never another
city's."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from harness import GATINEAU, KINGSTON
from test_console_api import (  # the console API in moto, shared with its own tests
    GATINEAU_AGENT,
    GATINEAU_SUPERVISOR,
    KINGSTON_AGENT,
    RESIDENT,
    call,
    ids,
    region,  # noqa: F401 - the fixture
    text_again,
)

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.console_search import encode_cursor

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def stored(
    city: int,
    n: int,
    *,
    subject: str = "Streetlight out",
    body: str = "",
    phone: str = "+1******0000",
    owner: str | None = None,
    phone_hash: str = "hash-x",
    status: str = "open",
) -> str:
    """A conversation written as the inbound path writes one, ``n`` minutes after T0."""
    conversation_id = f"{city}-search{n:04d}"
    at = T0 + timedelta(minutes=n)
    ConversationModel(
        municipality_id=city,
        conversation_id=conversation_id,
        phone_hash=phone_hash,
        phone_encrypted="sealed",
        status=status,
        opened_at=at,
        last_message_at=at,
        subject=subject,
        phone_masked=phone,
        owner_email=owner,
    ).save()
    if body:
        MessageModel(
            conversation_id=conversation_id,
            message_key=f"{at.isoformat()}#m{n}",
            direction="in",
            channel="sms",
            body=body,
            created_at=at,
        ).save()
    return conversation_id


def search(api, claims, **query):
    status, body = call(api, "GET", "/conversations", claims, query={"status": "all", **query})
    assert status == 200, body
    return [c["id"] for c in body["conversations"]], body["cursor"]


def test_the_box_finds_a_word_of_any_message_not_only_the_subject(region):  # noqa: F811
    api, _ = region
    wanted = stored(GATINEAU.geonameid, 1, body="The hydrant on Boulevard Maloney is leaking")
    stored(GATINEAU.geonameid, 2, body="Noise at night")

    assert search(api, GATINEAU_AGENT, q="maloney")[0] == [wanted]


def test_four_digits_find_the_number_ending_with_them(region):  # noqa: F811
    api, _ = region
    wanted = stored(GATINEAU.geonameid, 1, phone="+1******4567")
    stored(GATINEAU.geonameid, 2, phone="+1******1234")

    assert search(api, GATINEAU_AGENT, q="4567")[0] == [wanted]


def test_an_agents_address_finds_their_conversations(region):  # noqa: F811
    api, _ = region
    wanted = stored(GATINEAU.geonameid, 1, owner="luc@gatineau.example.ca")
    stored(GATINEAU.geonameid, 2, owner="marie@gatineau.example.ca")

    assert search(api, GATINEAU_AGENT, q="luc@gatineau")[0] == [wanted]


def test_a_search_never_finds_another_citys_conversation(region):  # noqa: F811
    api, _ = region
    stored(
        KINGSTON.geonameid,
        1,
        body="Hydrant leaking on Princess St",
        phone="+1******4567",
        owner="sam@kingston.example.ca",
    )

    for q in ("hydrant", "4567", "sam@kingston", "princess", "garbage"):
        assert search(api, GATINEAU_SUPERVISOR, q=q)[0] == [], q


def test_paging_past_50_returns_every_conversation_once_newest_first(region):  # noqa: F811
    api, _ = region
    made = [stored(GATINEAU.geonameid, n) for n in range(1, 56)]

    first, cursor = search(api, GATINEAU_AGENT)
    second, end = search(api, GATINEAU_AGENT, cursor=cursor)

    assert len(first) == 50 and cursor is not None
    everything = first + second
    assert end is None or search(api, GATINEAU_AGENT, cursor=end)[0] == []
    assert len(everything) == len(set(everything)) == 56  # the 55 and the fixture's own text
    assert everything[1:] == list(reversed(made))  # the fixture's text is the newest


def test_another_citys_cursor_is_refused(region):  # noqa: F811
    api, _ = region
    for n in range(1, 56):
        stored(KINGSTON.geonameid, n)
    _, kingston_cursor = search(api, KINGSTON_AGENT)

    status, body = call(api, "GET", "/conversations", GATINEAU_AGENT, query={"cursor": kingston_cursor})

    assert status == 400 and "cursor" in body["message"]


def _tampered(cursor_city: int, key_city: int, conversation: str) -> str:
    key = {
        "municipality_id": {"N": str(key_city)},
        "conversation_id": {"S": conversation},
        "last_message_at": {"S": "2026-11-02T14:00:00.000000+0000"},
    }
    raw = json.dumps({"city": cursor_city, "key": key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _tampered(GATINEAU.geonameid, KINGSTON.geonameid, f"{KINGSTON.geonameid}-search0001"),  # the key's city
        _tampered(GATINEAU.geonameid, GATINEAU.geonameid, f"{KINGSTON.geonameid}-search0001"),  # the conversation's
        _tampered(KINGSTON.geonameid, GATINEAU.geonameid, f"{GATINEAU.geonameid}-search0001"),  # the cursor's
        "not-base64-json!!",
        base64.urlsafe_b64encode(b'{"city": 5959974, "key": {"x": 1}}').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
    ],
)
def test_a_tampered_or_malformed_cursor_is_400(region, cursor):  # noqa: F811
    api, _ = region
    status, body = call(api, "GET", "/conversations", GATINEAU_AGENT, query={"cursor": cursor})
    assert status == 400 and body["message"].startswith("cursor:")


def test_a_cursor_of_the_callers_own_city_is_taken(region):  # noqa: F811
    api, _ = region
    older = stored(GATINEAU.geonameid, 1)
    newer = stored(GATINEAU.geonameid, 2)
    key = {
        "municipality_id": {"N": str(GATINEAU.geonameid)},
        "conversation_id": {"S": newer},
        "last_message_at": {"S": (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
    }

    assert search(api, GATINEAU_AGENT, cursor=encode_cursor(GATINEAU.geonameid, key))[0] == [older]


def test_the_thread_lists_the_residents_earlier_conversations_with_this_city_only(region):  # noqa: F811
    api, _ = region
    [current] = ids(api, GATINEAU_AGENT)
    phone_hash = ConversationModel.get(GATINEAU.geonameid, current).phone_hash
    earlier = stored(GATINEAU.geonameid, 1, subject="Snow not cleared", phone_hash=phone_hash, status="closed")
    stored(KINGSTON.geonameid, 1, subject="Kingston matter", phone_hash=phone_hash, status="closed")
    stored(GATINEAU.geonameid, 2, subject="Another resident", phone_hash="hash-other")

    _, thread = call(api, "GET", f"/conversations/{current}", GATINEAU_AGENT)

    assert [(c["id"], c["subject"], c["status"]) for c in thread["earlier"]] == [
        (earlier, "Snow not cleared", "closed")
    ]


def test_a_new_conversation_shows_the_closed_one_beside_it(region):  # noqa: F811
    api, _ = region
    [first] = ids(api, GATINEAU_AGENT)
    call(api, "POST", f"/conversations/{first}/close", GATINEAU_AGENT)
    text_again("Gatineau")
    text_again("Now the streetlight is out on rue Laurier")
    [second] = ids(api, GATINEAU_AGENT)

    _, thread = call(api, "GET", f"/conversations/{second}", GATINEAU_AGENT)

    assert second != first and [c["id"] for c in thread["earlier"]] == [first]
    assert RESIDENT not in json.dumps(thread)  # the number itself never reaches the page
