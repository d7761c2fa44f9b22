"""Sends SMS through AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` SendTextMessage).

One ``send`` is one reply: the segmenter splits it into numbered SMS of one segment each
(:class:`text311.sms.SmsSegmenter`), sent in order, one SendTextMessage call each. docs/sms.md has
the policies; the short version:

- Retries (this adapter's, not botocore's): ThrottlingException, InternalServerException, any 5xx,
  and a connection that never opened, with exponential backoff and jitter, up to ``max_attempts``
  calls per part; then :class:`TransientSendFailure` (:class:`SendThrottled` when the last error was
  throttling). Build the client with :func:`client_config` (``total_max_attempts=1``): botocore's
  own retries would multiply ours and retry read timeouts, which can send an SMS twice.
- A read timeout or a connection closed mid-request may have been accepted: never resent here,
  :class:`SendInDoubt`.
- Opted out: :class:`RecipientOptedOut`. Everything else the service refuses (validation, spend
  limit, access, unknown resource, other conflicts): :class:`PermanentSendFailure` with the
  service's ``code`` and ``reason``.
- A :class:`PartLedger` claims each part before its call and records it after, under (idempotency key,
  part number): a retry of the whole send after a crash or a failure sends only the parts not yet
  recorded, and a part claimed but never recorded (the process stopped in between) is in doubt, never
  resent. :class:`DynamoDBPartLedger` keeps it across containers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from text311.sms import Encoding, SmsSegmenter, encoding_of

log = logging.getLogger(__name__)

OPTED_OUT = "DESTINATION_PHONE_NUMBER_OPTED_OUT"
# Context keys this adapter adds to every SMS (End User Messaging returns Context in every event).
KEY_CONTEXT = "idempotency_key"
PART_CONTEXT = "part"
_CONTEXT_MAX_ENTRIES = 5  # service model: Context map 0..5, key 1..100, value 1..800 characters
_CONTEXT_MAX_KEY = 100
_CONTEXT_MAX_VALUE = 800
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
_RETRYABLE_CODES = _THROTTLING_CODES | {"InternalServerException", "ServiceUnavailable", "InternalFailure"}


def client_config() -> Config:
    """The botocore config for the client this adapter drives: one HTTP attempt per call, because
    retries are this adapter's job. (Note ``retries={"max_attempts": 1}`` would mean ONE RETRY, two
    attempts; ``total_max_attempts`` counts the first call.)"""
    return Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)


@dataclass(frozen=True)
class SendResult:
    message_ids: list[str]  # one per SMS part, in order (a resumed send includes the recorded ones)
    parts: int
    encoding: str  # "GSM-7" or "UCS-2" ("UCS-2" when any part is)


class SmsSendError(Exception):
    """Base of the sender's errors. ``message_ids`` are the parts that did go out before it."""

    def __init__(self, message: str, *, message_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.message_ids = list(message_ids or [])


class PermanentSendFailure(SmsSendError):
    """The service refused and will refuse again: record the failure, tell the agent, never retry.
    ``code`` is the error code (``ValidationException``…), ``reason`` its Reason when it has one."""

    def __init__(
        self, message: str, *, code: str = "", reason: str = "", message_ids: list[str] | None = None
    ):
        super().__init__(message, message_ids=message_ids)
        self.code = code
        self.reason = reason


class RecipientOptedOut(PermanentSendFailure):
    """The resident replied STOP (the number is on the opt-out list): never text them again."""

    def __init__(
        self, message: str = "destination phone number opted out", *, message_ids: list[str] | None = None
    ):
        super().__init__(message, code="ConflictException", reason=OPTED_OUT, message_ids=message_ids)


class TransientSendFailure(SmsSendError):
    """Not sent, and worth trying again later: leave the message retriable. The last service error
    is the ``__cause__``; ``code`` is its error code."""

    def __init__(self, message: str, *, code: str = "", message_ids: list[str] | None = None) -> None:
        super().__init__(message, message_ids=message_ids)
        self.code = code


class SendThrottled(TransientSendFailure):
    """Retries exhausted on throttling: slow down before trying again."""


class SendInDoubt(SmsSendError):
    """The request left and no answer came back (read timeout, connection closed): the SMS may have
    been sent. Not retried here; resending risks a duplicate, not resending risks a loss."""


class PartLedger(Protocol):
    """Which parts of a reply went out, keyed by (idempotency key, part number from 1).

    A part is *claimed* before its SendTextMessage call and *recorded* with the SMS message id after
    it. A claim with no record means a send that may have gone out (the process stopped between the
    call and the record, or the answer never came): never sent again, :class:`SendInDoubt`."""

    def claim_part(self, idempotency_key: str, part: int) -> str | None:
        """Claim the part for sending: ``None`` when it is ours to send, the SMS message id when it
        was sent already; raises :class:`SendInDoubt` when an earlier claim never got its record."""
        ...

    def record_part(self, idempotency_key: str, part: int, message_id: str) -> None: ...

    def release_part(self, idempotency_key: str, part: int) -> None:
        """Drop a claim whose send certainly did not go out (refused, never connected)."""
        ...


_CLAIMED = ""  # a claim without a message id yet


class InMemoryPartLedger:
    """A :class:`PartLedger` in a dict: tests and the local run. Bounded: the oldest entries go first.
    A Lambda uses :class:`DynamoDBPartLedger`, so a retry in another container also resumes."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.parts: dict[tuple[str, int], str] = {}
        self.max_entries = max_entries
        self._lock = threading.Lock()

    def claim_part(self, idempotency_key: str, part: int) -> str | None:
        with self._lock:
            known = self.parts.get((idempotency_key, part))
            if known == _CLAIMED:
                raise SendInDoubt(f"part {part} of {idempotency_key} was claimed and never recorded")
            if known is not None:
                return known
            self.parts[(idempotency_key, part)] = _CLAIMED
            while len(self.parts) > self.max_entries:
                del self.parts[next(iter(self.parts))]
            return None

    def record_part(self, idempotency_key: str, part: int, message_id: str) -> None:
        with self._lock:
            self.parts[(idempotency_key, part)] = message_id

    def release_part(self, idempotency_key: str, part: int) -> None:
        with self._lock:
            if self.parts.get((idempotency_key, part)) == _CLAIMED:
                del self.parts[(idempotency_key, part)]


class DynamoDBPartLedger:
    """The durable :class:`PartLedger`: one item per part in the idempotency table (key ``id`` =
    ``sms-part#<key>#<n>``, expiring with the table's TTL like Powertools' own records). A claim is a
    conditional put carrying a token, so two containers retrying the same answer never both send a
    part, and a claim whose response was lost (the SDK retried it) is still known as ours. Records
    and releases follow a send: they are retried a few more times, since a claim left behind makes
    the part "in doubt" for good."""

    PREFIX = "sms-part#"

    def __init__(self, client: Any, table: str, ttl_seconds: int = 7 * 24 * 3600,
                 now: Callable[[], float] = time.time, attempts: int = 5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.now = now
        self.attempts = attempts
        self.sleep = sleep

    def _key(self, idempotency_key: str, part: int) -> dict[str, Any]:
        return {"id": {"S": f"{self.PREFIX}{idempotency_key}#{part}"}}

    def claim_part(self, idempotency_key: str, part: int) -> str | None:
        token = uuid.uuid4().hex
        item = {
            **self._key(idempotency_key, part),
            "owner": {"S": token},
            "expiration": {"N": str(int(self.now()) + self.ttl_seconds)},
        }
        try:
            self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(id)")
            return None
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        known = self.client.get_item(
            TableName=self.table, Key=self._key(idempotency_key, part), ConsistentRead=True
        ).get("Item", {})
        message_id = known.get("message_id", {}).get("S")
        if message_id:
            return message_id
        if known.get("owner", {}).get("S") == token:
            return None  # our own put, retried by the SDK after its response was lost
        raise SendInDoubt(f"part {part} of {idempotency_key} was claimed and never recorded")

    def record_part(self, idempotency_key: str, part: int, message_id: str) -> None:
        self._persist(lambda: self.client.update_item(
            TableName=self.table, Key=self._key(idempotency_key, part),
            UpdateExpression="SET message_id = :m", ExpressionAttributeValues={":m": {"S": message_id}},
        ))

    def release_part(self, idempotency_key: str, part: int) -> None:
        def delete() -> None:
            try:
                self.client.delete_item(
                    TableName=self.table, Key=self._key(idempotency_key, part),
                    ConditionExpression="attribute_not_exists(message_id)",
                )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise  # a recorded part stays recorded

        self._persist(delete)

    def _persist(self, write: Callable[[], Any]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                write()
                return
            except ClientError as exc:
                if attempt == self.attempts or not _retryable(exc, _code(exc)) and not _dynamodb_busy(exc):
                    raise
            self.sleep(min(1.0, 0.05 * 2**attempt))


def _dynamodb_busy(exc: ClientError) -> bool:
    return _code(exc) in ("ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException")


class SmsSender(Protocol):
    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str] | None = None
    ) -> SendResult: ...


def _context(
    idempotency_key: str, part: int, parts: int, context: Mapping[str, str] | None
) -> dict[str, str]:
    merged = dict(context or {})
    for reserved in (KEY_CONTEXT, PART_CONTEXT):
        if reserved in merged:
            raise ValueError(f"context key {reserved!r} is reserved for the SMS sender")
    merged[KEY_CONTEXT] = idempotency_key
    merged[PART_CONTEXT] = f"{part}/{parts}"
    if len(merged) > _CONTEXT_MAX_ENTRIES:
        raise ValueError(f"SMS context holds at most {_CONTEXT_MAX_ENTRIES - 2} caller entries")
    for key, value in merged.items():
        if not (
            isinstance(value, str)
            and 0 < len(key) <= _CONTEXT_MAX_KEY
            and 0 < len(value) <= _CONTEXT_MAX_VALUE
        ):
            raise ValueError(
                f"SMS context entry {key!r} must be a string of 1..{_CONTEXT_MAX_VALUE} characters"
            )
        if value != value.strip() or any(c.isspace() for c in key):
            raise ValueError(f"SMS context entry {key!r} may not have surrounding or key whitespace")
    return merged


def _encoding(parts: list[str]) -> str:
    return str(Encoding.UCS2 if any(encoding_of(p) is Encoding.UCS2 for p in parts) else Encoding.GSM7)


class EndUserMessagingSender:
    """The real :class:`SmsSender`. ``client`` is a boto3 ``pinpoint-sms-voice-v2`` client, built with
    :func:`client_config`; ``origination_identity`` a phone number, its id or ARN, or a pool.
    ``max_attempts`` counts SendTextMessage calls per part (1: no retry, for a caller that paces
    and retries itself, such as the outbound drainer)."""

    def __init__(
        self,
        client: Any,
        origination_identity: str,
        configuration_set: str | None = None,
        segmenter: SmsSegmenter | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        *,
        ledger: PartLedger | None = None,
        message_type: str = "TRANSACTIONAL",
        time_to_live: int | None = None,
        base_delay: float = 0.25,
        max_delay: float = 4.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set
        self.segmenter = segmenter or SmsSegmenter()
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.ledger: PartLedger = ledger if ledger is not None else InMemoryPartLedger()
        self.message_type = message_type
        self.time_to_live = time_to_live
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter
        _warn_if_client_retries(client)

    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str] | None = None
    ) -> SendResult:
        """Send ``body`` to ``destination`` as one or more SMS. Raises ``ReplyTooLong`` (nothing
        sent), :class:`RecipientOptedOut`, :class:`PermanentSendFailure`,
        :class:`TransientSendFailure` (:class:`SendThrottled`) or :class:`SendInDoubt`; a
        ``ValueError`` for a blank body or a context the service would reject (a bug: nothing sent)."""
        parts = self.segmenter.split(body)
        contexts = [_context(idempotency_key, n, len(parts), context) for n in range(1, len(parts) + 1)]
        message_ids: list[str] = []
        for number, (text, part_context) in enumerate(zip(parts, contexts, strict=True), 1):
            try:
                message_id = self.ledger.claim_part(idempotency_key, number)
            except SendInDoubt as exc:
                exc.message_ids = list(message_ids)
                raise
            if message_id is None:
                try:
                    message_id = self._send_part(destination, text, part_context, message_ids)
                except SendInDoubt:
                    raise  # the claim stays: this part is never sent again
                except SmsSendError:
                    self.ledger.release_part(idempotency_key, number)  # refused or never sent: free
                    raise
                self.ledger.record_part(idempotency_key, number, message_id)
            message_ids.append(message_id)
        return SendResult(message_ids=message_ids, parts=len(parts), encoding=_encoding(parts))

    def _params(self, destination: str, text: str, context: dict[str, str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "DestinationPhoneNumber": destination,
            "OriginationIdentity": self.origination_identity,
            "MessageBody": text,
            "MessageType": self.message_type,
            "Context": context,
        }
        if self.configuration_set:
            params["ConfigurationSetName"] = self.configuration_set
        if self.time_to_live is not None:
            params["TimeToLive"] = self.time_to_live
        return params

    def _send_part(self, destination: str, text: str, context: dict[str, str], sent: list[str]) -> str:
        params = self._params(destination, text, context)
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self.client.send_text_message(**params)["MessageId"]
            except ClientError as exc:
                code, reason = _code(exc), _reason(exc)
                if not _retryable(exc, code):
                    raise _permanent(exc, code, reason, sent) from exc
                failure: SmsSendError = (
                    SendThrottled if code in _THROTTLING_CODES else TransientSendFailure
                )(f"{code} after {attempt} attempt(s)", code=code, message_ids=sent)
                last: BaseException = exc
            except HTTPClientError as exc:  # read timeout, connection closed: it may have been sent
                raise SendInDoubt(f"no answer to SendTextMessage: {exc}", message_ids=sent) from exc
            except BotoConnectionError as exc:  # the connection never opened: nothing was sent
                failure = TransientSendFailure(f"cannot reach End User Messaging: {exc}", message_ids=sent)
                last = exc
            if attempt < self.max_attempts:
                self.sleep(self._delay(attempt))
        raise failure from last

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half the capped delay, plus up to the other half
        at random, so retries from concurrent senders spread out yet never come back at once."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return cap / 2 + self.jitter() * cap / 2


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _reason(exc: ClientError) -> str:
    # Modeled error members (Reason) are top-level in the parsed response; some paths leave them in Error.
    return exc.response.get("Reason") or exc.response.get("Error", {}).get("Reason", "") or ""


def _retryable(exc: ClientError, code: str) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _RETRYABLE_CODES or status >= 500


def _permanent(exc: ClientError, code: str, reason: str, sent: list[str]) -> PermanentSendFailure:
    if code == "ConflictException" and reason == OPTED_OUT:
        return RecipientOptedOut(message_ids=sent)
    message = exc.response.get("Error", {}).get("Message", "")
    detail = f"{code} {reason}".strip() + (f": {message}" if message else "")
    return PermanentSendFailure(detail, code=code, reason=reason, message_ids=sent)


def _warn_if_client_retries(client: Any) -> None:
    retries = getattr(getattr(getattr(client, "meta", None), "config", None), "retries", None) or {}
    total = retries.get("total_max_attempts")
    if isinstance(total, int) and total > 1:
        log.warning(
            "SMS client retries on its own (total_max_attempts=%s): build it with sms_sender.client_config()",
            total,
        )


@dataclass(frozen=True)
class RecordedSms:
    destination: str
    body: str  # the part as sent (with its "k/n " marker)
    idempotency_key: str
    part: int
    parts: int
    message_id: str
    context: dict[str, str]


@dataclass
class RecordingSmsSender:
    """An in-memory :class:`SmsSender` (tests, the local run): splits like the real one, records each
    part per phone, never sends a recorded part twice for the same idempotency key, and can be told
    to fail: ``opted_out`` numbers raise :class:`RecipientOptedOut`, ``rejected`` numbers a
    :class:`PermanentSendFailure` with the given reason, and :meth:`throttle` makes the next N
    sends raise :class:`SendThrottled` (nothing sent)."""

    segmenter: SmsSegmenter = field(default_factory=SmsSegmenter)
    opted_out: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)
    ledger: InMemoryPartLedger = field(default_factory=InMemoryPartLedger)
    sent: list[RecordedSms] = field(default_factory=list)
    _throttles: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def throttle(self, times: int = 1) -> None:
        with self._lock:
            self._throttles += times

    def send(
        self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str] | None = None
    ) -> SendResult:
        parts = self.segmenter.split(body)
        with self._lock:
            if self._throttles:
                self._throttles -= 1
                raise SendThrottled("ThrottlingException (recorded sender)", code="ThrottlingException")
            if destination in self.opted_out:
                raise RecipientOptedOut()
            if destination in self.rejected:
                reason = self.rejected[destination]
                raise PermanentSendFailure(
                    f"ValidationException {reason}", code="ValidationException", reason=reason
                )
            message_ids = []
            for number, text in enumerate(parts, 1):
                message_id = self.ledger.claim_part(idempotency_key, number)
                if message_id is None:
                    message_id = f"recorded-{len(self.sent) + 1:06d}"
                    part_context = _context(idempotency_key, number, len(parts), context)
                    self.sent.append(
                        RecordedSms(
                            destination, text, idempotency_key, number, len(parts), message_id, part_context
                        )
                    )
                    self.ledger.record_part(idempotency_key, number, message_id)
                message_ids.append(message_id)
        return SendResult(message_ids=message_ids, parts=len(parts), encoding=_encoding(parts))

    def to(self, destination: str) -> list[str]:
        """The SMS bodies sent to ``destination``, in order."""
        return [sms.body for sms in self.sent if sms.destination == destination]

    def by_phone(self) -> dict[str, list[RecordedSms]]:
        phones: dict[str, list[RecordedSms]] = {}
        for sms in self.sent:
            phones.setdefault(sms.destination, []).append(sms)
        return phones
