"""Any +1 number that phonenumbers places outside the served countries, or classifies as anything but
a mobile number (premium rate, toll free, shared cost, VoIP, personal, unknown…), is neither answered
nor texted: SMS pumping through the twenty-odd countries and the special codes sharing +1 (issue 17).

The numbers come from NANPA's area codes, written out here, and from phonenumbers' example mobiles,
never from our classifier; the expectation is phonenumbers' own answer, asked directly."""

from __future__ import annotations

import phonenumbers
import pytest
from aws_events import inbound_sms_event, two_way_sms
from harness import OUR_NUMBER, LambdaContext, sent_mails
from hypothesis import assume, given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from text311.adapters.sms_sender import PermanentSendFailure, RecordingSmsSender
from text311.sms_guards import DestinationCountryGuard

from .profile import FUZZ

CONTEXT = LambdaContext("inbound-sms")
SERVED = frozenset({"CA", "US"})  # the settings' default, which the moto region keeps

# Area codes of the other countries and territories in the North American plan (Caribbean, Atlantic,
# Pacific; Puerto Rico and the US Virgin Islands are regions of their own for phonenumbers).
ELSEWHERE = ("242 246 264 268 284 340 345 441 473 649 658 664 670 671 684 721 758 767 784 787 809 829 849 "
             "868 869 876 939").split()
# Non-geographic codes: premium rate (900), toll free, personal (5XX), Canadian services (600, 622), 700.
SPECIAL = "900 800 833 844 855 866 877 888 500 521 522 533 544 566 577 588 600 622 633 700 710".split()

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)
AREA_CODE = st.one_of(
    st.sampled_from(ELSEWHERE),
    st.sampled_from(SPECIAL),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from("23456789"), DIGITS, DIGITS),  # any code at all
)
ANY_PLUS_ONE_NUMBER = st.builds(
    lambda area, exchange, line: f"+1{area}{exchange}{line:04d}",
    AREA_CODE,
    st.builds(lambda a, b, c: a + b + c, st.sampled_from("23456789"), DIGITS, DIGITS),
    st.integers(0, 9999),
)
# Random exchanges abroad are mostly not in service: add real-looking mobiles of every other +1 country
# (phonenumbers' example mobile of the country, last four digits varied).
_ABROAD_MOBILES = [str(example.national_number)[:6] for region in phonenumbers.region_codes_for_country_code(1)
                   if region not in {"CA", "US"}
                   and (example := phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE))]
MOBILE_ABROAD = st.builds(lambda prefix, line: f"+1{prefix}{line:04d}", st.sampled_from(_ABROAD_MOBILES),
                          st.integers(0, 9999))
PLUS_ONE_NUMBER = st.one_of(ANY_PLUS_ONE_NUMBER, MOBILE_ABROAD)


def refused_by_phonenumbers(number: str, served: frozenset[str]) -> bool:
    parsed = phonenumbers.parse(number, None)
    textable = phonenumbers.number_type(parsed) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return phonenumbers.region_code_for_number(parsed) not in served or not textable


@FUZZ
@given(number=PLUS_ONE_NUMBER, bodies=st.lists(st.sampled_from(["Bonjour", "Gatineau", "HELP", "STOP", "START"]),
                                               min_size=1, max_size=3))
def test_a_text_from_a_refused_plus_one_number_is_never_answered_nor_mailed(region, number, bodies):
    assume(refused_by_phonenumbers(number, SERVED))
    handler, sms = region[0], region[2]
    mails_before = len(sent_mails())

    for body in bodies:
        assert handler.lambda_handler(inbound_sms_event(two_way_sms(body, number, OUR_NUMBER)), CONTEXT) == {
            "batchItemFailures": []}

    assert sms.to(number) == []
    assert len(sent_mails()) == mails_before


@FUZZ
@given(number=PLUS_ONE_NUMBER, served=st.sampled_from([frozenset({"CA"}), frozenset({"US"}), SERVED]))
def test_nothing_is_ever_sent_to_a_refused_plus_one_number(number, served):
    assume(refused_by_phonenumbers(number, served))
    sms = RecordingSmsSender()

    with pytest.raises(PermanentSendFailure):
        DestinationCountryGuard(sms, served).send(number, "Hello", idempotency_key="k1")

    assert sms.sent == []
