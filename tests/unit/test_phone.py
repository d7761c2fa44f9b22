import pytest

from text311.phone import InvalidPhoneNumber, country_of, mask, normalize_e164, phone_hash


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


@pytest.mark.parametrize(("number", "country"), [("+18195550123", "CA"), ("+16045550100", "CA"),
                                                 ("+12125550101", "US"), ("+447700900123", None)])
def test_country_comes_from_the_north_american_area_code(number, country):
    assert country_of(number) == country


def test_phone_hash_is_keyed_and_ignores_formatting():
    assert phone_hash("+1 819 555 0123", b"k") == phone_hash("819-555-0123", b"k")
    assert phone_hash("+18195550123", b"k") != phone_hash("+18195550123", b"other key")
    assert "8195550123" not in phone_hash("+18195550123", b"k")
