import pytest

from text311.phone import (
    COUNTRY_NOT_SERVED,
    INVALID,
    UNKNOWN_TYPE,
    InvalidPhoneNumber,
    NumberCheck,
    classify,
    mask,
    normalize_e164,
    phone_hash,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("+1 (819) 555-0123", "+18195550123"), ("819-555-0123", "+18195550123"), ("18195550123", "+18195550123"),
     ("+447700900123", "+447700900123")],
)
def test_numbers_are_normalised_to_e164(raw, e164):
    assert normalize_e164(raw) == e164


@pytest.mark.parametrize("raw", ["", "hello", "12345", "+1234567890123456"])
def test_what_is_not_a_number_is_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(raw)


def test_mask_keeps_the_country_code_and_the_last_four_digits_only():
    assert mask("+18195550123") == "+1******0123"
    assert mask("+447700900123") == "+44******0123"
    assert mask("") == ""


SERVED = {"CA", "US"}


@pytest.mark.parametrize(
    ("number", "country"),
    [("+18195550123", "CA"), ("+16045550100", "CA"), ("+16135550123", "CA"), ("+12125550123", "US"),
     ("+18025550188", "US")],
)
def test_a_north_american_number_in_a_served_country_is_allowed_with_its_country(number, country):
    assert classify(number, SERVED) == NumberCheck(country, None)


@pytest.mark.parametrize(
    ("number", "country"),
    [("+18765551234", "JM"), ("+18095551234", "DO"), ("+18295551234", "DO"), ("+12423591234", "BS"),
     ("+16492311234", "TC"), ("+447400123456", "GB")],
)
def test_a_plus_one_number_outside_canada_and_the_us_is_not_served(number, country):
    # Before: every non-Canadian +1 number was "US" and answered.
    assert classify(number, SERVED) == NumberCheck(country, COUNTRY_NOT_SERVED)


def test_the_us_is_not_served_by_a_canadian_region():
    assert classify("+12125550123", {"CA"}) == NumberCheck("US", COUNTRY_NOT_SERVED)


@pytest.mark.parametrize(
    ("number", "refusal"),
    [("+19005551234", "premium_rate"), ("+18005550123", "toll_free"), ("+18885550123", "toll_free"),
     ("+16005550123", "voip"), ("+15005550123", "personal_number")],
)
def test_premium_rate_and_special_plus_one_numbers_are_refused_by_their_type(number, refusal):
    assert classify(number, SERVED).refusal == refusal


@pytest.mark.parametrize(
    ("number", "refusal"),
    [("", INVALID), ("hello", INVALID), ("+1613", INVALID), ("+13875550123", UNKNOWN_TYPE),
     ("+11115550123", UNKNOWN_TYPE)],
)
def test_what_is_not_a_number_in_service_is_refused(number, refusal):
    check = classify(number, SERVED)
    assert check.refusal == refusal and not check.allowed


def test_phone_hash_is_keyed_and_ignores_formatting():
    assert phone_hash("+1 819 555 0123", b"k") == phone_hash("819-555-0123", b"k")
    assert phone_hash("+18195550123", b"k") != phone_hash("+18195550123", b"other key")
    assert "8195550123" not in phone_hash("+18195550123", b"k")
