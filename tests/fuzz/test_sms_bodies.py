"""Any SMS body through the inbound_sms handler: every record answered, every text mailed intact or cleaned."""

from __future__ import annotations

from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, LambdaContext, sent_mails, text_of
from hypothesis import given
from hypothesis import strategies as st

from text311.i18n import catalog
from text311.inbound import clean_body
from text311.keywords import classify_keyword

from .profile import FUZZ

CONTEXT = LambdaContext("inbound-sms")

# Any Unicode text without surrogates (they cannot be encoded in the JSON End User Messaging sends),
# control characters included, up to 2,000 characters, with a bias towards what phones really send.
ANY_BODY = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=2000),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200),
    st.text(alphabet=st.sampled_from("abc éàç\x00\x07\x1b\r\n\t\u200b\u202e\u2028\ufeff🚧🕳️911"), max_size=300),
)


def text(handler, body: str, number: str) -> dict:
    return handler.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT)


@FUZZ
@given(body=ANY_BODY)
def test_any_body_from_a_connected_resident_is_answered_and_mailed_at_most_once_intact(region, fresh_number, body):
    handler, sms, number = region[0], region[2], fresh_number()
    assert text(handler, "Gatineau", number) == {"batchItemFailures": []}
    mails_before, sms_before = len(sent_mails()), len(sms.sent)

    response = text(handler, body, number)

    assert response == {"batchItemFailures": []}
    new_mails = sent_mails()[mails_before:]
    cleaned = clean_body(body)
    keyword, _ = classify_keyword(cleaned, catalog())
    assert len(new_mails) <= 1
    if cleaned and keyword is None:
        [mail] = new_mails
        assert cleaned in text_of(mail)
    if new_mails:
        assert number not in new_mails[0].as_string() and number[2:] not in text_of(new_mails[0])
    assert all(message.destination == number for message in sms.sent[sms_before:])


@FUZZ
@given(body=ANY_BODY)
def test_any_first_text_from_a_new_resident_is_answered_and_never_mailed_before_a_city_is_chosen(
    region, fresh_number, body
):
    handler, number = region[0], fresh_number()
    mails_before = len(sent_mails())

    response = text(handler, body, number)

    assert response == {"batchItemFailures": []}
    new_mails = sent_mails()[mails_before:]
    # A first text can name the city ("Gatineau: pothole on Main"): then, and only then, it is mailed.
    for mail in new_mails:
        assert clean_body(body) in text_of(mail)
    assert len(new_mails) <= 1
