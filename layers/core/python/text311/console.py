"""The agents' console: a city's shared inbox, scoped to the caller's city by the table key.

Every read names ``caller.municipality_id`` as the partition key, so another city's
conversation is simply not found (404), never fetched and then hidden. Answers go through
``AnswerService.send_answer``, the same path as email answers.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from text311.adapters.dynamodb import ConversationModel, MessageModel
from text311.addresses import agent_address
from text311.auth import Caller
from text311.observability import correlate, logger, metrics

if TYPE_CHECKING:  # the console API's cold start imports answers only when an answer is sent
    from text311.answers import AnswerService
    from text311.conversations import ResidentRecord

PAGE = 50


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Conflict(RuntimeError):
    pass


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def conversation_view(c: ConversationModel, owner: str | None) -> dict[str, Any]:
    """``owner``: the stored owner as the city's allow-list reads it (``ConsoleService._owner``)."""
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
    }


def message_view(m: MessageModel) -> dict[str, Any]:
    return {
        "direction": m.direction,
        "channel": m.channel,
        "body": m.body,
        "author": m.author,
        "status": m.status,
        "urgent": bool(m.urgent),
        "at": _iso(m.created_at),
    }


@dataclass
class ConsoleService:
    answers: AnswerService
    subscribers: Any
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # -- reading ----------------------------------------------------------------------------------

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
        return conversation_view(conversation, self._owner(caller, conversation))

    def _owner_or_supervisor(self, caller: Caller, conversation: ConversationModel, action: str) -> None:
        if not (caller.supervisor or self._owner(caller, conversation) in (None, caller.email)):
            raise Forbidden(f"only the conversation's agent or a supervisor can {action} it")

    def list(
        self, caller: Caller, status: str | None = "open", view: str | None = None, query: str | None = None
    ) -> list[dict[str, Any]]:
        condition = None
        if status in ("open", "closed"):
            condition = ConversationModel.status == status
        if view == "mine":
            mine = ConversationModel.owner_email == caller.email
            condition = mine if condition is None else condition & mine
        elif view == "unassigned":
            free = ConversationModel.owner_email.does_not_exist()
            condition = free if condition is None else condition & free
        items = ConversationModel.by_activity.query(
            caller.municipality_id, scan_index_forward=False, filter_condition=condition
        )
        needle = (query or "").casefold().strip()
        subscriber = self.subscribers.get(caller.municipality_id)
        result = []
        for item in items:  # the query is bounded by the caller's partition
            if needle and needle not in item.subject.casefold():
                continue
            result.append(conversation_view(item, subscriber.agent_owner(item.owner_email) if subscriber else None))
            if len(result) >= PAGE:
                break
        return result

    def thread(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        messages = [message_view(m) for m in MessageModel.query(conversation_id)]
        view = self._view(caller, conversation)
        # A STOP marks the resident, not the conversation: the page must know before Send is pressed.
        view["resident_opted_out"] = view["resident_opted_out"] or self.answers.residents_opted_out(
            conversation.phone_hash)
        return {"conversation": view, "messages": messages}

    def canned(self, caller: Caller) -> dict[str, list[str]]:
        subscriber = self.subscribers.get(caller.municipality_id)
        return {lang: list(texts) for lang, texts in (subscriber.canned_answers if subscriber else {}).items()}

    # -- acting -----------------------------------------------------------------------------------

    def answer(self, caller: Caller, conversation_id: str, text: str, request_id: str) -> dict[str, Any]:
        from text311.answers import AnswerRejected

        conversation = self._conversation(caller, conversation_id)
        try:
            outcome = self.answers.send_answer(
                conversation, caller.email, text, f"console-{request_id}", self.clock(), channel="console"
            )
        except AnswerRejected as rejected:
            return {"sent": False, "reason": rejected.reason.value, "detail": rejected.detail}
        # "queued" with wait_minutes when the SMS line is busy: the page says "queued, about N minutes".
        return {"sent": outcome.sent, "reason": outcome.reason, "parts": outcome.parts,
                "status": outcome.reason,
                "wait_minutes": outcome.wait_minutes}

    def claim(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        model = ConversationModel
        free = model.owner_email.does_not_exist() | (model.owner_email == caller.email)
        stored = conversation.owner_email
        if stored and self._owner(caller, conversation) is None:  # not one agent of the city: unowned
            free = free | (model.owner_email == stored)
        try:
            conversation.update(actions=[model.owner_email.set(caller.email)], condition=free)
        except Exception as exc:  # noqa: BLE001 - conditional failure: someone owns it already
            conversation.refresh()
            raise Conflict(f"already owned by {self._owner(caller, conversation)}") from exc
        return self._view(caller, conversation)

    def assign(self, caller: Caller, conversation_id: str, agent: str) -> dict[str, Any]:
        """Transfer to one agent of the city; ``AddressRefused`` (a ValueError) for anything else."""
        conversation = self._conversation(caller, conversation_id)
        self._owner_or_supervisor(caller, conversation, "transfer")
        subscriber = self.subscribers.get(caller.municipality_id)
        address = agent_address(agent, subscriber.agent_allow_list if subscriber else ())
        conversation.update(actions=[ConversationModel.owner_email.set(address)])
        self.note(caller, conversation_id, f"Transferred to {address} by {caller.email}.")
        return self._view(caller, conversation)

    def set_status(self, caller: Caller, conversation_id: str, status: str) -> dict[str, Any]:
        conversation = self._conversation(caller, conversation_id)
        if status == "closed":
            self._owner_or_supervisor(caller, conversation, "close")
            resident = self._surveyed_resident(caller, conversation)
            if resident is not None and self.answers.store.close_with_survey(conversation, self.clock()):
                self._send_survey(conversation, resident)
                return self._view(caller, conversation)
            # No survey, or another close won the race: an ordinary close (a no-op if it is closed).
        conversation.update(
            actions=[ConversationModel.status.set(status), ConversationModel.last_message_at.set(self.clock())]
        )
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
