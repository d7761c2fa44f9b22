"""Subscribers: the municipalities (tenants) that receive Text311 conversations."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from text311.adapters.dynamodb import SubscriberModel
from text311.addresses import AddressRefused, agent_address, single_address
from text311.agents import disabled_addresses
from text311.city_services import Service, default_services, from_json, to_json
from text311.departments import (
    Department,
    DepartmentsChanged,
    departments_from_json,
    departments_to_json,
    find_department,
)
from text311.i18n import catalog
from text311.opening_hours import OpeningHours
from text311.opening_hours import from_json as hours_from_json
from text311.opening_hours import to_json as hours_to_json

_DOMAIN = re.compile(r"^@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# The languages agents are written to in (the catalog's "agents" sections); residents may write in any
# language the catalog answers in.
LANGUAGES = ("en", "fr")
# Provinces whose cities write to their agents in French unless they choose otherwise.
_FRENCH_REGIONS = frozenset({("CA", "QC")})
STATUSES = ("active", "suspended")


class SubscriberError(ValueError):
    """Bad subscriber data; the message names the field."""


class DuplicateSubscriber(SubscriberError):
    pass


class UnknownSubscriber(LookupError):
    pass


@dataclass(frozen=True)
class Subscriber:
    geonameid: int
    display_name: str
    country: str
    region_code: str
    contact_emails: tuple[str, ...]
    agent_allow_list: tuple[str, ...]  # addresses, or domains written "@city.ca"
    time_zone: str
    languages: tuple[str, ...] = ("en",)
    phone_311: str | None = None
    web_page: str | None = None
    status: str = "active"
    # The language of everything written to the city's agents (its mail, notices). Empty: French for
    # Quebec and for a city whose residents' first language is French, else English (default_mail_language).
    language: str = ""
    # Canned answers agents pick in the console, per language: {"en": ("...",), "fr": ("...",)}.
    canned_answers: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # Its Open311 services (text311.city_services): a new city, and one stored before the list existed,
    # has the default list.
    services: tuple[Service, ...] = field(default_factory=default_services, compare=False)
    # When its agents answer (text311.opening_hours); None: always open, no closed notice.
    opening_hours: OpeningHours | None = field(default=None, compare=False)
    # Whether a resident gets one satisfaction text when an agent closes their conversation (opt-in).
    survey: bool = False
    # Whether a connected resident whose first text of a conversation names no place is asked once where
    # it is (guided intake, docs/service-requests.md; opt-in).
    guided_intake: bool = False
    # Machine translation between residents who write in another language and its agents (text311.translation,
    # opt-in: it is billed per character).
    translate: bool = False
    # Agents a supervisor disabled (text311.agents): never an agent, even under an "@domain" entry.
    disabled_agents: tuple[str, ...] = field(default=(), compare=False)
    # Its departments (text311.departments): a shared inbox a conversation can be transferred to.
    departments: tuple[Department, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.contact_emails:
            raise SubscriberError("contact_emails: at least one contact-centre address is required")
        for address in self.contact_emails:
            if not _is_address(address):
                raise SubscriberError(f"contact_emails: not one email address: {address!r}")
        for entry in self.agent_allow_list:
            if not _is_allow_list_entry(entry):
                raise SubscriberError(f"agent_allow_list: not one address or a domain: {entry!r}")
        answerable = catalog().languages
        for language in self.languages:
            if language not in answerable:
                raise SubscriberError(f"languages: {language!r} is not one of {', '.join(sorted(answerable))}")
        if not self.language:
            object.__setattr__(self, "language", default_mail_language(self.country, self.region_code, self.languages))
        if self.language not in LANGUAGES:
            raise SubscriberError(f"language: {self.language!r} is not one of {', '.join(LANGUAGES)}")
        if self.status not in STATUSES:
            raise SubscriberError(f"status: {self.status!r} is not one of {', '.join(STATUSES)}")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SubscriberError(f"time_zone: unknown time zone {self.time_zone!r}") from exc
        if self.opening_hours is not None and self.opening_hours.time_zone != self.time_zone:
            # The city's own time zone is the one its hours are read in.
            object.__setattr__(self, "opening_hours", replace(self.opening_hours, time_zone=self.time_zone))

    def is_closed(self, at: datetime) -> bool:
        """Whether ``at`` falls outside the city's opening hours (never, with none set)."""
        return self.opening_hours is not None and not self.opening_hours.is_open(at)

    @property
    def active(self) -> bool:
        return self.status == "active"

    def allows_agent(self, address: str) -> bool:
        """Whether ``address`` is one agent of this city (its address or its domain on the allow-list)."""
        try:
            bare = agent_address(address, self.agent_allow_list)
        except AddressRefused:
            return False
        return bare not in self.disabled_agents

    def agent_owner(self, stored: str | None) -> str | None:
        """A conversation's stored owner when it is one agent of this city, else None (the shared
        inbox): an owner written before the rule, or by a path that skipped it, never addresses mail."""
        return stored.strip().lower() if stored and self.allows_agent(stored) else None

    def department(self, department_id: str | None) -> Department | None:
        """The department of this id, or None: none set, or one removed since (the city's inbox)."""
        return find_department(self.departments, department_id)

    def recipients(self, owner: str | None, department_id: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """To and Cc of a conversation's mail: its owner (the contact addresses copied), else its
        department's inbox, else the city's contact addresses."""
        if owner:
            return (owner,), tuple(a for a in self.contact_emails if a != owner)
        department = self.department(department_id)
        return ((department.inbox,) if department else tuple(self.contact_emails)), ()


def default_mail_language(country: str, region_code: str, languages: tuple[str, ...]) -> str:
    """The language a city's agents are written to when it names none."""
    if (country, region_code) in _FRENCH_REGIONS or (languages and languages[0] == "fr"):
        return "fr"
    return "en"


def _is_allow_list_entry(text: str) -> bool:
    return _is_address(text) or bool(_DOMAIN.match(text))


def _is_address(text: str) -> bool:
    try:
        single_address(text)
    except AddressRefused:
        return False
    return True


def _to_model(sub: Subscriber) -> SubscriberModel:
    return SubscriberModel(
        geonameid=sub.geonameid,
        display_name=sub.display_name,
        country=sub.country,
        region_code=sub.region_code,
        contact_emails=list(sub.contact_emails),
        agent_allow_list=list(sub.agent_allow_list),
        languages=list(sub.languages),
        time_zone=sub.time_zone,
        phone_311=sub.phone_311,
        web_page=sub.web_page,
        status=sub.status,
        language=sub.language,
        canned_answers=json.dumps({k: list(v) for k, v in sub.canned_answers.items()}) if sub.canned_answers else None,
        services=to_json(sub.services),
        opening_hours=hours_to_json(sub.opening_hours) if sub.opening_hours else None,
        survey=sub.survey or None,
        guided_intake=sub.guided_intake or None,
        translate=sub.translate or None,
        departments=departments_to_json(sub.departments) if sub.departments else None,
    )


def _still_valid(item: SubscriberModel, name: str, valid: Callable[[str], bool]) -> tuple[str, ...]:
    """The entries of a stored list that today's rules accept. A city stored under an older, looser
    rule (a comma or a non-ASCII letter in an address) keeps working on its other entries rather than
    failing every text; the dropped entry is logged for an operator to fix (agents' addresses, not a
    resident's personal data)."""
    entries = tuple(getattr(item, name))
    kept = tuple(entry for entry in entries if valid(entry))
    if kept != entries:
        from text311.observability import logger

        logger.warning("stored subscriber entry no longer valid: ignored",
                       extra={"municipality": int(item.geonameid), "field": name,
                              "ignored": [e for e in entries if e not in kept]})
    return kept


def _stored_or(item: SubscriberModel, name: str, absent: Callable[[], Any], read: Callable[[str], Any]) -> Any:
    """A stored JSON setting, read; what a city without it has when it is absent or cannot be read.
    One bad setting (written by hand, or by an older version) is logged, never fatal to the city's texts."""
    text = getattr(item, name)
    if not text:
        return absent()
    try:
        return read(text)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        from text311.observability import logger

        logger.error("stored subscriber setting unreadable: its default is used",
                     extra={"municipality": int(item.geonameid), "field": name,
                            "error": f"{type(exc).__name__}: {exc}"})
        return absent()


def _from_model(item: SubscriberModel) -> Subscriber:
    return Subscriber(
        geonameid=int(item.geonameid),
        display_name=item.display_name,
        country=item.country,
        region_code=item.region_code,
        contact_emails=_still_valid(item, "contact_emails", _is_address),
        agent_allow_list=_still_valid(item, "agent_allow_list", _is_allow_list_entry),
        languages=tuple(item.languages),
        time_zone=item.time_zone,
        phone_311=item.phone_311,
        web_page=item.web_page,
        status=item.status,
        language=item.language or "",  # a subscriber stored before it had one: the default
        canned_answers=_stored_or(item, "canned_answers", dict,
                                  lambda text: {k: tuple(v) for k, v in json.loads(text).items()}),
        services=_stored_or(item, "services", default_services, from_json),
        opening_hours=_stored_or(item, "opening_hours", lambda: None,
                                 lambda text: hours_from_json(item.time_zone, text)),
        survey=bool(item.survey),
        guided_intake=bool(item.guided_intake),
        translate=bool(item.translate),
        disabled_agents=_stored_or(item, "agents", tuple, disabled_addresses),
        departments=_stored_or(item, "departments", tuple, departments_from_json),
    )


class SubscriberRepository:
    """Subscribers in DynamoDB (the table bound by ``bind_tables``)."""

    def get(self, geonameid: int) -> Subscriber | None:
        try:
            return _from_model(SubscriberModel.get(geonameid))
        except DoesNotExist:
            return None

    def add(self, sub: Subscriber) -> None:
        """Create; refuses to overwrite an existing subscriber."""
        try:
            _to_model(sub).save(condition=SubscriberModel.geonameid.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise DuplicateSubscriber(f"geonameid: {sub.geonameid} is already a subscriber") from exc
            raise

    def put(self, sub: Subscriber) -> None:
        _to_model(sub).save()

    def set_services(self, geonameid: int, services: tuple[Service, ...]) -> None:
        """Replace only the city's service list: an edit made meanwhile to its other fields (the
        console's canned answers, another operator) is kept."""
        try:
            SubscriberModel(geonameid=geonameid).update(
                actions=[SubscriberModel.services.set(to_json(services))],
                condition=SubscriberModel.geonameid.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise UnknownSubscriber(f"geonameid: {geonameid} is not a subscriber") from exc
            raise

    def set_opening_hours(self, geonameid: int, hours: OpeningHours | None) -> None:
        """Replace only the city's opening hours (None: always open); its other fields are kept."""
        attribute = SubscriberModel.opening_hours
        self._set(geonameid, attribute.set(hours_to_json(hours)) if hours else attribute.remove())

    def set_canned_answers(self, geonameid: int, canned: dict[str, tuple[str, ...]]) -> None:
        """Replace only the city's canned answers (the console's supervisor screen); none: removed."""
        text = json.dumps({k: list(v) for k, v in canned.items() if v}, ensure_ascii=False)
        attribute = SubscriberModel.canned_answers
        self._set(geonameid, attribute.set(text) if any(canned.values()) else attribute.remove())

    def departments(self, geonameid: int) -> tuple[tuple[Department, ...], str | None]:
        """The city's departments read strongly consistent, with the stored text ``set_departments``
        names in its condition: a change is decided on the list as it is now."""
        try:
            item = SubscriberModel.get(geonameid, consistent_read=True, attributes_to_get=["geonameid", "departments"])
        except DoesNotExist as exc:
            raise UnknownSubscriber(f"geonameid: {geonameid} is not a subscriber") from exc
        return departments_from_json(item.departments), item.departments

    def set_departments(self, geonameid: int, departments: tuple[Department, ...], before: str | None) -> None:
        """Replace only the city's departments, if they are still ``before`` (the stored text read by
        ``departments``); ``DepartmentsChanged`` when another edit came in between."""
        model = SubscriberModel
        unchanged = model.departments == before if before else model.departments.does_not_exist()
        action = model.departments.set(departments_to_json(departments)) if departments else model.departments.remove()
        try:
            model(geonameid=geonameid).update(actions=[action], condition=model.geonameid.exists() & unchanged)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise DepartmentsChanged("departments: changed meanwhile: reload and try again") from exc
            raise

    def set_survey(self, geonameid: int, enabled: bool) -> None:
        """Turn the city's satisfaction texts on or off; its other fields are kept."""
        self._set(geonameid, SubscriberModel.survey.set(True) if enabled else SubscriberModel.survey.remove())

    def set_guided_intake(self, geonameid: int, enabled: bool) -> None:
        """Turn the city's guided intake (the "where is it?" question) on or off; its other fields are kept."""
        attribute = SubscriberModel.guided_intake
        self._set(geonameid, attribute.set(True) if enabled else attribute.remove())

    def set_translate(self, geonameid: int, enabled: bool) -> None:
        """Turn the city's machine translation on or off; its other fields are kept."""
        attribute = SubscriberModel.translate
        self._set(geonameid, attribute.set(True) if enabled else attribute.remove())

    def _set(self, geonameid: int, action: Action) -> None:
        try:
            SubscriberModel(geonameid=geonameid).update(actions=[action], condition=SubscriberModel.geonameid.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise UnknownSubscriber(f"geonameid: {geonameid} is not a subscriber") from exc
            raise

    def remove(self, geonameid: int) -> None:
        if self.get(geonameid) is None:
            raise UnknownSubscriber(f"geonameid: {geonameid} is not a subscriber")
        SubscriberModel(geonameid=geonameid).delete()

    def all(self) -> Iterator[Subscriber]:
        for item in SubscriberModel.scan():
            yield _from_model(item)
