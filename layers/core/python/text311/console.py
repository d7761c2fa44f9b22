"""The agents' console: a city's shared inbox, scoped to the caller's city by the table key.

Every read names ``caller.municipality_id`` as the partition key, so another city's
conversation is simply not found (404), never fetched and then hidden. Answers go through
``AnswerService.send_answer``, the same path as email answers.
"""

from __future__ import annotations

import builtins  # in ConsoleService's annotations ``list`` names its method ``list``, not the type
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.expressions.update import Action as UpdateAction

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.addresses import AddressRefused, agent_address
from text311.audit import Action, AuditLog, day_range, entries_csv, entry_id_of
from text311.auth import Caller
from text311.console_errors import Conflict, Forbidden, NotFound  # defined apart for the console API's cold start
from text311.console_search import Search, earlier_conversations, find
from text311.observability import correlate, logger, metrics
from text311.response_targets import is_overdue, target_of

if TYPE_CHECKING:  # the console API's cold start imports answers only when an answer is sent
    from text311.answers import AnswerService
    from text311.conversations import ResidentRecord



def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def conversation_view(
    c: ConversationModel, owner: str | None, overdue: bool = False, department: str | None = None
) -> dict[str, Any]:
    """``owner``: the stored owner as the city's allow-list reads it (``ConsoleService._owner``);
    ``overdue``: waiting beyond the city's first-response target (text311.response_targets);
    ``department``: the name of the city's department it was transferred to (None: the city's inbox)."""
    return {
        "id": c.conversation_id,
        "subject": c.subject,
        "status": c.status,
        "owner": owner,
        "resident": c.phone_masked,
        "language": c.language,
        "urgent": bool(c.urgent),
        "resident_opted_out": bool(c.resident_opted_out),
        "opened_at": _iso(c.opened_at),
        "last_message_at": _iso(c.last_message_at),
        "first_response_at": _iso(c.first_response_at),
        "closed_at": _iso(c.closed_at),
        "overdue": overdue,
        "department": department,
    }


def department_name(subscriber: Any, conversation: ConversationModel) -> str | None:
    """The name of the conversation's department; None when it has none or the city removed it."""
    department = subscriber.department(conversation.department) if subscriber else None
    return department.name if department else None


def message_view(m: MessageModel) -> dict[str, Any]:
    return {
        "direction": m.direction,
        "channel": m.channel,
        "body": m.body,
        "author": m.author,
        "status": m.status,
        "urgent": bool(m.urgent),
        "at": _iso(m.created_at),
        # A machine translation (text311.translation): of a resident's text into the city's language, or
        # of an answer as the resident received it; None when there is none.
        "translation": {"text": m.translation, "engine": m.translation_engine, "language": m.translation_language}
        if m.translation
        else None,
    }


@dataclass
class ConsoleService:
    answers: AnswerService
    subscribers: Any
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    audit: AuditLog = field(default_factory=AuditLog)

    def _audit(
        self,
        caller: Caller,
        conversation_id: str | None,
        action: Action,
        detail: str = "",
        at: datetime | None = None,
        entry_id: str | None = None,
    ) -> None:
        """One audit entry for a change already made: a failure to write it is logged and counted
        (``AuditWriteFailed`` alarms), never turned into a failure of the change itself. ``at`` and
        ``entry_id``: an action's own time and id, which every retry of it records under once."""
        try:
            self.audit.record(
                caller.municipality_id, conversation_id, caller.email, action, detail, at or self.clock(), entry_id
            )
        except Exception as exc:  # noqa: BLE001 - the change stands; the missing entry is reported
            logger.error("audit entry not written", extra={"action": str(action), "error": type(exc).__name__})
            metrics.add_metric(name="AuditWriteFailed", unit="Count", value=1)

    # -- reading ----------------------------------------------------------------------------------

    # The console's changes below are updates of one or two attributes, each with its own condition where one
    # is needed, and without pynamodb's version condition: a resident's text or the drainer's record landing
    # between this read and the update is no reason to fail the agent's click (it did, with a 500).
    def _conversation(self, caller: Caller, conversation_id: str) -> ConversationModel:
        try:
            conversation = ConversationModel.get(caller.municipality_id, conversation_id)
        except ConversationModel.DoesNotExist as exc:
            raise NotFound(conversation_id) from exc
        correlate(conversation_id)  # only once the caller's city holds it
        return conversation

    def _owner(self, caller: Caller, conversation: ConversationModel) -> str | None:
        """The owner, or None when the stored one is not one agent of the city (it counts as unowned)."""
        subscriber = self.subscribers.get(caller.municipality_id)
        return subscriber.agent_owner(conversation.owner_email) if subscriber else None

    def _view(self, caller: Caller, conversation: ConversationModel) -> dict[str, Any]:
        target = target_of(caller.municipality_id)
        overdue = is_overdue(conversation, target.minutes if target else None, self.clock())
        subscriber = self.subscribers.get(caller.municipality_id)  # once: the owner and the department
        owner = subscriber.agent_owner(conversation.owner_email) if subscriber else None
        return conversation_view(conversation, owner, overdue, department_name(subscriber, conversation))

    def _owner_or_supervisor(self, caller: Caller, conversation: ConversationModel, action: str) -> None:
        if not (caller.supervisor or self._owner(caller, conversation) in (None, caller.email)):
            raise Forbidden(f"only the conversation's agent or a supervisor can {action} it")

    def list(
        self, caller: Caller, status: str | None = "open", view: str | None = None, query: str | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of the city's conversations (text311.console_search): ``conversations`` and ``cursor``."""
        subscriber = self.subscribers.get(caller.municipality_id)
        target = target_of(caller.municipality_id)
        now = self.clock()

        def shown(item: ConversationModel) -> dict[str, Any]:
            owner = subscriber.agent_owner(item.owner_email) if subscriber else None
            overdue = is_overdue(item, target.minutes if target else None, now)
            return conversation_view(item, owner, overdue, department_name(subscriber, item))

        search = Search(status=status, view=view, text=query or "", cursor=cursor)
        return find(caller.municipality_id, caller.email, search, shown)

    def thread(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        # Translation previews (direction "preview", text311.answers) are kept for billing, not shown.
        messages = [message_view(m) for m in MessageModel.query(conversation_id) if m.direction != "preview"]
        view = self._view(caller, conversation)
        # A STOP marks the resident, not the conversation: the page must know before Send is pressed.
        view["resident_opted_out"] = view["resident_opted_out"] or self.answers.residents_opted_out(
            conversation.phone_hash)
        history = [entry.as_json() for entry in self.audit.for_conversation(caller.municipality_id, conversation_id)]
        earlier = earlier_conversations(caller.municipality_id, conversation)
        return {"conversation": view, "messages": messages, "history": history, "earlier": earlier}

    def canned(self, caller: Caller) -> dict[str, builtins.list[str]]:
        subscriber = self.subscribers.get(caller.municipality_id)
        return {lang: list(texts) for lang, texts in (subscriber.canned_answers if subscriber else {}).items()}

    # -- acting -----------------------------------------------------------------------------------

    def answer(self, caller: Caller, conversation_id: str, text: str, request_id: str) -> dict[str, Any]:
        from text311.answers import AnswerRejected

        conversation = self._conversation(caller, conversation_id)
        external_id = f"console-{request_id}"
        # The first attempt's time for every retry of the click (one after a crash is run again, with the
        # clock moved on): the answer is recorded, and its audit entry written, under one key.
        at = self.answers.store.answer_time(conversation_id, external_id, self.clock())
        try:
            outcome = self.answers.send_answer(conversation, caller.email, text, external_id, at, channel="console")
        except AnswerRejected as rejected:
            return {"sent": False, "reason": rejected.reason.value, "detail": rejected.detail}
        if outcome.sent or outcome.reason == "queued":  # "duplicate" too: a crash may have come before the entry
            detail = "retried" if outcome.reason == "duplicate" else f"{outcome.reason}, {outcome.parts} SMS part(s)"
            self._audit(caller, conversation_id, Action.ANSWER, detail, at, entry_id_of(external_id))
        # "queued" with wait_minutes when the SMS line is busy: the page says "queued, about N minutes".
        return {"sent": outcome.sent, "reason": outcome.reason, "parts": outcome.parts,
                "status": outcome.reason,
                "wait_minutes": outcome.wait_minutes}

    def preview(self, caller: Caller, conversation_id: str, text: str) -> dict[str, Any]:
        """What the resident would receive for ``text``: its machine translation when the conversation
        needs one (``translation`` None when it does not). Nothing is recorded, sent or audited."""
        from text311.answers import AnswerRejected

        conversation = self._conversation(caller, conversation_id)
        try:
            done = self.answers.preview(conversation, text)
        except AnswerRejected as rejected:
            return {"translated": False, "reason": rejected.reason.value, "detail": rejected.detail}
        if done is None:
            return {"translated": False, "translation": None}
        from text311.i18n import catalog

        words = catalog()
        known = words.languages.get(done.target)
        label = words.agent_text(
            self.answers._language(caller.municipality_id),
            "translation_preview",
            engine=done.engine,
            language_name=known.name if known else done.target,
        )
        return {
            "translated": True,
            "label": label,
            "translation": {"text": done.text, "engine": done.engine, "language": done.target},
        }

    def claim(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        model = ConversationModel
        free = model.owner_email.does_not_exist() | (model.owner_email == caller.email)
        stored = conversation.owner_email
        if stored and self._owner(caller, conversation) is None:  # not one agent of the city: unowned
            free = free | (model.owner_email == stored)
        try:
            conversation.update(
                actions=[model.owner_email.set(caller.email)], condition=free, add_version_condition=False
            )
        except Exception as exc:  # noqa: BLE001 - conditional failure: someone owns it already
            conversation.refresh()
            raise Conflict(f"already owned by {self._owner(caller, conversation)}") from exc
        if stored != caller.email:
            self._audit(caller, conversation_id, Action.CLAIM, f"from {stored}" if stored else "")
        return self._view(caller, conversation)

    def assign(self, caller: Caller, conversation_id: str, agent: str) -> dict[str, Any]:
        """Transfer to one agent of the city; ``AddressRefused`` (a ValueError) for anything else."""
        conversation = self._conversation(caller, conversation_id)
        self._owner_or_supervisor(caller, conversation, "transfer")
        subscriber = self.subscribers.get(caller.municipality_id)
        address = agent_address(agent, subscriber.agent_allow_list if subscriber else ())
        if not subscriber.allows_agent(address):  # under an @domain entry, but disabled on the roster
            raise AddressRefused(f"{address} is disabled: a supervisor can re-enable them in the settings")
        before = self._owner(caller, conversation)
        if before == address:  # a retried transfer: already done, noted and recorded once
            return self._view(caller, conversation)
        conversation.update(
            actions=[ConversationModel.owner_email.set(address), ConversationModel.transferred_at.set(self.clock())],
            add_version_condition=False,
        )
        self._add_note(caller, conversation_id, f"Transferred to {address} by {caller.email}.")
        self._audit(caller, conversation_id, Action.TRANSFER, f"from {before or 'no one'} to {address}")
        return self._view(caller, conversation)

    def departments(self, caller: Caller) -> builtins.list[dict[str, str]]:
        """The city's departments a conversation can be transferred to (any agent of the city)."""
        subscriber = self.subscribers.get(caller.municipality_id)
        return [{"id": d.department_id, "name": d.name} for d in (subscriber.departments if subscriber else ())]

    def transfer(self, caller: Caller, conversation_id: str, department_id: str) -> dict[str, Any]:
        """Transfer to one of the city's departments: its owner is cleared, so any agent may claim it, and
        the resident's next texts are mailed to the department's inbox. ``UnknownDepartment`` for an id the
        caller's city does not have (another city's included)."""
        from text311.departments import UnknownDepartment

        conversation = self._conversation(caller, conversation_id)
        self._owner_or_supervisor(caller, conversation, "transfer")
        subscriber = self.subscribers.get(caller.municipality_id)
        department = subscriber.department(department_id) if subscriber else None
        if department is None:
            raise UnknownDepartment(department_id)
        if conversation.department == department.department_id and not conversation.owner_email:
            return self._view(caller, conversation)  # a retried transfer: already done, noted and recorded once
        before = self._owner(caller, conversation) or department_name(subscriber, conversation) or "no one"
        model = ConversationModel
        conversation.update(
            actions=[
                model.department.set(department.department_id),
                model.owner_email.remove(),
                model.transferred_at.set(self.clock()),
            ],
            add_version_condition=False,
        )
        self._add_note(caller, conversation_id, f"Transferred to the department {department.name} by {caller.email}.")
        self._audit(caller, conversation_id, Action.TRANSFER, f"from {before} to department {department.name}")
        return self._view(caller, conversation)

    def set_status(self, caller: Caller, conversation_id: str, status: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        before = conversation.status
        now = self.clock()
        action = Action.CLOSE if status == "closed" else Action.REOPEN if status == "open" else Action.STATUS
        if status == "closed":
            self._owner_or_supervisor(caller, conversation, "close")
            resident = self._surveyed_resident(caller, conversation)
            if resident is not None and self.answers.store.close_with_survey(conversation, now):
                self._send_survey(conversation, resident)
                self._audit(caller, conversation_id, action, "survey sent")
                return self._view(caller, conversation)
            # No survey, or another close won the race: an ordinary close (a no-op if it is closed).
        model = ConversationModel
        actions: list[UpdateAction] = [model.status.set(status), model.last_message_at.set(now)]
        if before != status:  # time to close: the last close's time; a reopen clears it
            actions.append(model.closed_at.set(now) if status == "closed" else model.closed_at.remove())
        conversation.update(actions=actions, add_version_condition=False)
        if before != status:
            self._audit(caller, conversation_id, action, f"{before} to {status}" if action is Action.STATUS else "")
        return self._view(caller, conversation)

    # -- satisfaction (text311.satisfaction) -------------------------------------------------------

    def _surveyed_resident(self, caller: Caller, conversation: ConversationModel) -> ResidentRecord | None:
        """The resident of an open conversation the city surveys, or None: never one with an emergency,
        one surveyed before, or a resident who opted out or has texted another conversation since
        (their reply would be read there)."""
        subscriber = self.subscribers.get(caller.municipality_id)
        if subscriber is None or not subscriber.survey or conversation.status != "open":
            return None
        if conversation.urgent or conversation.survey_sent_at is not None or conversation.resident_opted_out:
            return None
        resident = self.answers.store.resident(conversation.phone_hash)
        if resident is None or resident.item.conversation_id != conversation.conversation_id:
            return None
        return None if self.answers.residents_opted_out(conversation.phone_hash) else resident

    def _send_survey(self, conversation: ConversationModel, resident: ResidentRecord) -> None:
        """The survey text, in the conversation's language, through the same queue as answers. Its
        context names no message, so the drainer's answer callbacks leave it alone. The resident
        remembers the surveyed conversation: a "Thanks!" that opens a new one does not hide it."""
        from text311.i18n import catalog
        from text311.satisfaction import survey_key

        conversation_id = conversation.conversation_id
        text = catalog().message(conversation.language, "survey")
        try:
            self.answers.store.note_survey(resident, conversation_id)
            number = self.answers.decrypt_phone(conversation.phone_encrypted)
            self.answers.sms.send(number, text, idempotency_key=survey_key(conversation_id),
                                  context={"conversation": conversation_id, "kind": "dialog"})
        except Exception as exc:  # noqa: BLE001 - the close stands; a lost survey only loses a score
            logger.error("survey not sent", extra={"conversation_id": conversation_id, "error": type(exc).__name__})
            metrics.add_metric(name="SurveyFailed", unit="Count", value=1)
            return
        metrics.add_metric(name="SurveysSent", unit="Count", value=1)

    def note(self, caller: Caller, conversation_id: str, text: str) -> dict[str, Any]:
        self._conversation(caller, conversation_id)
        view = self._add_note(caller, conversation_id, text)
        self._audit(caller, conversation_id, Action.NOTE, f"{len(text.strip())} characters")
        return view

    def _add_note(self, caller: Caller, conversation_id: str, text: str) -> dict[str, Any]:
        now = self.clock()
        message, _ = self.answers.store.claim_message(
            conversation_id,
            f"note-{now.timestamp()}",
            now,
            direction="note",
            channel="console",
            body=text.strip(),
            author=caller.email,
        )
        return message_view(message)

    # -- supervising ------------------------------------------------------------------------------

    def audit_csv(self, caller: Caller, first: str, last: str) -> str:
        """The city's audit entries of the days ``first`` to ``last`` (YYYY-MM-DD, in the city's zone)
        as CSV. Supervisors only; ValueError naming the fault for bad dates."""
        if not caller.supervisor:
            raise Forbidden("supervisors only")
        subscriber = self.subscribers.get(caller.municipality_id)
        zone = subscriber.time_zone if subscriber else "UTC"
        start, end = day_range(first, last, zone)
        return entries_csv(self.audit.entries(caller.municipality_id, start, end), zone)

    def usage(self, caller: Caller, month: str) -> dict[str, Any]:
        """The caller's city's usage and cost for a UTC month ("2026-12"), as ``text311 usage`` counts
        it (text311.usage): supervisors only; the city is the caller's, never a parameter."""
        from text311.usage import usage_for

        if not caller.supervisor:
            raise Forbidden("supervisors only")
        return usage_for(caller.municipality_id, month).as_json()

    def stats(self, caller: Caller, days: int = 30) -> dict[str, Any]:
        if not caller.supervisor:
            raise Forbidden("supervisors only")
        since = self.clock() - timedelta(days=days)
        open_counts: dict[str, int] = defaultdict(int)
        response_minutes: dict[str, list[float]] = defaultdict(list)
        for c in ConversationModel.by_activity.query(
            caller.municipality_id, ConversationModel.last_message_at >= since
        ):
            owner = c.owner_email or "(unassigned)"
            if c.status == "open":
                open_counts[owner] += 1
            if c.first_response_at:
                response_minutes[owner].append((c.first_response_at - c.opened_at).total_seconds() / 60)
        agents = sorted(set(open_counts) | set(response_minutes))
        return {
            "since": _iso(since),
            "agents": [
                {
                    "agent": a,
                    "open": open_counts.get(a, 0),
                    "answered": len(response_minutes.get(a, [])),
                    "median_first_response_minutes": (
                        round(statistics.median(response_minutes[a]), 1) if response_minutes.get(a) else None
                    ),
                }
                for a in agents
            ],
        }
