"""Who is calling the console API: claims from a pluggable verifier, checked the same way everywhere.

In AWS, API Gateway's JWT authorizer has already verified the Cognito token and passes its
claims in the event; locally, ``LocalSessionVerifier`` verifies a signed session issued by the
demo sign-in. Both produce the same claims, and ``caller_from_claims`` applies the same checks.
A user's municipality and role are Cognito custom attributes (``custom:municipality_id``,
``custom:role``) set by an administrator, never by the user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class Unauthorized(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    email: str
    municipality_id: int
    role: Role

    @property
    def supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    email = str(claims.get("email", "")).strip().lower()
    municipality = str(claims.get("custom:municipality_id", "")).strip()
    role = str(claims.get("custom:role", "")).strip().lower()
    if "@" not in email or not municipality.isdigit() or role not in {r.value for r in Role}:
        raise Unauthorized("the token lacks an email, a municipality or a role")
    return Caller(email=email, municipality_id=int(municipality), role=Role(role))


class ClaimsVerifier(Protocol):
    def claims(self, event: Mapping[str, Any]) -> Mapping[str, Any]: ...


class ApiGatewayJwtVerifier:
    """Claims that API Gateway's JWT authorizer verified (signature, issuer, audience, expiry)."""

    def claims(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            return event["requestContext"]["authorizer"]["jwt"]["claims"]
        except (KeyError, TypeError) as exc:
            raise Unauthorized("no verified JWT claims in the request") from exc


@dataclass(frozen=True)
class LocalSessionVerifier:
    """Signed sessions for the local run's demo sign-in: ``Bearer <payload>.<hmac>``."""

    key: bytes
    lifetime_seconds: int = 8 * 3600

    def issue(self, claims: Mapping[str, Any], now: float | None = None) -> str:
        body = dict(claims, exp=int((time.time() if now is None else now) + self.lifetime_seconds))
        payload = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload)}"

    def claims(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        token = str(headers.get("authorization", "")).removeprefix("Bearer ").strip()
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthorized("bad session")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if claims.get("exp", 0) < time.time():
            raise Unauthorized("session expired")
        return claims

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()
