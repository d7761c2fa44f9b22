"""What a failed send means for the message: try again (and slow down), give up and say so, or
don't know.

The drainer never retries on its own judgement of an exception's text: every exception goes
through :func:`classify`, which knows End User Messaging's error codes (botocore ``ClientError``),
botocore's transport errors, this package's own error types, and the adapter's
(``text311.adapters.sms_sender``: ``RecipientOptedOut``, ``PermanentSendFailure``,
``TransientSendFailure``, a throttling error) by name, so either sender can be plugged in.

Whether a request reached the service decides between "retry" and "in doubt", because
SendTextMessage has no idempotency token: a request that may have been accepted is never sent again
(see :class:`text311.outbound.ledger.LedgerState` and docs/outbound.md, "The crash window").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    THROTTLED = "throttled"  # refused before sending: slow down, requeue at the head
    TRANSIENT = "transient"  # refused before sending, not a rate problem: back off, requeue
    PERMANENT = "permanent"  # will never succeed: record, tell the agent, never retry
    IN_DOUBT = "in_doubt"  # may have been accepted: record, tell the agent, never resend


class FailureReason(StrEnum):
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    SPEND_LIMIT = "spend_limit"
    BLOCKED = "blocked"  # country or protect configuration, account reputation
    REJECTED = "rejected"  # any other permanent refusal
    IN_DOUBT = "in_doubt"  # crash or timeout after the request left: maybe sent, not resent
    GAVE_UP = "gave_up"  # transient failures past the limit (the queue's DLQ takes it from here)


class SendError(Exception):
    """Base of this package's sender errors (the minimal adapter raises them)."""


class Throttled(SendError):
    pass


class TransientFailure(SendError):
    pass


class InDoubt(SendError):
    pass


class PermanentFailure(SendError):
    def __init__(self, reason: FailureReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Classified:
    outcome: Outcome
    reason: FailureReason | None = None


# End User Messaging (pinpoint-sms-voice-v2) error code, Reason → what it means for one message.
_PERMANENT_REASONS = {
    "DESTINATION_PHONE_NUMBER_OPTED_OUT": FailureReason.OPTED_OUT,
    "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT": FailureReason.SPEND_LIMIT,
    "DESTINATION_COUNTRY_BLOCKED": FailureReason.BLOCKED,
    "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION": FailureReason.BLOCKED,
    "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE": FailureReason.BLOCKED,
    "INSUFFICIENT_ACCOUNT_REPUTATION": FailureReason.BLOCKED,
    "ACCOUNT_DISABLED": FailureReason.BLOCKED,
    "CANNOT_PARSE": FailureReason.INVALID_NUMBER,
    "COUNTRY_CODE_MISMATCH": FailureReason.INVALID_NUMBER,
    "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY": FailureReason.INVALID_NUMBER,
}
_THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException"}
_TRANSIENT_CODES = {"InternalServerException", "ServiceUnavailable", "InternalFailure"}
_PERMANENT_CODES = {"ValidationException", "ConflictException", "ServiceQuotaExceededException",
                    "AccessDeniedException", "ResourceNotFoundException"}


def classify(exc: BaseException) -> Classified:
    if isinstance(exc, Throttled):
        return Classified(Outcome.THROTTLED)
    if isinstance(exc, TransientFailure):
        return Classified(Outcome.TRANSIENT)
    if isinstance(exc, InDoubt):
        return Classified(Outcome.IN_DOUBT, FailureReason.IN_DOUBT)
    if isinstance(exc, PermanentFailure):
        return Classified(Outcome.PERMANENT, exc.reason)
    client_error = _client_error(exc)
    if client_error is not None:
        return client_error
    transport = _transport_error(exc)
    if transport is not None:
        return transport
    return _adapter_error(exc)


def _client_error(exc: BaseException) -> Classified | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict) or "Error" not in response:
        return None
    code = response["Error"].get("Code", "")
    reason_code = response.get("Reason") or response["Error"].get("Reason", "")
    if code in _THROTTLING_CODES:
        return Classified(Outcome.THROTTLED)
    if code in _TRANSIENT_CODES:
        # The service answered with an error: it did not take the message (a 5xx is retried by every
        # AWS SDK on the same reasoning).
        return Classified(Outcome.TRANSIENT)
    if reason_code in _PERMANENT_REASONS:
        return Classified(Outcome.PERMANENT, _PERMANENT_REASONS[reason_code])
    if code in _PERMANENT_CODES:
        return Classified(Outcome.PERMANENT, FailureReason.REJECTED)
    return Classified(Outcome.TRANSIENT)


def _transport_error(exc: BaseException) -> Classified | None:
    from botocore import exceptions as bx

    # The request never left (no connection): safe to send again.
    if isinstance(exc, (bx.ConnectTimeoutError, bx.EndpointConnectionError)):
        return Classified(Outcome.TRANSIENT)
    # The request left and no answer came back: the service may have accepted it.
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectionClosedError)):
        return Classified(Outcome.IN_DOUBT, FailureReason.IN_DOUBT)
    return None


def _adapter_error(exc: BaseException) -> Classified:
    """The adapter's errors by class name (its module may not exist yet; no import needed)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if any("Throttl" in name for name in names):
        return Classified(Outcome.THROTTLED)
    if "RecipientOptedOut" in names:
        return Classified(Outcome.PERMANENT, FailureReason.OPTED_OUT)
    if "ReplyTooLong" in names:
        return Classified(Outcome.PERMANENT, FailureReason.REJECTED)
    if "PermanentSendFailure" in names:
        reason = getattr(exc, "reason", None)
        return Classified(Outcome.PERMANENT, _PERMANENT_REASONS.get(str(reason), FailureReason.REJECTED))
    if "TransientSendFailure" in names:
        cause = exc.__cause__
        return classify(cause) if cause is not None and cause is not exc else Classified(Outcome.TRANSIENT)
    # Unknown: we cannot tell whether the request left, so it is not resent.
    return Classified(Outcome.IN_DOUBT, FailureReason.IN_DOUBT)

