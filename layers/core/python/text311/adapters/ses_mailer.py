"""Sends raw MIME through SES v2 with the region's configuration set."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any


@dataclass
class SesMailer:
    client: Any  # boto3 "sesv2"
    configuration_set: str

    def send(self, message: EmailMessage) -> str:
        """Send; return SES's MessageId."""
        recipients = [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]
        response = self.client.send_email(
            FromEmailAddress=str(message["From"]),
            Destination={"ToAddresses": recipients},
            Content={"Raw": {"Data": message.as_bytes()}},
            ConfigurationSetName=self.configuration_set,
        )
        return response["MessageId"]
