"""A city's Open311 settings: its API key (stored hashed) and whether descriptions are published.

Both live on the city's subscriber item (``open311_key_hash``, ``open311_publish``) and are written
one attribute at a time, so an edit made meanwhile to the city's other fields is kept. The key is a
random token from :mod:`secrets` shown once by the CLI; only its SHA-256 is stored, so a copy of the
table gives no key. A token of 256 random bits needs no slow hash: nothing can be guessed from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from text311.adapters.dynamodb import SubscriberModel


class UnknownCity(LookupError):
    pass


@dataclass(frozen=True)
class Open311Settings:
    key_hash: str | None = None  # hex SHA-256 of the city's key; None: no key, every POST refused
    publish_descriptions: bool = False  # opt-in: residents' words become open data (masked)

    def accepts(self, api_key: str) -> bool:
        """Whether ``api_key`` is the city's key, compared in constant time."""
        if not self.key_hash or not api_key:
            return False
        return hmac.compare_digest(key_hash(api_key), self.key_hash)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


class Open311SettingsStore:
    """The settings in the subscribers table (bound by ``bind_tables`` or the CLI's binding)."""

    def get(self, geonameid: int) -> Open311Settings | None:
        try:
            item = SubscriberModel.get(
                geonameid, attributes_to_get=["geonameid", "open311_key_hash", "open311_publish"]
            )
        except DoesNotExist:
            return None
        return Open311Settings(key_hash=item.open311_key_hash, publish_descriptions=bool(item.open311_publish))

    def rotate_key(self, geonameid: int) -> str:
        """A new key for the city, replacing its previous one at once; returned once, never stored."""
        key = new_key()
        self._set(geonameid, SubscriberModel.open311_key_hash.set(key_hash(key)))
        return key

    def set_publish(self, geonameid: int, publish: bool) -> None:
        attribute = SubscriberModel.open311_publish
        self._set(geonameid, attribute.set(True) if publish else attribute.remove())

    def _set(self, geonameid: int, action: Action) -> None:
        try:
            SubscriberModel(geonameid=geonameid).update(actions=[action], condition=SubscriberModel.geonameid.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise UnknownCity(f"geonameid: {geonameid} is not a subscriber") from exc
            raise
