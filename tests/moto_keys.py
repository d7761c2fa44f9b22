"""Import moto's Cognito signing key once per test process, not once per user pool; and give moto's symmetric
KMS keys one shared RSA key pair instead of a new one each.

moto gives every user pool it creates the same dummy RSA key, read from its own resources and
imported (validated) again each time: 0.2 s of CPU a pool, and the console tests make a pool per
test (test_agents, test_city_settings, test_departments). The key only signs tokens, so one
imported key shared by every pool signs them exactly as before.
"""

from __future__ import annotations

import json
from functools import cache
from types import SimpleNamespace
from typing import Any


def share_cognito_signing_key() -> None:
    """Make the ``jwk`` that ``moto.cognitoidp.models`` imports keys with a cache of imported keys."""
    from moto.cognitoidp import models

    if isinstance(models.jwk, SimpleNamespace):
        return
    rsa_key = models.jwk.RSAKey

    @cache
    def import_json_key(text: str) -> Any:
        return rsa_key.import_key(json.loads(text))

    def import_key(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and not args and not kwargs:  # the JWK moto reads from its resources
            return import_json_key(json.dumps(data, sort_keys=True))
        return rsa_key.import_key(data, *args, **kwargs)

    models.jwk = SimpleNamespace(RSAKey=SimpleNamespace(import_key=import_key))


def share_kms_symmetric_key_pairs() -> None:
    """moto generates a 2048-bit RSA key pair for every KMS key it creates, a symmetric one included, where
    the pair is never used (Encrypt and Decrypt use the key's own material; Sign, Verify and GetPublicKey
    refuse a symmetric key): 50 to 90 ms of CPU a key, and every test that sets up a region creates the
    phone-number key (tests/harness.py). A symmetric key gets one pair generated once; an asymmetric key
    still gets its own."""
    from moto.kms import models

    if getattr(models.generate_private_key, "_text311_shared", False):
        return
    generate = models.generate_private_key

    @cache
    def unused_pair() -> Any:
        return generate("SYMMETRIC_DEFAULT")

    def generate_private_key(key_spec: str) -> Any:
        return unused_pair() if key_spec in ("SYMMETRIC_DEFAULT", None) else generate(key_spec)

    generate_private_key._text311_shared = True  # type: ignore[attr-defined]
    models.generate_private_key = generate_private_key
