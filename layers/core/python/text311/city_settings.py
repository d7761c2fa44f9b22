"""A supervisor's own city settings in the console (issue 22, item 1): agents, canned answers, opening
hours, the first-response target and departments.

Supervisors only, and always the caller's own city: every method takes the city from the caller's verified
claims, never from the request, so a supervisor of one city has no way to name another. Each change is
validated by the rule its setting already has (``addresses``, ``opening_hours``' parser,
``response_targets.parse_minutes``) and recorded in the audit trail as a ``settings.*`` entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from text311.addresses import AddressRefused, on_allow_list, single_address
from text311.agents import AgentDirectory
from text311.audit import Action, AuditLog
from text311.auth import Caller
from text311.console import Conflict, Forbidden
from text311.console_errors import SettingsRefused  # defined apart for the console API's cold start
from text311.departments import (
    MAX_DEPARTMENTS,
    MAX_NAME_LENGTH,
    Department,
    DepartmentsChanged,
    UnknownDepartment,
    find_department,
    new_department_id,
)
from text311.observability import logger, metrics
from text311.opening_hours import WEEKDAYS, HoursError, OpeningHours, clock, parse_date, parse_intervals
from text311.response_targets import MAX_TARGET_MINUTES, set_target, target_of
from text311.sms import SmsSegmenter
from text311.subscribers import Subscriber

# An agent picks a canned answer and may still edit it: a few parts at most, a short list per language.
MAX_CANNED_ANSWERS = 30
MAX_CANNED_LENGTH = 480
MAX_HOLIDAYS = 60


def sms_parts(text: str) -> int:
    return max(1, SmsSegmenter().count(text).parts)


def hours_view(hours: OpeningHours | None) -> dict[str, Any] | None:
    if hours is None:
        return None
    weekly = {day: ",".join(f"{clock(o)}-{clock(c)}" for o, c in sorted(hours.weekly.get(day, ()))) for day in WEEKDAYS}
    return {"weekly": weekly, "holidays": sorted(d.isoformat() for d in hours.holidays)}


def parse_hours(time_zone: str, weekly: Mapping[str, Any], holidays: list[Any]) -> OpeningHours:
    """The form's hours: ``{"mon": "08:30-12:00,13:00-16:30", "sat": ""}`` (empty or ``closed``: closed)."""
    days: dict[str, tuple] = {}
    for day, text in weekly.items():
        if day not in WEEKDAYS:
            raise SettingsRefused(f"{day}: not a weekday ({', '.join(WEEKDAYS)})")
        if not isinstance(text, str):
            raise SettingsRefused(f"{day}: hours written HH:MM-HH:MM are required")
        try:
            days[day] = parse_intervals(text) if text.strip() else ()
        except HoursError as exc:
            raise SettingsRefused(f"{day}: {exc}") from exc
    if len(holidays) > MAX_HOLIDAYS or not all(isinstance(h, str) for h in holidays):
        raise SettingsRefused(f"holidays: at most {MAX_HOLIDAYS} dates written YYYY-MM-DD")
    try:
        dates = frozenset(parse_date(h) for h in holidays if h.strip())
    except HoursError as exc:
        raise SettingsRefused(f"holidays: {exc}") from exc
    try:
        return OpeningHours(time_zone, days, dates)
    except HoursError as exc:
        message = str(exc)
        day = message.partition(":")[0]
        raise SettingsRefused(message if day in WEEKDAYS else f"hours: {message}") from exc


@dataclass
class CitySettings:
    subscribers: Any  # SubscriberRepository: get, set_canned_answers, set_opening_hours
    directory: AgentDirectory | None  # None where the stack has no user pool: agents cannot be changed
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    audit: AuditLog = field(default_factory=AuditLog)

    def _city(self, caller: Caller) -> Subscriber:
        if not caller.supervisor:
            raise Forbidden("supervisors only")
        subscriber = self.subscribers.get(caller.municipality_id)
        if subscriber is None:
            raise LookupError("the caller's city is not a subscriber")
        return subscriber

    def _audit(self, caller: Caller, action: Action, detail: str) -> None:
        """As ConsoleService._audit: the change stands when its entry cannot be written."""
        try:
            self.audit.record(caller.municipality_id, None, caller.email, action, detail, self.clock())
        except Exception as exc:  # noqa: BLE001 - reported and counted, never undoes the change
            logger.error("audit entry not written", extra={"action": str(action), "error": type(exc).__name__})
            metrics.add_metric(name="AuditWriteFailed", unit="Count", value=1)

    @staticmethod
    def _vouched(city: Subscriber) -> tuple[str, ...]:
        """The city's own addresses and domains: its allow-list (set by the operator, and the agents it
        has) and its contact addresses themselves. Not the contact addresses' domains: a city whose inbox
        is at a webmail or shared regional domain would vouch for everyone there."""
        return (*city.agent_allow_list, *city.contact_emails)

    def view(self, caller: Caller) -> dict[str, Any]:
        city = self._city(caller)
        target = target_of(caller.municipality_id)
        agents = self.directory.agents(caller.municipality_id) if self.directory else ()
        return {
            "city": city.display_name,
            "time_zone": city.time_zone,
            "languages": list(city.languages),
            "agents": [asdict(a) for a in agents],
            "agents_editable": self.directory is not None,
            "canned": {
                lang: [{"text": t, "parts": sms_parts(t)} for t in city.canned_answers.get(lang, ())]
                for lang in city.languages
            },
            "hours": hours_view(city.opening_hours),
            "target_minutes": target.minutes if target else None,
            "departments": [d.as_json() for d in city.departments],
            "limits": {
                "departments": MAX_DEPARTMENTS,
                "department_name": MAX_NAME_LENGTH,
                "canned_answers": MAX_CANNED_ANSWERS,
                "canned_length": MAX_CANNED_LENGTH,
                "target_minutes": MAX_TARGET_MINUTES,
            },
        }

    # -- agents -----------------------------------------------------------------------------------

    def _directory(self) -> AgentDirectory:
        if self.directory is None:
            raise SettingsRefused("agent: this deployment has no user pool (the local run without one)")
        return self.directory

    def invite(self, caller: Caller, email: str, role: str) -> dict[str, Any]:
        """An agent or supervisor of the caller's city, at an address the city already vouches for: under one
        of its allow-list's @domain entries or its contact addresses' domains, or on its allow-list. Any
        other address could be another city's staff: only the operator, who knows, adds it. The role is one
        of ``auth.Role`` (the directory refuses any other) and the city is always the caller's own."""
        city = self._city(caller)
        address = single_address(email)
        if not on_allow_list(address, self._vouched(city)):
            raise SettingsRefused(
                f"email: {address} is outside the city's domains: ask the Text311 operator to add it to the "
                "city's allow-list first"
            )
        agent = self._directory().invite(caller.municipality_id, address, role, caller.email)
        self._audit(caller, Action.AGENT, f"invited {agent.email} as {agent.role}")
        return asdict(agent)

    def set_agent_enabled(self, caller: Caller, email: str, enabled: bool) -> dict[str, Any]:
        self._city(caller)
        if not enabled and email.strip().lower() == caller.email:
            raise SettingsRefused("agent: a supervisor cannot disable their own account")
        agent, changed = self._directory().set_enabled(caller.municipality_id, email, enabled)
        if changed:  # a retried click changes nothing and is recorded once
            self._audit(caller, Action.AGENT, f"{'enabled' if enabled else 'disabled'} {agent.email}")
        return asdict(agent)

    # -- canned answers ---------------------------------------------------------------------------

    def set_canned(self, caller: Caller, language: str, answers: list[Any]) -> dict[str, Any]:
        """Replace the city's canned answers in ``language`` (the list the supervisor edited)."""
        city = self._city(caller)
        if language not in city.languages:
            raise SettingsRefused(f"language: {language!r} is not one of the city's ({', '.join(city.languages)})")
        if len(answers) > MAX_CANNED_ANSWERS:
            raise SettingsRefused(f"answers: at most {MAX_CANNED_ANSWERS} per language")
        texts: list[str] = []
        for number, answer in enumerate(answers, start=1):
            if not isinstance(answer, str) or not answer.strip():
                raise SettingsRefused(f"answer {number}: a non-empty text is required")
            if len(answer.strip()) > MAX_CANNED_LENGTH:
                raise SettingsRefused(f"answer {number}: at most {MAX_CANNED_LENGTH} characters")
            if answer.strip() in texts:
                raise SettingsRefused(f"answer {number}: the same text is already in the list")
            texts.append(answer.strip())
        before = city.canned_answers.get(language, ())
        canned = {**city.canned_answers, language: tuple(texts)}
        self.subscribers.set_canned_answers(caller.municipality_id, canned)
        if tuple(texts) != tuple(before):
            self._audit(caller, Action.CANNED, f"{language}: {len(before)} to {len(texts)} answer(s)")
        return {"language": language, "answers": [{"text": t, "parts": sms_parts(t)} for t in texts]}

    # -- opening hours ----------------------------------------------------------------------------

    def set_hours(self, caller: Caller, weekly: Mapping[str, Any] | None, holidays: list[Any]) -> dict[str, Any]:
        """Weekly hours and holidays in the city's own zone; ``weekly`` None: always open (no notice)."""
        city = self._city(caller)
        hours = None if weekly is None else parse_hours(city.time_zone, weekly, holidays)
        self.subscribers.set_opening_hours(caller.municipality_id, hours)
        shown = hours_view(hours)
        if shown == hours_view(city.opening_hours):  # saved again unchanged (or a retry): nothing to record
            return {"hours": shown, "time_zone": city.time_zone}
        detail = (
            "always open"
            if shown is None
            else "; ".join(
                [f"{day} {text or 'closed'}" for day, text in shown["weekly"].items()]
                + ([f"holidays {', '.join(shown['holidays'])}"] if shown["holidays"] else [])
            )
        )
        self._audit(caller, Action.HOURS, detail)
        return {"hours": shown, "time_zone": city.time_zone}

    # -- first-response target --------------------------------------------------------------------

    def set_target(self, caller: Caller, minutes: Any) -> dict[str, Any]:
        """Minutes from 1 to a week, or None (no target). Who is mailed a breach stays as the operator set it."""
        self._city(caller)
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_TARGET_MINUTES
        ):
            raise SettingsRefused(f"target: off or a whole number of minutes from 1 to {MAX_TARGET_MINUTES}")
        before = target_of(caller.municipality_id)
        set_target(caller.municipality_id, minutes, before.notify if before else ())
        if (before.minutes if before else None) != minutes:
            self._audit(caller, Action.TARGET, f"{minutes} minutes" if minutes else "off")
        return {"target_minutes": minutes}

    # -- departments (text311.departments) --------------------------------------------------------

    def _department_fields(
        self, caller: Caller, city: Subscriber, name: Any, inbox: Any, agents: Any, others: tuple[Department, ...]
    ) -> tuple[str, str, tuple[str, ...]]:
        """A department's name, inbox and agents as the rules accept them, or ``SettingsRefused`` naming the
        field. ``others``: the city's other departments, whose names this one may not take."""
        if not isinstance(name, str) or not 1 <= len(" ".join(name.split())) <= MAX_NAME_LENGTH:
            raise SettingsRefused(f"name: a name of 1 to {MAX_NAME_LENGTH} characters is required")
        name = " ".join(name.split())  # one line: it is shown in lists, notes and audit entries
        if any(d.name.casefold() == name.casefold() for d in others):
            raise SettingsRefused(f"name: the city already has a department named {name!r}")
        try:
            address = single_address(inbox if isinstance(inbox, str) else "")
        except AddressRefused as exc:
            raise SettingsRefused(f"inbox: {exc}") from exc
        # The inbox receives residents' texts: an address the city vouches for, as an invitation's.
        if not on_allow_list(address, self._vouched(city)):
            raise SettingsRefused(
                f"inbox: {address} is outside the city's domains: ask the Text311 operator to add it to the "
                "city's allow-list first"
            )
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            raise SettingsRefused("agents: a list of agents' addresses is required")
        roster = None  # without a user pool (the local run), the allow-list says who is an agent
        if self.directory is not None:
            roster = {a.email for a in self.directory.agents(caller.municipality_id) if a.enabled}
        members: list[str] = []
        for raw in agents:
            if not raw.strip():
                continue
            try:
                agent = single_address(raw)
            except AddressRefused as exc:
                raise SettingsRefused(f"agents: {exc}") from exc
            if not (agent in roster if roster is not None else city.allows_agent(agent)):
                raise SettingsRefused(f"agents: {agent} is not an enabled agent on the city's list")
            if agent not in members:
                members.append(agent)
        return name, address, tuple(sorted(members))

    def _write_departments(
        self, caller: Caller, departments: tuple[Department, ...], before: str | None, detail: str
    ) -> None:
        try:
            self.subscribers.set_departments(caller.municipality_id, departments, before)
        except DepartmentsChanged as exc:
            raise Conflict(str(exc)) from exc
        self._audit(caller, Action.DEPARTMENT, detail)

    def add_department(self, caller: Caller, name: Any, inbox: Any, agents: Any) -> dict[str, Any]:
        city = self._city(caller)
        current, before = self.subscribers.departments(caller.municipality_id)
        if len(current) >= MAX_DEPARTMENTS:
            raise SettingsRefused(f"name: at most {MAX_DEPARTMENTS} departments per city")
        name, address, members = self._department_fields(caller, city, name, inbox, agents, current)
        department = Department(new_department_id(), name, address, members)
        self._write_departments(
            caller, (*current, department), before, f"added {name} ({address}, {len(members)} agent(s))"
        )
        return department.as_json()

    def change_department(self, caller: Caller, department_id: str, name: Any, inbox: Any, agents: Any) -> dict:
        """Rename, or change the inbox or agents of, one department; its conversations follow (they hold its id)."""
        city = self._city(caller)
        current, before = self.subscribers.departments(caller.municipality_id)
        old = find_department(current, department_id)
        if old is None:
            raise UnknownDepartment(department_id)
        others = tuple(d for d in current if d is not old)
        name, address, members = self._department_fields(caller, city, name, inbox, agents, others)
        new = Department(old.department_id, name, address, members)
        if new == old:  # saved again unchanged (or a retry): nothing to record
            return new.as_json()
        changes = [f"renamed from {old.name}"] if name != old.name else []
        changes += [f"inbox {old.inbox} to {address}"] if address != old.inbox else []
        changes += [f"agents {len(old.agents)} to {len(members)}"] if members != old.agents else []
        self._write_departments(
            caller, tuple(new if d is old else d for d in current), before, f"changed {name}: {'; '.join(changes)}"
        )
        return new.as_json()

    def remove_department(self, caller: Caller, department_id: str) -> dict[str, Any]:
        """Its conversations keep an id no department has: their mail goes to the city's inbox again."""
        self._city(caller)
        current, before = self.subscribers.departments(caller.municipality_id)
        old = find_department(current, department_id)
        if old is None:
            raise UnknownDepartment(department_id)
        self._write_departments(caller, tuple(d for d in current if d is not old), before, f"removed {old.name}")
        return {"removed": old.department_id}
