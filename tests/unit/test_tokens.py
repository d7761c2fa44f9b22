import pytest

from text311.tokens import InvalidToken, TokenSigner

DOMAIN = "reply.text311.example.ca"


def test_a_signed_address_verifies_back_to_its_conversation():
    signer = TokenSigner({"k1": b"secret-one"})
    address = signer.address("5959974-k3j9x2p4ab", DOMAIN)
    assert address.startswith("r+5959974-k3j9x2p4ab.k1-")
    assert signer.verify(address, DOMAIN) == "5959974-k3j9x2p4ab"


def test_verification_ignores_case_and_angle_brackets_as_mail_clients_write_them():
    signer = TokenSigner({"k1": b"secret-one"})
    address = signer.address("5959974-k3j9x2p4ab", DOMAIN)
    assert signer.verify(f"<{address.upper().replace('R+5959974-K3J9X2P4AB', 'r+5959974-k3j9x2p4ab')}>",
                         DOMAIN.upper()) == "5959974-k3j9x2p4ab"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda a: a.replace("5959974-k3j", "5959975-k3j"), "bad signature"),  # another city's id
        (lambda a: a[:-len(DOMAIN) - 3] + "aaa@" + DOMAIN, "bad signature"),  # tampered mac
        (lambda a: a.replace(".k1-", ".k9-"), "unknown key"),
        (lambda a: a.replace("@" + DOMAIN, "@evil.example.com"), "wrong domain"),
        (lambda a: a.replace("r+", "x+"), "not a reply address"),
        (lambda a: a.replace(".k1-", "k1-"), "malformed token"),
    ],
)
def test_a_tampered_address_is_refused_with_its_reason(mutate, reason):
    signer = TokenSigner({"k1": b"secret-one"})
    with pytest.raises(InvalidToken, match=reason):
        signer.verify(mutate(signer.address("5959974-k3j9x2p4ab", DOMAIN)), DOMAIN)


def test_rotation_signs_with_the_newest_key_and_still_accepts_the_old_one():
    old = TokenSigner({"k1": b"secret-one"})
    rotated = TokenSigner({"k1": b"secret-one", "k2": b"secret-two"})
    issued_before = old.address("1-abc", DOMAIN)
    assert rotated.active_key_id == "k2"
    assert ".k2-" in rotated.address("1-abc", DOMAIN)
    assert rotated.verify(issued_before, DOMAIN) == "1-abc"


def test_a_key_removed_after_rotation_no_longer_verifies():
    issued = TokenSigner({"k1": b"secret-one"}).address("1-abc", DOMAIN)
    with pytest.raises(InvalidToken, match="unknown key"):
        TokenSigner({"k2": b"secret-two"}).verify(issued, DOMAIN)


def test_bad_key_ids_are_refused_at_start_not_at_the_first_mail():
    with pytest.raises(ValueError, match="bad key id"):
        TokenSigner({"Key-1": b"x"})
