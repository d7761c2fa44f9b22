"""Payloads AWS puts inside its envelopes, as pydantic models (field names exactly as AWS sends them).

The envelopes themselves (SQS record, SNS notification, SES receipt) are Powertools' parser
models; these are what travel inside them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TwoWaySmsPayload(BaseModel):
    """End User Messaging's two-way SMS message, published to SNS as the ``Message`` string.
    Source: AWS End User Messaging SMS User Guide, "Example of a two-way SMS message payload"."""

    model_config = ConfigDict(extra="ignore")  # AWS may add fields; we read only these

    originationNumber: str = Field(min_length=1)
    destinationNumber: str = Field(min_length=1)
    messageKeyword: str | None = None
    messageBody: str = ""
    inboundMessageId: str = Field(min_length=1, max_length=256)
    previousPublishedMessageId: str | None = None
