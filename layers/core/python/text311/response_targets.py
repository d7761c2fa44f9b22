"""Response targets (issue 22, item 4): a city's first-response target, and the breaches of it.

A city may set a target in minutes (``text311 municipality target <id> <minutes>|off``, stored on the
subscriber; none by default). An open conversation whose first text has waited longer than that for a
first answer is *overdue*: the console flags it in the list, and a scheduled check
(``functions/response_targets``, every few minutes) mails the city's supervisors once per conversation
and counts ``FirstResponseBreached`` (dimension ``city``). "Once" is one conditional write
(``target_breach_mailed_at``, set only where it is absent): a retried or overlapping run finds it set
and mails nothing more. A mail that fails is given back for the next run, logged and counted
(``FirstResponseMailFailed``); the run carries on with the other cities and fails at its end, so the
function's error alarm fires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from text311.adapters.dynamodb import ConversationModel, SubscriberModel
from text311.observability import NAMESPACE, logger

# How far back the check looks, by last activity, beyond the target itself: a conversation is mailed about
# at the first check after its target passes, so this margin only needs to outlast an outage of the schedule.
# The target is added because a one-text conversation's last activity is its opening: with a window of
# LOOKBACK alone, a target near a week would pass only once the conversation had left the window.
LOOKBACK = timedelta(days=7)
MAX_TARGET_MINUTES = 7 * 24 * 60


class BreachMailFailed(RuntimeError):
    """Some breaches could not be mailed this run (each logged and counted); the others were. Raised after
    the whole run, so the function's error alarm sees it and no city waits behind another's failure."""


class TargetError(ValueError):
    """A target that is not a whole number of minutes from 1 to a week, or a bad address."""


@dataclass(frozen=True)
class Target:
    city_id: int
    minutes: int
    notify: tuple[str, ...] = ()  # who is mailed a breach; empty: the city's contact addresses


def parse_minutes(text: str) -> int | None:
    """``off`` → None; otherwise a whole number of minutes from 1 to a week."""
    if text.strip().lower() == "off":
        return None
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_TARGET_MINUTES:
        raise TargetError(f"target: {text!r} is not off or a whole number of minutes from 1 to {MAX_TARGET_MINUTES}")
    return int(text)


def _target(item: SubscriberModel) -> Target | None:
    if item.response_target_minutes is None:
        return None
    notify: Any = item.response_target_notify or ()
    return Target(int(item.geonameid), int(item.response_target_minutes), tuple(notify))


def target_of(city_id: int) -> Target | None:
    """The city's target, or None (no target, or no such city): one GetItem of two attributes."""
    try:
        item = SubscriberModel.get(
            int(city_id), attributes_to_get=["geonameid", "response_target_minutes", "response_target_notify"]
        )
    except DoesNotExist:
        return None
    return _target(item)


def set_target(city_id: int, minutes: int | None, notify: tuple[str, ...] = ()) -> None:
    """Set or remove (None) the city's target; the city must exist (LookupError otherwise)."""
    model = SubscriberModel
    actions: list[Action] = [model.response_target_minutes.remove(), model.response_target_notify.remove()]
    if minutes is not None:
        notified: Any = list(notify)
        actions = [
            model.response_target_minutes.set(minutes),
            model.response_target_notify.set(notified) if notify else model.response_target_notify.remove(),
        ]
    try:
        SubscriberModel(geonameid=int(city_id)).update(actions=actions, condition=model.geonameid.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise LookupError(f"geonameid: {city_id} is not a subscriber") from exc
        raise


def targets() -> Iterator[Target]:
    """Every city with a target (a Scan of the small subscribers table, filtered)."""
    for item in SubscriberModel.scan(SubscriberModel.response_target_minutes.exists()):
        target = _target(item)
        if target is not None:
            yield target


def waited_minutes(conversation: ConversationModel, now: datetime) -> float:
    return (now - conversation.opened_at).total_seconds() / 60


def is_overdue(conversation: ConversationModel, target_minutes: int | None, now: datetime) -> bool:
    """Open, not answered yet, and waiting longer than the target."""
    if target_minutes is None or conversation.status != "open" or conversation.first_response_at is not None:
        return False
    return waited_minutes(conversation, now) > target_minutes


def count_breach(city_id: int) -> None:
    with single_metric(name="FirstResponseBreached", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="city", value=str(city_id))


# (conversation, recipients, text) → the mail is sent into the conversation's thread
Notify = Callable[[ConversationModel, tuple[str, ...], str], None]


@dataclass
class ResponseTargetCheck:
    """The scheduled check: every city with a target, its overdue conversations, each mailed once."""

    subscribers: Any  # .get(geonameid) → Subscriber | None
    notify: Notify
    overdue_text: Callable[[str, dict[str, object]], str]  # (language, values) → the mail's text
    console_url: str = ""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, now: datetime | None = None) -> int:
        """Mail every new breach as of ``now`` (default: the clock); returns how many were mailed.
        A breach that fails is given back for the next run and the run carries on with the others;
        ``BreachMailFailed`` at the end when any failed."""
        now = now or self.clock()
        mailed = failed = 0
        for target in targets():
            subscriber = self.subscribers.get(target.city_id)
            if subscriber is None or not subscriber.active:
                continue
            try:
                for conversation in self._overdue(target, now):
                    try:
                        if self._mail_once(conversation, subscriber, target, now):
                            mailed += 1
                    except Exception:  # noqa: BLE001 - logged and counted; the other breaches still go out
                        failed += 1
                        self._count_failure(target.city_id, conversation.conversation_id)
            except Exception:  # noqa: BLE001 - the city's query failed: the other cities still go out
                failed += 1
                self._count_failure(target.city_id, None)
        if failed:
            raise BreachMailFailed(f"{failed} breach(es) or cities failed, {mailed} mailed: see the log")
        return mailed

    @staticmethod
    def _count_failure(city_id: int, conversation_id: str | None) -> None:
        logger.exception(
            "first-response breach not mailed", extra={"conversation_id": conversation_id, "city": city_id}
        )
        with single_metric(name="FirstResponseMailFailed", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as m:
            m.add_dimension(name="city", value=str(city_id))

    def _overdue(self, target: Target, now: datetime) -> Iterator[ConversationModel]:
        model = ConversationModel
        waiting = (
            (model.status == "open")
            & model.first_response_at.does_not_exist()
            & model.target_breach_mailed_at.does_not_exist()
            & (model.opened_at < now - timedelta(minutes=target.minutes))
        )
        found = model.by_activity.query(
            target.city_id,
            model.last_message_at >= now - timedelta(minutes=target.minutes) - LOOKBACK,
            filter_condition=waiting,
        )
        return (c for c in found if is_overdue(c, target.minutes, now))

    def _mail_once(self, conversation: ConversationModel, subscriber: Any, target: Target, now: datetime) -> bool:
        """Claim the breach with one conditional write, then mail. A run that loses the claim (another
        run, or a retry of this one, got there first; or the conversation was answered or closed
        meanwhile) mails nothing. A mail that fails gives the claim back, for the next run."""
        model = ConversationModel
        claim = (
            model.target_breach_mailed_at.does_not_exist()
            & (model.status == "open")
            & model.first_response_at.does_not_exist()
        )
        try:
            conversation.update(
                actions=[model.target_breach_mailed_at.set(now)], condition=claim, add_version_condition=False
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        link = f"{self.console_url.rstrip('/')}/#/c/{conversation.conversation_id}" if self.console_url else ""
        text = self.overdue_text(
            subscriber.language,
            {
                "subject": conversation.subject,
                "minutes": int(waited_minutes(conversation, now)),
                "target": target.minutes,
                "city": subscriber.display_name,
                "link": link,
            },
        )
        try:
            self.notify(conversation, target.notify or tuple(subscriber.contact_emails), text)
        except Exception:
            conversation.update(
                actions=[model.target_breach_mailed_at.remove()],
                condition=model.target_breach_mailed_at == now,
                add_version_condition=False,
            )
            raise
        count_breach(target.city_id)  # after the mail: a breach given back and mailed again counts once
        logger.info(
            "first-response target breached",
            extra={"conversation_id": conversation.conversation_id, "city": target.city_id},
        )
        return True
