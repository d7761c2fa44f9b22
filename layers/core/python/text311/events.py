"""Payloads AWS puts inside its envelopes, as pydantic models (field names exactly as AWS sends them).

The envelopes themselves (SQS record, SNS notification, SES receipt) are Powertools' parser
models; these are what travel inside them.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import ses as _ses
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


# SES receipt event: Powertools' models, completed with what SES sends and they leave out
# (dkimVerdict, dmarcPolicy, the DISABLED status when scanning is off, a missing Subject).
VerdictStatus = Literal["PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED"]


class SesVerdict(_ses.SesReceiptVerdict):
    status: VerdictStatus  # type: ignore[assignment]


class SesReceipt(_ses.SesReceipt):
    spamVerdict: SesVerdict
    virusVerdict: SesVerdict
    spfVerdict: SesVerdict
    dkimVerdict: SesVerdict = SesVerdict(status="GRAY")
    dmarcVerdict: SesVerdict
    dmarcPolicy: str | None = None


class SesCommonHeaders(_ses.SesMailCommonHeaders):
    subject: str = ""
    to: list[str] = []


class SesMail(_ses.SesMail):
    commonHeaders: SesCommonHeaders


class SesMessage(_ses.SesMessage):
    mail: SesMail
    receipt: SesReceipt


class SesRecord(_ses.SesRecordModel):
    ses: SesMessage


class SesReceiptEvent(_ses.SesModel):
    Records: list[SesRecord]  # type: ignore[assignment]


class SmsEventPayload(BaseModel):
    """One SMS event from a configuration set's event destination.
    Source: AWS End User Messaging User Guide, "Messaging Events", SMS example log."""

    model_config = ConfigDict(extra="ignore")

    eventType: str
    eventTimestamp: int
    isFinal: bool = False
    messageId: str
    messageStatus: str
    messageStatusDescription: str = ""
    destinationPhoneNumber: str | None = None
    context: dict[str, str] = Field(default_factory=dict)
    totalMessageParts: int | None = None


class SesEventMail(BaseModel):
    """The ``mail`` object of an SES sending event; ``tags`` holds our message tags next to SES's
    own (``ses:configuration-set``…), each a list of values; ``destination`` every recipient of the
    mail (To, Cc and Bcc), where a bounce's or complaint's recipients are only those it is about."""

    model_config = ConfigDict(extra="ignore")

    timestamp: str
    messageId: str = Field(min_length=1)
    destination: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)


class SesEventRecipient(BaseModel):
    model_config = ConfigDict(extra="ignore")

    emailAddress: str


class SesBounce(BaseModel):
    """``bounce`` of a Bounce event: ``Permanent`` (``General``, ``NoEmail``, ``Suppressed``,
    ``OnAccountSuppressionList``…), ``Transient`` (``MailboxFull``…) or ``Undetermined``."""

    model_config = ConfigDict(extra="ignore")

    bounceType: str
    bounceSubType: str = ""
    bouncedRecipients: list[SesEventRecipient] = Field(default_factory=list)


class SesComplaint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    complainedRecipients: list[SesEventRecipient] = Field(default_factory=list)
    complaintFeedbackType: str | None = None


class SesDeliveryDelay(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delayType: str = ""
    delayedRecipients: list[SesEventRecipient] = Field(default_factory=list)


class SesSendingEvent(BaseModel):
    """An SES event published by the configuration set to SNS (the SNS ``Message`` string).
    Source: Amazon SES Developer Guide, "Examples of event data that Amazon SES publishes to Amazon
    SNS" (Send, Bounce, Complaint, Delivery, DeliveryDelay records). ``Send`` confirms a mail
    (text311.mail_confirmations); the others tell what became of it (text311.mail_feedback)."""

    model_config = ConfigDict(extra="ignore")

    eventType: str
    mail: SesEventMail
    bounce: SesBounce | None = None
    complaint: SesComplaint | None = None
    deliveryDelay: SesDeliveryDelay | None = None
