"""Commands at the top of an agent's emailed answer (issue 20): ``#request <service_code> [address]``
files a service request for the conversation, ``#status <open|in_progress|closed> [note]`` changes
the status of its latest request. The command lines are never texted to the resident; the rest of
the answer is, as any answer.

Commands are the first lines of the answer, after at most a greeting ("Bonjour,"). A command word
on any later line refuses the whole answer (:class:`Misplaced`): that line would reach the
resident's phone. A rest that is only a greeting is no text: the answer is commands only.

Every command of an answer is checked before any runs: one unknown or misplaced command, unknown
service code or ``#status`` without a request refuses the whole answer (the agent is told why,
nothing is texted). Each command is idempotent on the answer's id, so a redelivered mail files and
changes nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from text311.city_services import suggest_service
from text311.i18n import catalog
from text311.location import FoundLocation
from text311.observability import logger
from text311.replies.signature import is_greeting_only
from text311.request_hints import RequestHint, RequestHints, location_text
from text311.request_texts import filed_text, service_name, status_change_text, status_word
from text311.service_requests import STATUSES, ServiceRequest, ServiceRequestStore, reference_prefix

# "#request", "#status" (and their French names): the first word of a command line. A command word
# starts with a letter: "#5 bus stops are moved", "#1 priority" or "# Update" is text.
_COMMAND_LINE = re.compile(r"^\s*#([^\W\d_]\S*)\s*(.*)$")
_NAMES = {
    "request": "request",
    "demande": "request",
    "status": "status",
    "statut": "status",
    "etat": "status",
    "état": "status",
}
# A line that starts with a command word, wherever it stands (a misplaced command).
_COMMAND_WORD = re.compile(r"^\s*#(" + "|".join(map(re.escape, _NAMES)) + r")\b", re.IGNORECASE)
# A request's description: the resident's texts, up to this many characters (newest kept).
DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class FileRequest:
    service_code: str
    address: str  # "" when the agent gave none


@dataclass(frozen=True)
class SetStatus:
    status: str
    note: str


@dataclass(frozen=True)
class Unknown:
    word: str


@dataclass(frozen=True)
class Misplaced:
    """A command word on a line after the answer's text began: never run, never texted."""

    word: str


Command = FileRequest | SetStatus | Unknown | Misplaced


def split_commands(text: str) -> tuple[list[Command], str]:
    """The command lines that open ``text`` (after greeting lines; blank lines between them
    allowed) and the rest: the greeting and the text after the commands. A command word on a later
    line is :class:`Misplaced`; a rest that is only a greeting is "" (the answer is commands only)."""
    lines = text.split("\n")
    commands: list[Command] = []
    greeting = 0
    while greeting < len(lines) and (not lines[greeting].strip() or is_greeting_only(lines[greeting])):
        greeting += 1
    index = greeting
    while index < len(lines):
        line = lines[index]
        match = _COMMAND_LINE.match(line)
        if not line.strip() and commands:
            index += 1
            continue
        if match is None:
            break
        word, argument = match.group(1), " ".join(match.group(2).split())
        kind = _NAMES.get(word.casefold())
        if kind == "request":
            code, _, address = argument.partition(" ")
            commands.append(FileRequest(code, address.strip()))
        elif kind == "status":
            status, _, note = argument.partition(" ")
            commands.append(SetStatus(status.casefold().replace("-", "_"), note.strip()))
        else:
            commands.append(Unknown(f"#{word}"))
        index += 1
    if not commands:
        greeting = index = 0  # the greeting is the answer's own first line
    rest = "\n".join(lines[:greeting] + lines[index:]).strip()
    for line in rest.split("\n"):
        misplaced = _COMMAND_WORD.match(line)
        if misplaced is not None:
            commands.append(Misplaced(f"#{misplaced.group(1)}"))
    if commands and is_greeting_only(rest):
        rest = ""
    return commands, rest


class CommandRefused(ValueError):
    """What is wrong with an answer's commands, in the city's language (``detail``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def check_placement(commands: list[Command], language: str) -> None:
    """Refuse an answer with a command line after its text began (whether or not commands run here)."""
    for command in commands:
        if isinstance(command, Misplaced):
            raise CommandRefused(catalog().agent_text(language, "command_misplaced", command=command.word))


@dataclass(frozen=True)
class Done:
    """One command run: what the resident is texted (under ``key``) and what the agent is told
    (once, under the claim ``notice_key``: see ``ServiceRequestStore.claim_once``)."""

    request: ServiceRequest
    resident_text: str
    key: str
    agent_notice: Callable[[str], str]
    notice_key: str


@dataclass
class RequestCommands:
    store: ServiceRequestStore
    hints: RequestHints
    # conversation id → the resident's texts in it, oldest first
    resident_texts: Callable[[str], list[str]]

    def check(self, commands: list[Command], conversation: Any, subscriber: Any) -> None:
        language = subscriber.language
        words = catalog()
        codes = [s.service_code for s in subscriber.services]
        files = [c for c in commands if isinstance(c, FileRequest)]
        statuses = [c for c in commands if isinstance(c, SetStatus)]
        check_placement(commands, language)
        for command in commands:
            if isinstance(command, Unknown):
                raise CommandRefused(words.agent_text(language, "command_unknown", command=command.word))
        if len(files) > 1 or len(statuses) > 1:
            raise CommandRefused(words.agent_text(language, "command_twice"))
        for filing in files:
            if not filing.service_code:
                raise CommandRefused(words.agent_text(language, "command_no_service", codes=", ".join(codes)))
            if city_service_code(subscriber, filing.service_code) is None:
                raise CommandRefused(
                    words.agent_text(
                        language,
                        "command_unknown_service",
                        code=filing.service_code,
                        city=subscriber.display_name,
                        codes=", ".join(codes),
                    )
                )
        for change in statuses:
            if change.status not in STATUSES:
                raise CommandRefused(words.agent_text(language, "command_bad_status", status=change.status))
        if (
            statuses
            and not files
            and not self.store.for_conversation(_city(conversation), conversation.conversation_id)
        ):
            raise CommandRefused(words.agent_text(language, "command_no_request"))

    def run(
        self, commands: list[Command], conversation: Any, subscriber: Any, agent: str, answer_id: str
    ) -> list[Done]:
        """Run checked commands: the filing first, then the status change (of the request just filed,
        when the same answer files one)."""
        done: list[Done] = []
        filed: str | None = None
        for command in sorted(commands, key=lambda c: not isinstance(c, FileRequest)):
            if isinstance(command, FileRequest):
                done.append(self._file(command, conversation, subscriber, agent, answer_id))
                filed = done[-1].request.reference
            elif isinstance(command, SetStatus):
                # The request just filed by name: the by-conversation index may not show it yet.
                done.append(self._set_status(command, conversation, subscriber, agent, answer_id, filed))
        return done

    def _file(self, command: FileRequest, conversation: Any, subscriber: Any, agent: str, answer_id: str) -> Done:
        return self.file(conversation, subscriber, command.service_code, command.address, agent, answer_id)

    def file(
        self, conversation: Any, subscriber: Any, service_code: str, address: str, agent: str, answer_id: str
    ) -> Done:
        """File a request for ``conversation``: the one path of an emailed ``#request`` and of the
        console's "File request". ``answer_id`` (an answer's Message-ID, a console click's key) makes
        it idempotent: the filing, the resident's text and the agent's notice are each done once."""
        city, language = _city(conversation), str(conversation.language)
        key = f"{answer_id}#request"
        already = self.store.claimed(city, key)
        texts = self.resident_texts(conversation.conversation_id)
        found = self._location(address, texts, language, subscriber) if already is None else None
        request = self.store.file(
            city_id=city,
            prefix=reference_prefix(subscriber),
            service_code=city_service_code(subscriber, service_code) or "",
            description=_description(texts),
            address=_address(found),
            lat=found.point.latitude if found and found.point else None,
            lon=found.point.longitude if found and found.point else None,
            conversation_id=conversation.conversation_id,
            source="sms",
            by=agent,
            idempotency_key=key,
        )
        name = service_name(subscriber, request.service_code, language)
        place = (
            location_text(found, subscriber.language)
            if found
            else catalog().agent_text(subscriber.language, "hint_no_location")
        )
        return Done(
            request,
            filed_text(language, request, name),
            f"{answer_id}:request",
            lambda lang: catalog().agent_notice(
                lang, "request_filed_notice", reference=request.reference, code=request.service_code, location=place
            ),
            f"{key}#notice",
        )

    def _set_status(
        self,
        command: SetStatus,
        conversation: Any,
        subscriber: Any,
        agent: str,
        answer_id: str,
        reference: str | None = None,
    ) -> Done:
        """Change ``reference`` (the request this answer filed), else the conversation's latest."""
        city = _city(conversation)
        # A redelivery changes the request the first delivery changed, whatever was filed since.
        reference = self.store.claimed(city, f"{answer_id}#status") or reference
        if reference is None:
            found = self.store.for_conversation(city, conversation.conversation_id)
            if not found:
                raise CommandRefused(catalog().agent_text(subscriber.language, "command_no_request"))
            reference = found[0].reference
        return self.change_status(
            city, reference, command.status, command.note, agent, answer_id, str(conversation.language), subscriber
        )

    def change_status(
        self,
        city: str,
        reference: str,
        status: str,
        note: str,
        agent: str,
        answer_id: str,
        language: str,
        subscriber: Any,
    ) -> Done:
        """Change the status of ``reference``: the one path of an emailed ``#status`` and of the
        console's status change, once per ``answer_id``. ``language``: the resident's, for their text."""
        key = f"{answer_id}#status"
        request = self.store.set_status(city, reference, status, note, agent, idempotency_key=key)
        name = service_name(subscriber, request.service_code, language)
        return Done(
            request,
            status_change_text(language, request, name, note),
            f"{answer_id}:status",
            lambda lang: catalog().agent_notice(
                lang, "status_set_notice", reference=request.reference, status=status_word(lang, status)
            ),
            f"{key}#notice",
        )

    def suggestion(self, conversation: Any, subscriber: Any) -> RequestHint:
        """What the resident's texts suggest, as the city's mail shows it: the category of the latest
        text that suggests one, the place of the latest text that names one (geocoded in the city)."""
        language = str(conversation.language)
        texts = self.resident_texts(conversation.conversation_id)
        service = None
        for text in reversed(texts):
            try:
                service = suggest_service(text, language, subscriber.services)
            except Exception as exc:  # noqa: BLE001 - no suggestion: the agent chooses
                logger.warning("no service suggestion", extra={"error": type(exc).__name__})
            if service is not None:
                break
        return RequestHint(service, self._location("", texts, language, subscriber))

    def _location(self, address: str, texts: list[str], language: str, subscriber: Any) -> FoundLocation | None:
        """The address the agent gave, else the place the resident's latest text that names one."""
        if address:
            return self.hints.geocode_address(address, language, subscriber)
        for text in reversed(texts):
            found = self.hints.locate(text, language, subscriber)
            if found is not None:
                return found
        return None


def resident_texts(conversation_id: str) -> list[str]:
    """The resident's texts in a conversation, oldest first (one Query of its messages)."""
    from text311.adapters.dynamodb import MessageModel

    found = MessageModel.query(conversation_id, filter_condition=MessageModel.direction == "in")
    return [m.body for m in found if m.body]


def _city(conversation: Any) -> str:
    return str(int(conversation.municipality_id))


def _codes(subscriber: Any) -> list[str]:
    return [s.service_code for s in subscriber.services]


def city_service_code(subscriber: Any, written: str) -> str | None:
    """The city's service code as the agent wrote or chose it, case aside; None: not one of the city's."""
    folded = written.casefold()
    return next((code for code in _codes(subscriber) if code.casefold() == folded), None)


def _address(found: FoundLocation | None) -> str | None:
    if found is None:
        return None
    return found.label or found.text


def _description(texts: list[str]) -> str:
    joined = "\n".join(t.strip() for t in texts if t.strip())
    return joined[-DESCRIPTION_MAX:]
