"""The texts a resident gets about their service requests, in their language, one SMS each: the
reference when a request is filed, each status change (with the agent's note, trimmed to fit), and
the answer to STATUS. Built here, sent by the caller through the paced outbound path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from text311.i18n import Catalog, catalog
from text311.service_requests import ServiceRequest
from text311.sms import fits_one_segment, normalise

# A city may name a service at length; a text names at most this much of it.
SERVICE_NAME_MAX = 40
# The STATUS answer lists at most this many requests, newest first, as many as fit one SMS.
STATUS_ITEMS_MAX = 3
_TRIMMED = "..."  # GSM-7, unlike the ellipsis character


def service_name(subscriber: Any, code: str, language: str) -> str:
    """The service's name in ``language`` (else its first), or its code when the city dropped it."""
    for service in getattr(subscriber, "services", ()):
        if service.service_code == code:
            return _shorten(service.text(language).service_name, SERVICE_NAME_MAX)
    return _shorten(code, SERVICE_NAME_MAX)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(_TRIMMED)].rstrip() + _TRIMMED


def _one_sms(text: str) -> bool:
    return fits_one_segment(normalise(text))


def filed_text(language: str, request: ServiceRequest, name: str, words: Catalog | None = None) -> str:
    return (words or catalog()).message(language, "request_filed", reference=request.reference, service=name)


def status_word(language: str, status: str, words: Catalog | None = None) -> str:
    return (words or catalog()).message(language, f"status_{status}")


def status_change_text(
    language: str, request: ServiceRequest, name: str, note: str, words: Catalog | None = None
) -> str:
    """``request_status`` with as much of ``note`` as one SMS holds (cut at a word, marked "...")."""
    words = words or catalog()

    def text(with_note: str) -> str:
        return words.message(
            language,
            "request_status",
            reference=request.reference,
            service=name,
            status=status_word(language, request.status, words),
            note=f" {with_note}" if with_note else "",
        )

    note = " ".join(note.split())
    if _one_sms(text(note)):
        return text(note)
    kept = note.split(" ")
    while kept:
        kept.pop()
        candidate = " ".join(kept).rstrip(",;:.") + _TRIMMED if kept else ""
        if _one_sms(text(candidate)):
            return text(candidate)
    return text("")


def status_reply(
    language: str, requests: Sequence[ServiceRequest], names: dict[str, str], words: Catalog | None = None
) -> str:
    """The latest status of each request, newest first, as many as one SMS holds (at least one)."""
    words = words or catalog()
    if not requests:
        return words.message(language, "status_none")
    items: list[str] = []
    for request in _newest(requests)[:STATUS_ITEMS_MAX]:
        item = words.message(
            language,
            "status_item",
            reference=request.reference,
            service=names.get(request.service_code, request.service_code),
            status=status_word(language, request.status, words),
        )
        candidate = words.message(language, "status_reply", requests="; ".join([*items, item]))
        if items and not _one_sms(candidate):
            break
        items.append(item)
    return words.message(language, "status_reply", requests="; ".join(items))


def _newest(requests: Iterable[ServiceRequest]) -> list[ServiceRequest]:
    return sorted(requests, key=lambda r: r.updated_at, reverse=True)
