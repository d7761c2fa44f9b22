"""A minimal End User Messaging sender for the drainer: one SendTextMessage call, no retries.

TO BE REPLACED by (or folded into) ``text311.adapters.sms_sender.EndUserMessagingSender`` when it
lands; the scheduler accepts any object with this ``send`` signature. Whatever replaces it must
keep the one rule that matters here: **no retry inside the sender**. The drainer is the only place
that retries, because it alone knows the pace; a retry in botocore (its standard mode retries
ThrottlingException and read timeouts) would break the pacing and could send twice. Build the client
with ``Config(retries={"total_max_attempts": 1})`` (see :func:`no_retry_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config


def no_retry_config() -> Config:
    return Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10)


@dataclass(frozen=True)
class SendResult:
    message_id: str


class EndUserMessagingApi:
    def __init__(self, client: Any, origination_identity: str, configuration_set: str | None = None,
                 message_type: str = "TRANSACTIONAL") -> None:
        self.client = client
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set
        self.message_type = message_type

    def send(self, destination: str, body: str, *, idempotency_key: str, context: Mapping[str, str]) -> SendResult:
        params: dict[str, Any] = {
            "DestinationPhoneNumber": destination,
            "OriginationIdentity": self.origination_identity,
            "MessageBody": body,
            "MessageType": self.message_type,
            # Our id travels with the message: every delivery event carries it back (and can settle
            # an in-doubt send).
            "Context": {**context, "outbound": idempotency_key[:100]},
        }
        if self.configuration_set:
            params["ConfigurationSetName"] = self.configuration_set
        response = self.client.send_text_message(**params)  # errors propagate; errors.classify reads them
        return SendResult(message_id=response["MessageId"])
