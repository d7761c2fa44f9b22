"""Reply-To tokens: ``r+<conversation>.<key id><mac>@<reply domain>``.

The token proves that an answer was addressed to a mail Text311 sent about that
conversation. Keys live in a Secrets Manager secret as ``{"<key id>": "<key>"}``;
the newest key id (sorted) signs, every key verifies, so rotation is: add a key,
wait for open conversations' mails to age, remove the old one. Key ids are short
lowercase words ("k1", "k2") carried in the token so verification picks the key
without trying each one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

LOCAL_PREFIX = "r+"
_MAC_BYTES = 12  # 96 bits: forging one by guessing is out of reach; keeps the address short
_KEY_ID = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_CONVERSATION = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class InvalidToken(ValueError):
    """The address is not a valid Text311 reply token (the reason is in the message)."""


@dataclass(frozen=True)
class TokenSigner:
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one signing key is required")
        for key_id in self.keys:
            if not _KEY_ID.match(key_id):
                raise ValueError(f"bad key id {key_id!r}: lowercase letter then up to 7 letters or digits")

    @classmethod
    def from_secret(cls, secret: dict[str, str]) -> TokenSigner:
        return cls({key_id: value.encode() for key_id, value in secret.items()})

    @property
    def active_key_id(self) -> str:
        return max(self.keys, key=lambda k: (len(k), k))

    def _mac(self, key_id: str, conversation_id: str) -> str:
        digest = hmac.new(self.keys[key_id], conversation_id.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:_MAC_BYTES]).decode().rstrip("=").lower()

    def local_part(self, conversation_id: str) -> str:
        if not _CONVERSATION.match(conversation_id):
            raise ValueError(f"conversation id not fit for an address: {conversation_id!r}")
        key_id = self.active_key_id
        return f"{LOCAL_PREFIX}{conversation_id}.{key_id}-{self._mac(key_id, conversation_id)}"

    def address(self, conversation_id: str, domain: str) -> str:
        return f"{self.local_part(conversation_id)}@{domain}"

    def verify(self, address: str, domain: str) -> str:
        """Return the conversation id of a valid reply address, or raise InvalidToken."""
        local, _, addr_domain = address.strip().strip("<>").rpartition("@")
        if addr_domain.lower() != domain.lower():
            raise InvalidToken("wrong domain")
        if not local.lower().startswith(LOCAL_PREFIX):
            raise InvalidToken("not a reply address")
        conversation_id, dot, signature = local[len(LOCAL_PREFIX) :].rpartition(".")
        key_id, dash, mac = signature.lower().partition("-")
        if not dot or not dash or not _CONVERSATION.match(conversation_id):
            raise InvalidToken("malformed token")
        if key_id not in self.keys:
            raise InvalidToken("unknown key")
        if not hmac.compare_digest(mac, self._mac(key_id, conversation_id)):
            raise InvalidToken("bad signature")
        return conversation_id
