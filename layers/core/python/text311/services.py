"""Composition root: builds the core services from Settings and boto3 clients, once per container.

Handlers call these factories; tests call ``reset()`` and build them again inside moto, or
build the services themselves with fakes. Nothing here knows about Lambda.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from text311.adapters.secrets import read_json_secret

if TYPE_CHECKING:  # each handler imports only what it builds, when it builds it (bench/coldstart.py)
    from text311.adapters.phone_vault import PhoneVault
    from text311.answers import AnswerService
    from text311.auth import ClaimsVerifier
    from text311.console import ConsoleService
    from text311.delivery import DeliveryStatusService
    from text311.inbound import InboundSmsService
    from text311.limits import CityOutboundLimiter, FloodLimiter
    from text311.settings import Settings
    from text311.subscribers import Subscriber, SubscriberRepository
    from text311.tokens import TokenSigner

# Our own code decides about retries where it matters (SMS); elsewhere botocore's standard mode.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


def settings() -> Settings:
    """The settings, validated once per container (text311.settings). Imported on first use: the
    pydantic model is the largest import a handler would otherwise make before its first event."""
    from text311.settings import settings as validated

    return validated()


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    kms: Any
    secrets: Any
    sesv2: Any
    sms: Any
    s3: Any


@cache
def clients() -> Clients:
    s = settings()

    def make(service: str) -> Any:
        return boto3.client(service, region_name=s.aws_region, endpoint_url=s.endpoint_url, config=_CLIENT_CONFIG)

    return Clients(
        dynamodb=make("dynamodb"),
        kms=make("kms"),
        secrets=make("secretsmanager"),
        sesv2=make("sesv2"),
        sms=make("pinpoint-sms-voice-v2"),
        s3=make("s3"),
    )


@cache
def tables_bound() -> Settings:
    from text311.adapters.dynamodb import bind_tables

    s = settings()
    bind_tables(s)
    return s


@cache
def phone_vault() -> PhoneVault:
    from text311.adapters.phone_vault import PhoneVault

    s = settings()
    hash_keys = read_json_secret(clients().secrets, s.phone_hash_secret_id)
    # The hash key cannot rotate without re-keying every resident: the first key is the key.
    return PhoneVault(kms=clients().kms, key_id=s.phone_key_id, hash_key=next(iter(hash_keys.values())).encode())


@cache
def token_signer() -> TokenSigner:
    from text311.tokens import TokenSigner

    return TokenSigner.from_secret(read_json_secret(clients().secrets, settings().token_secret_id))


class CachedSubscribers:
    """Subscriber records kept for a few seconds in a warm container: a text in an existing
    conversation then reads none. A change to a subscriber (addresses, allow-list, suspension)
    reaches running containers within ``ttl`` seconds (SUBSCRIBER_CACHE_SECONDS, default 60)."""

    def __init__(self, repository: SubscriberRepository, ttl: float, clock: Any = time.monotonic) -> None:
        self.repository = repository
        self.ttl = ttl
        self.clock = clock
        self._kept: dict[int, tuple[float, Subscriber | None]] = {}

    def get(self, geonameid: int) -> Subscriber | None:
        now = self.clock()
        kept = self._kept.get(int(geonameid))
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        subscriber = self.repository.get(geonameid)
        self._kept[int(geonameid)] = (now, subscriber)
        return subscriber


@cache
def subscribers() -> CachedSubscribers:
    from text311.subscribers import SubscriberRepository

    return CachedSubscribers(SubscriberRepository(), ttl=tables_bound().subscriber_cache_seconds)


@cache
def flood_limiter() -> FloodLimiter:
    from text311.limits import FloodLimiter

    return FloodLimiter(per_minute=settings().flood_limit_per_minute)


@cache
def city_outbound_limiter() -> CityOutboundLimiter:
    """Per-city SMS caps, checked before an agent's answer is sent (``allow_outbound(city_id)``)."""
    from text311.limits import CityOutboundLimiter

    s = tables_bound()
    return CityOutboundLimiter(per_hour=s.city_sms_per_hour, per_day=s.city_sms_per_day)


@cache
def sms_sender() -> Any:
    from text311.adapters.sms_sender import client_config

    s = settings()
    # The sender retries itself (backoff, part ledger); a client that also retried could send twice.
    sms_client = boto3.client("pinpoint-sms-voice-v2", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                              config=client_config())
    return sms_sender_over(sms_client)


def sms_sender_over(sms_client: Any, sleep: Any = None) -> Any:
    """The sender every SMS goes through, over an End User Messaging client: served countries only,
    parts claimed and recorded in DynamoDB so a retry in any container never texts a part twice."""
    from text311.adapters.sms_sender import DynamoDBPartLedger, EndUserMessagingSender
    from text311.sms import SmsSegmenter
    from text311.sms_guards import DestinationCountryGuard

    s = settings()
    sender = EndUserMessagingSender(
        client=sms_client,
        origination_identity=s.sms_origination_identity,
        configuration_set=s.sms_configuration_set,
        segmenter=SmsSegmenter(),
        ledger=DynamoDBPartLedger(clients().dynamodb, s.idempotency_table),
        **({"sleep": sleep} if sleep else {}),
    )
    return DestinationCountryGuard(sender, s.countries)


def _resolver() -> Any:
    from text311.directory import resolve_municipality

    return lambda text, country: resolve_municipality(text, country=country)


def _phone_resolver() -> Any:
    from text311.directory import resolve_municipality

    return lambda text, country, phone: resolve_municipality(text, country=country, phone=phone)


def _place_name(geonameid: int) -> str:
    from text311.directory import place_by_id

    place = place_by_id(geonameid)
    return place.name if place is not None else "This city"


@cache
def inbound_sms_service() -> InboundSmsService:
    from text311.adapters.ses_mailer import SesMailer
    from text311.conversations import ConversationStore
    from text311.dialog import Dialog
    from text311.i18n import catalog
    from text311.inbound import InboundSmsService
    from text311.phone import normalize_e164

    s = tables_bound()
    dialog = Dialog(
        catalog=catalog(),
        resolve=_resolver(),
        subscriber=subscribers().get,
        support_contact=s.support_contact,
        answer_keywords=s.answer_keywords,
        place_name=_place_name,
    )
    return InboundSmsService(
        store=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        vault=phone_vault(),
        subscribers=subscribers(),
        dialog=dialog,
        mailer=SesMailer(clients().sesv2, s.ses_configuration_set),
        sms=sms_sender(),
        signer=token_signer(),
        sender_address=s.sender_address,
        reply_domain=s.reply_domain,
        region=s.aws_region,
        countries=s.countries,
        our_numbers=frozenset(normalize_e164(n) for n in s.sms_numbers.split(",") if n.strip()),
        console_url=s.console_url,
        phone_resolver=_phone_resolver(),
        flood=flood_limiter(),
    )


@cache
def answer_service() -> AnswerService:
    from text311.adapters.raw_mail import S3RawMail
    from text311.adapters.ses_mailer import SesMailer
    from text311.answers import AnswerService
    from text311.conversations import ConversationStore
    from text311.replies import extract_reply

    s = tables_bound()
    store = ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days)
    return AnswerService(
        store=store,
        raw_mail=S3RawMail(clients().s3),
        signer=token_signer(),
        subscribers=subscribers(),
        residents_opted_out=store.opted_out,
        mark_opted_out=store.mark_opted_out,
        decrypt_phone=phone_vault().decrypt,
        sms=sms_sender(),
        mailer=SesMailer(clients().sesv2, s.ses_configuration_set),
        extract_reply=extract_reply,
        reply_domain=s.reply_domain,
        sender_address=s.sender_address,
        allow_outbound=lambda city, parts: city_outbound_limiter().allow_outbound(city, count=parts),
    )


def notify_thread(conversation: Any, subscriber: Any, text: str) -> None:
    """Mail a notice into the conversation's thread: to its agent, or to the shared inbox."""
    from text311.adapters.ses_mailer import SesMailer
    from text311.mail import build_thread_notice

    s = settings()
    owner = conversation.owner_email
    notice = build_thread_notice(
        sender=s.sender_address,
        to=(owner,) if owner else tuple(subscriber.contact_emails),
        cc=(),
        subject=conversation.subject,
        in_reply_to=conversation.last_message_id,
        references=tuple(conversation.references or ()),
        text=text,
    )
    SesMailer(clients().sesv2, s.ses_configuration_set).send(notice)


@cache
def delivery_status_service() -> DeliveryStatusService:
    from text311.conversations import ConversationStore
    from text311.delivery import DeliveryStatusService
    from text311.subscribers import SubscriberRepository

    s = tables_bound()
    return DeliveryStatusService(
        conversations=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        subscribers=SubscriberRepository(),
        notify=notify_thread,
    )


@cache
def console_service() -> ConsoleService:
    from text311.console import ConsoleService
    from text311.subscribers import SubscriberRepository

    tables_bound()
    return ConsoleService(answers=answer_service(), subscribers=SubscriberRepository())


@cache
def claims_verifier() -> ClaimsVerifier:
    """API Gateway's JWT authorizer in AWS; signed local sessions in the local run."""
    from text311.auth import ApiGatewayJwtVerifier, LocalSessionVerifier

    s = settings()
    if s.local_session_key:
        return LocalSessionVerifier(s.local_session_key.encode())
    return ApiGatewayJwtVerifier()


def reset() -> None:
    """Forget every cached client and service (tests, and the local run after a settings change).
    Every ``@cache`` factory in this module is cleared, so a new factory cannot be forgotten here."""
    from text311.settings import settings as validated

    validated.cache_clear()
    for value in list(globals().values()):
        if callable(value) and hasattr(value, "cache_clear"):
            value.cache_clear()
