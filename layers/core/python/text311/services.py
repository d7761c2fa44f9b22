"""Composition root: builds the core services from Settings and boto3 clients, once per container.

Handlers call these factories; tests call ``reset()`` and build them again inside moto, or
build the services themselves with fakes. Nothing here knows about Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from text311.adapters.dynamodb import bind_tables
from text311.adapters.phone_vault import PhoneVault
from text311.adapters.raw_mail import S3RawMail
from text311.adapters.secrets import read_json_secret
from text311.adapters.ses_mailer import SesMailer
from text311.answers import AnswerService
from text311.auth import ApiGatewayJwtVerifier, ClaimsVerifier, LocalSessionVerifier
from text311.console import ConsoleService
from text311.conversations import ConversationStore
from text311.delivery import DeliveryStatusService
from text311.dialog import Dialog
from text311.i18n import catalog
from text311.inbound import InboundSmsService
from text311.mail import build_thread_notice
from text311.phone import normalize_e164
from text311.settings import Settings, settings
from text311.subscribers import SubscriberRepository
from text311.tokens import TokenSigner

# Our own code decides about retries where it matters (SMS); elsewhere botocore's standard mode.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


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
    s = settings()
    bind_tables(s)
    return s


@cache
def phone_vault() -> PhoneVault:
    s = settings()
    hash_keys = read_json_secret(clients().secrets, s.phone_hash_secret_id)
    # The hash key cannot rotate without re-keying every resident: the first key is the key.
    return PhoneVault(kms=clients().kms, key_id=s.phone_key_id, hash_key=next(iter(hash_keys.values())).encode())


@cache
def token_signer() -> TokenSigner:
    return TokenSigner.from_secret(read_json_secret(clients().secrets, settings().token_secret_id))


@cache
def sms_sender() -> Any:
    from text311.adapters.sms_sender import EndUserMessagingSender, client_config
    from text311.sms import SmsSegmenter

    s = settings()
    # The sender retries itself (backoff, part ledger); a client that also retried could send twice.
    sms_client = boto3.client("pinpoint-sms-voice-v2", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                              config=client_config())
    return EndUserMessagingSender(
        client=sms_client,
        origination_identity=s.sms_origination_identity,
        configuration_set=s.sms_configuration_set,
        segmenter=SmsSegmenter(),
    )


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
    s = tables_bound()
    dialog = Dialog(
        catalog=catalog(),
        resolve=_resolver(),
        subscriber=SubscriberRepository().get,
        support_contact=s.support_contact,
        answer_keywords=s.answer_keywords,
        place_name=_place_name,
    )
    return InboundSmsService(
        store=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        vault=phone_vault(),
        subscribers=SubscriberRepository(),
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
    )


@cache
def answer_service() -> AnswerService:
    from text311.replies import extract_reply

    s = tables_bound()
    store = ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days)
    return AnswerService(
        store=store,
        raw_mail=S3RawMail(clients().s3),
        signer=token_signer(),
        subscribers=SubscriberRepository(),
        residents_opted_out=store.opted_out,
        mark_opted_out=store.mark_opted_out,
        decrypt_phone=phone_vault().decrypt,
        sms=sms_sender(),
        mailer=SesMailer(clients().sesv2, s.ses_configuration_set),
        extract_reply=extract_reply,
        reply_domain=s.reply_domain,
        sender_address=s.sender_address,
    )


def notify_thread(conversation: Any, subscriber: Any, text: str) -> None:
    """Mail a notice into the conversation's thread: to its agent, or to the shared inbox."""
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
    s = tables_bound()
    return DeliveryStatusService(
        conversations=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        subscribers=SubscriberRepository(),
        notify=notify_thread,
    )


@cache
def console_service() -> ConsoleService:
    tables_bound()
    return ConsoleService(answers=answer_service(), subscribers=SubscriberRepository())


@cache
def claims_verifier() -> ClaimsVerifier:
    """API Gateway's JWT authorizer in AWS; signed local sessions in the local run."""
    s = settings()
    if s.local_session_key:
        return LocalSessionVerifier(s.local_session_key.encode())
    return ApiGatewayJwtVerifier()


def reset() -> None:
    """Forget every cached client and service (tests, and the local run after a settings change).
    Every ``@cache`` factory in this module is cleared, so a new factory cannot be forgotten here."""
    settings.cache_clear()
    for value in list(globals().values()):
        if callable(value) and hasattr(value, "cache_clear"):
            value.cache_clear()
