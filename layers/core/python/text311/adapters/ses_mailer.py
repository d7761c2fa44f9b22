"""Sends raw MIME through SES v2 with the region's configuration set.

SendEmail takes no idempotency token, so a call that SES may have accepted is never repeated here:
- refused before SES acted (throttling, a connection that never opened): retried here, with backoff;
- anything else that leaves the outcome unknown (a 5xx, a read timeout, a connection cut mid-call):
  :class:`MailInDoubt`. The caller lets its message be redelivered later; by then the configuration
  set's Send event has told it whether SES took the mail (:mod:`text311.mail_confirmations`).
Build the client with :func:`client_config`: botocore's own retries would resend after a 5xx.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, HTTPClientError

# SES v2 errors that mean "not accepted, try again later" (SES v2 API reference, SendEmail errors).
_REFUSED_FOR_NOW = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)


def client_config() -> Config:
    """One HTTP attempt per call: retries are this adapter's, and only where SES cannot have acted."""
    return Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)


class MailInDoubt(Exception):
    """SES may or may not have accepted the mail: do not send it again now."""


@dataclass
class SesMailer:
    client: Any  # boto3 "sesv2", built with client_config()
    configuration_set: str
    max_attempts: int = 4
    # The module's ``time`` looked up at each pause, so a simulation can count the pauses instead of sleeping.
    sleep: Callable[[float], None] = field(default=lambda seconds: time.sleep(seconds))

    def send(self, message: EmailMessage, tags: Mapping[str, str] | None = None) -> str:
        """Send; return SES's MessageId. ``tags`` become message tags, published with the
        configuration set's events (names and values: letters, digits, ``_`` and ``-``)."""
        recipients = [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
        params: dict[str, Any] = {
            "FromEmailAddress": str(message["From"]),
            "Destination": {"ToAddresses": recipients},
            "Content": {"Raw": {"Data": message.as_bytes()}},
            "ConfigurationSetName": self.configuration_set,
        }
        if tags:
            params["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self.client.send_email(**params)["MessageId"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if error.get("Code") in _REFUSED_FOR_NOW and attempt < self.max_attempts:
                    self.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempt)))
                    continue
                if status >= 500:
                    raise MailInDoubt(f"SES answered {status} {error.get('Code', '')}: the mail may be out") from exc
                raise  # a 4xx: SES refused it (or still throttles): not sent, safe to retry later
            except (EndpointConnectionError, ConnectTimeoutError):
                if attempt == self.max_attempts:
                    raise  # never connected: not sent
                self.sleep(random.uniform(0, min(2.0, 0.1 * 2**attempt)))
            except HTTPClientError as exc:
                # Read timeout, connection closed mid-call: the request may have reached SES.
                raise MailInDoubt(f"no answer from SES ({type(exc).__name__}): the mail may be out") from exc
        raise AssertionError("unreachable")
