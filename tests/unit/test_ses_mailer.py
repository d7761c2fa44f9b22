"""SesMailer against the real SES v2 service model (Stubber): it retries only where SES cannot
have taken the mail, and never repeats a call SES may have accepted."""

from __future__ import annotations

from email.message import EmailMessage

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from text311.adapters.ses_mailer import MailInDoubt, SesMailer, client_config

TAGS = {"text311-conversation": "5959974-abc23", "text311-inbound": "31303a78"}


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Text311 <notify@text311.example.ca>"
    mail["To"] = "311@gatineau.example.ca"
    mail["Cc"] = "agent@gatineau.example.ca"
    mail["Subject"] = "[Text311 #ABC] Gatineau: pothole"
    mail.set_content("Pothole on Main St")
    return mail


@pytest.fixture
def ses():
    client = boto3.client("sesv2", region_name="ca-central-1", config=client_config())
    with Stubber(client) as stubber:
        slept: list[float] = []
        yield SesMailer(client, "text311-email", sleep=slept.append), stubber, slept
        stubber.assert_no_pending_responses()


def expected(mail: EmailMessage, tags: dict[str, str] | None = None) -> dict:
    params = {
        "FromEmailAddress": "Text311 <notify@text311.example.ca>",
        "Destination": {"ToAddresses": ["311@gatineau.example.ca", "agent@gatineau.example.ca"]},
        "Content": {"Raw": {"Data": mail.as_bytes()}},
        "ConfigurationSetName": "text311-email",
    }
    if tags:
        params["EmailTags"] = [{"Name": k, "Value": v} for k, v in tags.items()]
    return params


def test_the_client_makes_one_http_attempt_per_call():
    assert client_config().retries["total_max_attempts"] == 1


def test_the_mail_goes_with_its_tags_and_ses_message_id_is_returned(ses):
    mailer, stubber, _ = ses
    mail = message()
    stubber.add_response("send_email", {"MessageId": "ses-1"}, expected(mail, TAGS))
    assert mailer.send(mail, tags=TAGS) == "ses-1"


def test_throttling_is_retried_because_ses_did_not_take_the_mail(ses):
    mailer, stubber, slept = ses
    mail = message()
    stubber.add_client_error("send_email", "TooManyRequestsException", http_status_code=429)
    stubber.add_client_error("send_email", "TooManyRequestsException", http_status_code=429)
    stubber.add_response("send_email", {"MessageId": "ses-2"}, expected(mail))
    assert mailer.send(mail) == "ses-2"
    assert len(slept) == 2


def test_a_5xx_is_in_doubt_and_not_repeated(ses):
    mailer, stubber, slept = ses
    stubber.add_client_error("send_email", "InternalFailure", http_status_code=503)
    with pytest.raises(MailInDoubt):
        mailer.send(message())
    assert slept == []  # one call only: the Stubber would fail on a second


def test_a_refusal_is_raised_as_is(ses):
    mailer, stubber, _ = ses
    stubber.add_client_error("send_email", "MessageRejected", http_status_code=400)
    with pytest.raises(ClientError) as raised:
        mailer.send(message())
    assert raised.value.response["Error"]["Code"] == "MessageRejected"


def test_a_read_timeout_is_in_doubt():
    class TimesOut:
        def send_email(self, **_):
            raise ReadTimeoutError(endpoint_url="https://email.ca-central-1.amazonaws.com")

    with pytest.raises(MailInDoubt):
        SesMailer(TimesOut(), "text311-email", sleep=lambda s: None).send(message())
