"""The local run's settings and demo data, read from ``config/local.yaml``.

The deployment part is validated by ``stacks.config.Deployment``, the model every region of
``config/regions.yaml`` goes through, so the local run cannot use a setting the stack would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from localrun import ROOT
from stacks.config import Deployment
from text311.subscribers import Subscriber, SubscriberError

DEFAULT_SEED = ROOT / "config" / "local.yaml"


class SeedError(Exception):
    """A problem in the seed file, worded with the file and the field."""


@dataclass(frozen=True)
class DemoPhone:
    number: str
    label: str


@dataclass(frozen=True)
class Seed:
    deployment: Deployment
    subscribers: tuple[Subscriber, ...]
    demo_agents: dict[int, str]  # geonameid → the address the web page answers from
    demo_phones: tuple[DemoPhone, ...]

    @property
    def sms_number(self) -> str:
        return self.deployment.sms_numbers[0]


def load_seed(path: Path = DEFAULT_SEED) -> Seed:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"{path}: cannot read: {exc}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise SeedError(f"{path}: expected a mapping with deployment, subscribers, demo_phones")
    try:
        deployment = Deployment.model_validate(raw.get("deployment") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SeedError(f"{path}: deployment.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if not deployment.sms_numbers:
        raise SeedError(f"{path}: deployment.sms_numbers: the local run needs the number residents text")
    subscribers, agents = [], {}
    for index, entry in enumerate(raw.get("subscribers") or []):
        subscriber, agent = _subscriber(path, index, entry)
        subscribers.append(subscriber)
        agents[subscriber.geonameid] = agent
    phones = tuple(DemoPhone(str(p["number"]), str(p.get("label", p["number"]))) for p in raw.get("demo_phones") or [])
    return Seed(deployment, tuple(subscribers), agents, phones)


def _subscriber(path: Path, index: int, entry: Any) -> tuple[Subscriber, str]:
    where = f"{path}: subscribers[{index}]"
    if not isinstance(entry, dict):
        raise SeedError(f"{where}: expected a mapping of field: value")
    fields = dict(entry)
    agent = str(fields.pop("demo_agent", ""))
    for name in ("contact_emails", "agent_allow_list", "languages"):
        if name in fields:
            fields[name] = tuple(fields[name])
    try:
        subscriber = Subscriber(**fields)
    except TypeError as exc:
        raise SeedError(f"{where}: {exc}") from None
    except SubscriberError as exc:
        raise SeedError(f"{where}: {exc}") from None
    return subscriber, agent or demo_agent(subscriber)


def demo_agent(subscriber: Subscriber) -> str:
    """An address the city's allow-list accepts (for cities added while running)."""
    entry = subscriber.agent_allow_list[0] if subscriber.agent_allow_list else subscriber.contact_emails[0]
    return f"agent{entry}" if entry.startswith("@") else entry


def demo_open311_key(geonameid: int) -> str:
    """A city's Open311 api_key for the demo, created as ``text311 municipality open311 key`` does
    (only its SHA-256 is stored); the local run shows it in ``GET /sim/config``."""
    from text311.open311.keys import Open311SettingsStore

    return Open311SettingsStore().rotate_key(geonameid)
