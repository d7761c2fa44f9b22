"""Phone numbers at rest: KMS-encrypted values and keyed-hash look-up keys.

Tables are encrypted with a customer-managed key already; on top of that the
number itself is encrypted per item so an operator reading items sees ciphertext,
and residents are found by an HMAC of the number, never by the number.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from text311.phone import normalize_e164, phone_hash

_CONTEXT_PURPOSE = "text311-phone"


@dataclass
class PhoneVault:
    kms: Any
    key_id: str
    hash_key: bytes

    def hash(self, number: str) -> str:
        return phone_hash(number, self.hash_key)

    def encrypt(self, number: str) -> str:
        number = normalize_e164(number)
        blob = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=number.encode(),
            EncryptionContext={"purpose": _CONTEXT_PURPOSE},
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode()

    def decrypt(self, encrypted: str) -> str:
        plain = self.kms.decrypt(
            CiphertextBlob=base64.b64decode(encrypted),
            KeyId=self.key_id,
            EncryptionContext={"purpose": _CONTEXT_PURPOSE},
        )["Plaintext"]
        return plain.decode()
