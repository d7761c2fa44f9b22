"""A city's departments (issue 22, item 1): a named team with a shared inbox and its agents.

A conversation transferred to a department keeps the department's id (``ConversationModel.department``),
never its name, so a rename follows it; the resident's next texts are mailed to the department's inbox
(``Subscriber.conversation_recipients``). The list is stored as JSON on the city's item (``departments``),
written with a conditional update; a department removed leaves its conversations' ids unknown, which
reads as no department: their mail goes to the city's contact addresses again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

# A small city's centre has a few teams: a short list keeps the settings screen and the item small.
MAX_DEPARTMENTS = 30
MAX_NAME_LENGTH = 60


class UnknownDepartment(LookupError):
    """No department of the caller's city has this id (another city's id is unknown here too)."""


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    inbox: str
    agents: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"id": self.department_id, "name": self.name, "inbox": self.inbox, "agents": list(self.agents)}


def new_department_id() -> str:
    return secrets.token_hex(6)


def departments_from_json(text: str | None) -> tuple[Department, ...]:
    if not text:
        return ()
    return tuple(
        Department(entry["department_id"], entry["name"], entry["inbox"], tuple(entry.get("agents", ())))
        for entry in json.loads(text)
    )


def departments_to_json(departments: tuple[Department, ...]) -> str:
    return json.dumps([asdict(d) for d in departments], ensure_ascii=False, separators=(",", ":"))


def find_department(departments: tuple[Department, ...], department_id: str | None) -> Department | None:
    return next((d for d in departments if d.department_id == department_id), None) if department_id else None


class DepartmentsChanged(RuntimeError):
    """Another edit of the city's departments came in between: read them again and retry."""
