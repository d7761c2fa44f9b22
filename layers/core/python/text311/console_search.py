"""Finding a city's conversations in the console (issue 22, item 6): the inbox's filters, a search box
and paging past 50 with a cursor.

Everything is a Query of the caller's own partition (``by-activity``, newest first), so a search can
never reach another city's conversations. The box matches a conversation when its words appear in the
subject, in any of its messages (texts, answers, notes), in its agent's address, or, for four digits,
at the end of the masked number ("+1******4567"); a service request's reference ("GAT-1042") finds the
conversation it was filed from, whatever the filters (one GetItem of the city's requests, then of the
conversation). Messages are read per conversation, so one request
looks at ``EXAMINED`` conversations at most and returns a cursor to go on from there: a rare word in a
large city is found page by page, never by one long request.

The cursor is DynamoDB's LastEvaluatedKey, encoded (base64url JSON) with the city it belongs to. A cursor
of another city, or one changed to point into another city's partition, is refused (``BadCursor``);
within the caller's partition a cursor can only move the start of the caller's own list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.cursors import BadCursor, pack, unpack

PAGE = 50
# Conversations looked at per request when the search must read their messages.
EXAMINED = 100
_LAST_FOUR = re.compile(r"^\d{4}$")
# The by-activity index's LastEvaluatedKey: the table's keys and the index's sort key.
_CURSOR_KEYS = {"municipality_id": "N", "conversation_id": "S", "last_message_at": "S"}


def encode_cursor(city_id: int, key: dict[str, dict[str, str]] | None) -> str | None:
    if not key:
        return None
    return pack({"city": int(city_id), "key": key})


def decode_cursor(city_id: int, cursor: str | None) -> dict[str, dict[str, str]] | None:
    """The LastEvaluatedKey a cursor carries, checked to lie in ``city_id``'s partition."""
    if not cursor:
        return None
    data, key = unpack(cursor)
    if set(key) != set(_CURSOR_KEYS):
        raise BadCursor("cursor: not a cursor this list returned")
    for name, kind in _CURSOR_KEYS.items():
        value = key[name]
        if not isinstance(value, dict) or set(value) != {kind} or not isinstance(value[kind], str):
            raise BadCursor("cursor: not a cursor this list returned")
    if data.get("city") != int(city_id) or key["municipality_id"]["N"] != str(int(city_id)):
        raise BadCursor("cursor: it belongs to another city's list")
    if not key["conversation_id"]["S"].startswith(f"{int(city_id)}-"):
        raise BadCursor("cursor: it belongs to another city's list")
    return key


@dataclass(frozen=True)
class Search:
    status: str | None = "open"  # "open", "closed", anything else: all
    view: str | None = None  # "mine", "unassigned", else anyone's
    text: str = ""  # the search box
    cursor: str | None = None


def _filters(search: Search, caller_email: str) -> Any:
    model = ConversationModel
    condition: Any = None
    if search.status in ("open", "closed"):
        condition = model.status == search.status
    if search.view == "mine":
        mine = model.owner_email == caller_email
        condition = mine if condition is None else condition & mine
    elif search.view == "unassigned":
        free = model.owner_email.does_not_exist()
        condition = free if condition is None else condition & free
    return condition


def _matches(conversation: ConversationModel, needle: str) -> bool:
    if _LAST_FOUR.match(needle) and (conversation.phone_masked or "").endswith(needle):
        return True
    if needle in (conversation.subject or "").casefold() or needle in (conversation.owner_email or "").casefold():
        return True
    messages = MessageModel.query(conversation.conversation_id, attributes_to_get=["body"])
    return any(needle in (m.body or "").casefold() for m in messages)


def find(
    city_id: int, caller_email: str, search: Search, view: Callable[[ConversationModel], dict[str, Any]]
) -> dict[str, Any]:
    """One page: ``{"conversations": [...], "cursor": str | None}`` (None: nothing further)."""
    by_reference = None if search.cursor else reference_conversation(city_id, search.text)
    if by_reference is not None:
        return {"conversations": [view(by_reference)], "cursor": None}
    start = decode_cursor(city_id, search.cursor)
    found = ConversationModel.by_activity.query(
        int(city_id),
        scan_index_forward=False,
        filter_condition=_filters(search, caller_email),
        last_evaluated_key=start,
    )
    needle = search.text.casefold().strip()
    page: list[dict[str, Any]] = []
    examined = 0
    for conversation in found:
        examined += 1
        if not needle or _matches(conversation, needle):
            page.append(view(conversation))
        if len(page) >= PAGE or (needle and examined >= EXAMINED):
            break
    return {"conversations": page, "cursor": encode_cursor(city_id, found.last_evaluated_key)}


def reference_conversation(city_id: int, text: str) -> ConversationModel | None:
    """The conversation a service request's reference ("GAT-1042", "gat1042") was filed from, looked up
    in the city's own partition of the requests table; None when the text is no reference of the city."""
    from text311.keywords import request_reference
    from text311.service_requests import ServiceRequestStore

    reference = request_reference(text)
    if reference is None:
        return None
    request = ServiceRequestStore().get(str(int(city_id)), reference)
    if request is None or not request.conversation_id:
        return None
    try:
        return ConversationModel.get(int(city_id), request.conversation_id)
    except ConversationModel.DoesNotExist:  # erased since
        return None


def earlier_conversations(city_id: int, conversation: ConversationModel, limit: int = 20) -> list[dict[str, Any]]:
    """The same resident's other conversations with this city, newest first. The by-resident index
    spans cities, so the city is a filter of the query and checked again on each item."""
    model = ConversationModel
    found = model.by_resident.query(
        conversation.phone_hash, scan_index_forward=False, filter_condition=model.municipality_id == int(city_id)
    )
    result = []
    for other in found:
        if int(other.municipality_id) != int(city_id) or other.conversation_id == conversation.conversation_id:
            continue
        result.append(
            {
                "id": other.conversation_id,
                "subject": other.subject,
                "status": other.status,
                "opened_at": other.opened_at.isoformat(),
            }
        )
        if len(result) >= limit:
            break
    return result
