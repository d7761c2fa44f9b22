"""Service requests (issue 20): what an agent files from a conversation or a city's Open311 client
posts, with a per-city sequential reference and the history of its status.

A reference is ``<prefix>-<number>`` (``GAT-1001``, ``GAT-1002``…): the prefix is three letters of the
city's name, the number the city's counter plus one. The counter moves in the same DynamoDB
transaction that writes the request, on condition that it still holds the value read, so two
filings at once never get the same number and a failed filing skips none; the loser of a race reads
the counter again and retries. An idempotency key (an answer's Message-ID) is claimed in that same
transaction: a second filing with the key returns the first request.

The store keeps no phone number or e-mail address of a resident: a request points at its
conversation, which holds the resident.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from text311.adapters.requests_table import (
    CLAIM_KEY_PREFIX,
    COUNTER_KEY,
    REQUEST_KEY_PREFIX,
    RequestModel,
    StatusChangeMap,
)
from text311.console_errors import UnknownRequest  # defined apart for the console API's cold start
from text311.i18n import fold

if TYPE_CHECKING:
    from text311.subscribers import Subscriber

OPEN, IN_PROGRESS, CLOSED = "open", "in_progress", "closed"
STATUSES = (OPEN, IN_PROGRESS, CLOSED)
SOURCES = ("sms", "open311")

# The first reference of a city is <prefix>-1001: four digits read like a ticket number.
FIRST_NUMBER = 1001
# A claim outlives any redelivery of the mail that made it (SES retries for hours, SQS for days).
CLAIM_KEPT = timedelta(days=30)
CLAIM_HELD, CLAIM_DONE = "held", "done"  # a claim's state when its caller must finish it (claim_once)
# Filings racing for one city's counter: each retry reads it again. Far above what one city's
# agents do at once; the last failure is raised.
FILE_ATTEMPTS = 25


class ServiceRequestError(ValueError):
    """A status, source or reference that the store does not accept."""


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: str
    note: str
    by: str  # agent e-mail, "open311" for API-created, "system"


@dataclass(frozen=True)
class ServiceRequest:
    city_id: str
    reference: str
    service_code: str
    status: str
    description: str
    address: str | None
    lat: float | None
    lon: float | None
    requested_at: datetime
    updated_at: datetime
    conversation_id: str | None
    source: str
    history: tuple[StatusChange, ...]


def reference_prefix(subscriber: Subscriber) -> str:
    """Three letters of the city's name, accents dropped, upper case: Gatineau → GAT, Lévis → LEV.
    A name with fewer letters is padded with X; one with none (never in the directory) reads REQ."""
    letters = "".join(c for c in fold(subscriber.display_name) if "a" <= c <= "z")
    if not letters:
        return "REQ"
    return (letters[:3] + "XX")[:3].upper()


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ServiceRequestError("times must be timezone-aware")
    return at.astimezone(UTC)


def _request(item: RequestModel) -> ServiceRequest:
    return ServiceRequest(
        city_id=item.city_id,
        reference=item.reference or "",
        service_code=item.service_code or "",
        status=item.status or OPEN,
        description=item.description or "",
        address=item.address,
        lat=float(item.lat) if item.lat is not None else None,
        lon=float(item.lon) if item.lon is not None else None,
        requested_at=_utc(item.requested_at),
        updated_at=_utc(item.updated_at or item.requested_at),
        conversation_id=item.conversation_id,
        source=item.source or "sms",
        history=tuple(
            StatusChange(at=_utc(change.at), status=change.status, note=change.note or "", by=change.by)
            for change in item.history or ()
        ),
    )


def _is_request(item: RequestModel) -> bool:
    return item.item_key.startswith(REQUEST_KEY_PREFIX) and item.requested_at is not None


def _cancelled_by_race(exc: TransactWriteError) -> bool:
    """Another writer held or changed an item of ours meanwhile: read again and retry."""
    return any(
        r is not None and r.code in ("ConditionalCheckFailed", "TransactionConflict")
        for r in exc.cancellation_reasons or []
    )


# (``ServiceRequestStore.list`` hides the builtin inside the class body.)
Requests = list[ServiceRequest]


class ServiceRequestStore:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    def file(
        self,
        *,
        city_id: str,
        prefix: str,
        service_code: str,
        description: str,
        address: str | None,
        lat: float | None,
        lon: float | None,
        conversation_id: str | None,
        source: str,
        by: str,
        idempotency_key: str | None = None,
    ) -> ServiceRequest:
        """File a new request, numbered after the city's last one; with ``idempotency_key``, at most
        one request is ever filed under that key (a second call returns the first request)."""
        if source not in SOURCES:
            raise ServiceRequestError(f"unknown source {source!r}")
        if not service_code:
            raise ServiceRequestError("a request needs a service code")
        if (lat is None) != (lon is None):
            raise ServiceRequestError("a point needs both lat and lon")
        for attempt in range(FILE_ATTEMPTS):
            if idempotency_key is not None:
                filed = self._claimed(city_id, idempotency_key)
                if filed is not None:
                    return filed
            last = self._last_number(city_id)
            number = FIRST_NUMBER if last is None else last + 1
            now = _utc(self._clock())
            item = RequestModel(
                city_id=city_id,
                item_key=f"{REQUEST_KEY_PREFIX}{prefix}-{number}",
                reference=f"{prefix}-{number}",
                service_code=service_code,
                status=OPEN,
                description=description,
                address=address,
                lat=lat,
                lon=lon,
                requested_at=now,
                updated_at=now,
                conversation_id=conversation_id,
                source=source,
                history=[StatusChangeMap(at=now, status=OPEN, note="", by=by)],
            )
            try:
                self._write(item, last, number, idempotency_key, now)
            except TransactWriteError as exc:
                # The counter moved, or the key was claimed meanwhile: the next turn reads both again.
                if not _cancelled_by_race(exc) or attempt == FILE_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not a secret
                continue
            return _request(item)
        raise AssertionError("unreachable")  # pragma: no cover

    def _claimed(self, city_id: str, key: str) -> ServiceRequest | None:
        try:
            claim = RequestModel.get(city_id, f"{CLAIM_KEY_PREFIX}{key}", consistent_read=True)
        except DoesNotExist:
            return None
        return self.get(city_id, claim.reference or "")

    def _last_number(self, city_id: str) -> int | None:
        try:
            counter = RequestModel.get(city_id, COUNTER_KEY, consistent_read=True)
        except DoesNotExist:
            return None
        return int(counter.last) if counter.last is not None else None

    def _write(self, item: RequestModel, last: int | None, number: int, key: str | None, now: datetime) -> None:
        """One transaction: the counter moves from ``last`` to ``number`` (only if it still holds
        ``last``), the request is written (only if new), and the key, if any, is claimed."""
        counter = RequestModel(city_id=item.city_id, item_key=COUNTER_KEY)
        unchanged = RequestModel.last.does_not_exist() if last is None else RequestModel.last == last
        with TransactWrite(connection=RequestModel._get_connection().connection) as transaction:
            transaction.update(counter, [RequestModel.last.set(number)], condition=unchanged)
            transaction.save(item, condition=RequestModel.item_key.does_not_exist())
            if key is not None:
                claim = RequestModel(
                    city_id=item.city_id,
                    item_key=f"{CLAIM_KEY_PREFIX}{key}",
                    reference=item.reference,
                    expires_at=now + CLAIM_KEPT,
                )
                transaction.save(claim, condition=RequestModel.item_key.does_not_exist())

    def get(self, city_id: str, reference: str) -> ServiceRequest | None:
        if not reference:
            return None
        try:
            item = RequestModel.get(city_id, f"{REQUEST_KEY_PREFIX}{reference}", consistent_read=True)
        except DoesNotExist:
            return None
        return _request(item) if _is_request(item) else None

    def claimed(self, city_id: str, key: str) -> str | None:
        """The reference an idempotency key was used for (by ``file`` or ``set_status``), if any."""
        try:
            return RequestModel.get(city_id, f"{CLAIM_KEY_PREFIX}{key}", consistent_read=True).reference
        except DoesNotExist:
            return None

    def claim_once(self, city_id: str, key: str, reference: str, *, abandoned_after: timedelta | None = None) -> bool:
        """Claim ``key`` (for ``reference``): True for the one caller that claims it first, False
        for every later or concurrent one. What is done once per key (an agent's notice) follows.
        With ``abandoned_after``, the claim is "held" until ``finish_claim``, and a claim held longer than
        that belongs to an invocation that died before finishing: the next caller takes it over (what it
        guarded is then done again, at least once rather than never)."""
        now = _utc(self._clock())
        claim = RequestModel(
            city_id=city_id,
            item_key=f"{CLAIM_KEY_PREFIX}{key}",
            reference=reference,
            expires_at=now + CLAIM_KEPT,
        )
        free = RequestModel.item_key.does_not_exist()
        if abandoned_after is not None:
            claim.status, claim.updated_at = CLAIM_HELD, now
            free = free | ((RequestModel.status == CLAIM_HELD) & (RequestModel.updated_at < now - abandoned_after))
        try:
            claim.save(condition=free)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def finish_claim(self, city_id: str, key: str) -> None:
        """What a held claim guarded is done: no later caller takes it over."""
        RequestModel(city_id=city_id, item_key=f"{CLAIM_KEY_PREFIX}{key}").update(
            actions=[RequestModel.status.set(CLAIM_DONE)]
        )

    def release_claim(self, city_id: str, key: str) -> None:
        """Give a claim back (what it guarded failed), so that the next try claims it again."""
        RequestModel(city_id=city_id, item_key=f"{CLAIM_KEY_PREFIX}{key}").delete()

    def set_status(
        self, city_id: str, reference: str, status: str, note: str, by: str, idempotency_key: str | None = None
    ) -> ServiceRequest:
        """Record a status change (also a note on an unchanged status): appended to the history in
        one conditional update, so changes made at once are all kept. With ``idempotency_key`` the
        change is made at most once (a second call returns the request as it is)."""
        if status not in STATUSES:
            raise ServiceRequestError(f"unknown status {status!r}")
        now = _utc(self._clock())
        item = RequestModel(city_id=city_id, item_key=f"{REQUEST_KEY_PREFIX}{reference}")
        change = StatusChangeMap(at=now, status=status, note=note, by=by)
        actions: list[Action] = [
            RequestModel.status.set(status),
            RequestModel.updated_at.set(now),
            RequestModel.history.set(RequestModel.history.append([change])),
        ]
        exists = RequestModel.requested_at.exists()
        if idempotency_key is None:
            try:
                item.update(actions=actions, condition=exists)
            except UpdateError as exc:
                if exc.cause_response_code == "ConditionalCheckFailedException":
                    raise UnknownRequest(reference) from exc
                raise
            return _request(item)
        claim = RequestModel(
            city_id=city_id,
            item_key=f"{CLAIM_KEY_PREFIX}{idempotency_key}",
            reference=reference,
            expires_at=now + CLAIM_KEPT,
        )
        try:
            with TransactWrite(connection=RequestModel._get_connection().connection) as transaction:
                transaction.update(item, actions, condition=exists)
                transaction.save(claim, condition=RequestModel.item_key.does_not_exist())
        except TransactWriteError as exc:
            # (pynamodb orders a transaction's items by kind, so reasons are read from the table.)
            if not _cancelled_by_race(exc) or self.claimed(city_id, idempotency_key) is None:
                if self.get(city_id, reference) is None:
                    raise UnknownRequest(reference) from exc
                raise
        found = self.get(city_id, reference)
        if found is None:
            raise UnknownRequest(reference)
        return found

    def list(
        self,
        city_id: str,
        *,
        start: datetime,
        end: datetime,
        service_code: str | None = None,
        status: str | None = None,
        limit: int = 1000,
    ) -> Requests:
        """The city's requests filed between ``start`` and ``end`` (both included), newest first."""
        if limit <= 0:
            return []
        condition = None
        if service_code is not None:
            condition = RequestModel.service_code == service_code
        if status is not None:
            by_status = RequestModel.status == status
            condition = by_status if condition is None else condition & by_status
        found: Requests = []
        for item in RequestModel.by_requested.query(
            city_id,
            RequestModel.requested_at.between(_utc(start), _utc(end)),
            filter_condition=condition,
            scan_index_forward=False,
        ):
            found.append(_request(item))
            if len(found) >= limit:
                break
        return found

    def for_conversation(self, city_id: str, conversation_id: str) -> Requests:
        """The requests filed from one conversation, newest first. Read consistently (a local
        secondary index allows it): a request filed a moment ago is among them."""
        items = RequestModel.by_conversation.query(
            city_id, RequestModel.conversation_id == conversation_id, consistent_read=True
        )
        return sorted((_request(i) for i in items), key=lambda r: (r.requested_at, r.reference), reverse=True)
