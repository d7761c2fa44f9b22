"""A city's agents (issue 22, item 1): invited, disabled and re-enabled by the city's supervisor.

Two records, each the truth for one thing:

- **Cognito** is the identity: the account, its password and MFA, whether it may sign in, and the city
  and role as custom attributes no user can write (``adapters/cognito_users.py``).
- **The city's roster** (``agents`` on the subscriber, JSON) is the list: which addresses are the city's
  agents and whether each is enabled. Cognito's ListUsers cannot filter on a custom attribute, so a
  city's agents cannot be listed from the pool without reading every city's users; the roster is read
  with the city's own item instead, and the pool is only asked about one address at a time.

The city's allow-list follows the roster, never kept by hand: an invited or re-enabled agent's address
is added to ``agent_allow_list`` (so their email answers are taken), a disabled one's is removed, and
``Subscriber.allows_agent`` refuses a disabled address even under an ``@domain`` entry. Cognito is
changed first: a sign-in is blocked before the table says so, and a retry after a failed table write
finds the account and adopts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, UpdateError

from text311.adapters.cognito_users import Account
from text311.adapters.dynamodb import SubscriberModel
from text311.addresses import single_address
from text311.auth import Role
from text311.console_errors import AgentConflict, AgentError  # defined apart for the console API's cold start

# One item holds the roster (DynamoDB's 400 KB item limit): a small city's centre is far below this.
MAX_AGENTS = 300


@dataclass(frozen=True)
class Agent:
    email: str
    role: str
    enabled: bool
    invited_at: str
    invited_by: str


def roster_from_json(text: str | None) -> tuple[Agent, ...]:
    return tuple(Agent(**entry) for entry in json.loads(text)) if text else ()


def roster_to_json(agents: tuple[Agent, ...]) -> str:
    return json.dumps([asdict(a) for a in sorted(agents, key=lambda a: a.email)], separators=(",", ":"))


def disabled_addresses(text: str | None) -> tuple[str, ...]:
    """The roster's disabled addresses: refused as agents whatever the allow-list's domains say."""
    return tuple(a.email for a in roster_from_json(text) if not a.enabled)


class Identities(Protocol):
    def find(self, email: str) -> Account | None: ...
    def create(self, email: str, municipality_id: int, role: str) -> Account: ...
    def disable(self, account: Account) -> None: ...
    def enable(self, account: Account) -> None: ...


class AgentDirectory:
    """A city's roster in the subscribers table, its identities in ``identities`` (Cognito)."""

    def __init__(self, identities: Identities, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.identities, self.clock = identities, clock

    def agents(self, city_id: int) -> tuple[Agent, ...]:
        return roster_from_json(self._item(city_id).agents)

    def invite(self, city_id: int, raw_email: str, role: str, by: str) -> Agent:
        """A new agent (or supervisor) of the city: their account, the invitation mail, the roster entry and
        the allow-list entry. Refused: not one address, an unknown role, an agent already on the roster, an
        address with an account of another city."""
        email = single_address(raw_email)
        if role not in {r.value for r in Role}:
            raise AgentError(f"role: {role!r} is not one of agent, supervisor")
        item = self._item(city_id)
        roster = roster_from_json(item.agents)
        known = next((a for a in roster if a.email == email), None)
        if known is not None:
            raise AgentError(f"{email} is already on the list" + ("" if known.enabled else ": re-enable them"))
        if len(roster) >= MAX_AGENTS:
            raise AgentError(f"at most {MAX_AGENTS} agents per city")
        account = self.identities.find(email)
        if account is not None and account.municipality_id != str(city_id):
            # A city never changes (the attribute is immutable): the address needs the operator.
            raise AgentError(f"{email} already has a Text311 account: ask the Text311 operator")
        if account is None:
            account = self._create(email, city_id, role)
        agent = Agent(email, account.role or role, account.enabled, self.clock().isoformat(timespec="seconds"), by)
        self._write(item, (*roster, agent))
        return agent

    def set_enabled(self, city_id: int, raw_email: str, enabled: bool) -> tuple[Agent, bool]:
        """Disable (sign-in blocked, address off the allow-list) or re-enable one agent of the roster; the
        agent, and whether the roster changed (not when the agent already was so: a retry)."""
        email = single_address(raw_email)
        item = self._item(city_id)
        roster = roster_from_json(item.agents)
        agent = next((a for a in roster if a.email == email), None)
        if agent is None:
            raise AgentError(f"{email} is not on the city's list of agents")
        account = self.identities.find(email)
        if account is not None and account.municipality_id == str(city_id):
            (self.identities.enable if enabled else self.identities.disable)(account)
        if agent.enabled == enabled:  # Cognito was asked again above: it is changed before the roster
            return agent, False
        changed = replace(agent, enabled=enabled)
        self._write(item, tuple(changed if a is agent else a for a in roster))
        return changed, True

    def _create(self, email: str, city_id: int, role: str) -> Account:
        try:
            return self.identities.create(email, city_id, role)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "UsernameExistsException":  # created meanwhile: the next try adopts it
                raise AgentConflict(f"{email} was just created by someone else: try again") from exc
            raise

    @staticmethod
    def _item(city_id: int) -> SubscriberModel:
        try:
            # Strongly consistent: a change decided on a stale roster (a retry skipped, a write refused) is wrong.
            return SubscriberModel.get(int(city_id), consistent_read=True)
        except DoesNotExist as exc:
            raise LookupError(f"geonameid: {city_id} is not a subscriber") from exc

    @staticmethod
    def _write(item: SubscriberModel, roster: tuple[Agent, ...]) -> None:
        """The roster and the allow-list in one conditional write: it fails if either changed since read."""
        model = SubscriberModel
        before: list[str] = [str(entry) for entry in item.agent_allow_list]
        allowed: Any = [e for e in before if e.strip().lower() not in {a.email for a in roster if not a.enabled}]
        allowed += [a.email for a in roster if a.enabled and a.email not in {e.strip().lower() for e in allowed}]
        unchanged: Any = model.agents == item.agents if item.agents else model.agents.does_not_exist()
        try:
            item.update(
                actions=[model.agents.set(roster_to_json(roster)), model.agent_allow_list.set(allowed)],
                condition=model.geonameid.exists() & unchanged & (model.agent_allow_list == before),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise AgentConflict("the city's agents changed meanwhile: reload and try again") from exc
            raise
