"""Composition root: builds the core services from Settings and boto3 clients, once per container.

Handlers call these factories; tests call ``reset()`` and build them again inside moto, or
build the services themselves with fakes. Nothing here knows about Lambda.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

from text311.adapters.secrets import read_json_secret

if TYPE_CHECKING:  # each handler imports only what it builds, when it builds it (bench/coldstart.py)
    from text311.adapters.phone_vault import PhoneVault
    from text311.answers import AnswerService
    from text311.audit import AuditLog
    from text311.auth import ClaimsVerifier
    from text311.city_settings import CitySettings
    from text311.console import ConsoleService
    from text311.delivery import DeliveryStatusService
    from text311.inbound import InboundSmsService
    from text311.limits import CityOutboundLimiter, FloodLimiter
    from text311.request_commands import RequestCommands
    from text311.request_hints import RequestHints
    from text311.request_status import StatusAnswers
    from text311.service_requests import ServiceRequestStore
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


class Clients:
    """The AWS clients the handlers share, each built on its first use: a client costs 10 to 20 ms of a cold
    start, and a handler uses two or three of these six. Clients given by name (the outbound bench) are used as
    they are."""

    SERVICES = ("dynamodb", "kms", "secrets", "sesv2", "sms", "s3")

    def __init__(self, make: Callable[[str], Any] | None = None, **given: Any) -> None:
        self._make = make
        self._building = threading.Lock()  # the drainer's threads may ask for the same client at once
        self.__dict__.update(given)

    def __getattr__(self, name: str) -> Any:  # only called for a client not built yet
        if name not in self.SERVICES or self._make is None:
            raise AttributeError(name)
        with self._building:
            if name not in self.__dict__:
                self.__dict__[name] = self._make(name)
        return self.__dict__[name]


@cache
def clients() -> Clients:
    from text311.adapters.ses_mailer import client_config as ses_client_config

    s = settings()
    services = {"secrets": "secretsmanager", "sms": "pinpoint-sms-voice-v2"}

    def make(name: str) -> Any:
        # SesMailer retries only where SES cannot have acted: its client makes one attempt a call.
        config = ses_client_config() if name == "sesv2" else _CLIENT_CONFIG
        return boto3.client(
            services.get(name, name), region_name=s.aws_region, endpoint_url=s.endpoint_url, config=config
        )

    return Clients(make)


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
def service_requests() -> ServiceRequestStore:
    """The city's service requests (text311.service_requests), on the bound requests table."""
    from text311.service_requests import ServiceRequestStore

    tables_bound()
    return ServiceRequestStore()


@cache
def request_hints() -> RequestHints:
    """Category and place of a text. The geocoder is Amazon Location only where GEOCODER says so (the
    stack sets it with its geo-places:Geocode grant); the local run's is the address file."""
    from text311.request_hints import RequestHints

    s = settings()
    geocoder: Any = None
    if s.geocoder == "amazon-location":
        from text311.geocoders import AmazonLocationGeocoder

        client = boto3.client("geo-places", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                              config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2,
                                            read_timeout=3))  # a hint is not worth holding a text for
        geocoder = AmazonLocationGeocoder(client)
    elif s.geocoder == "address-file":
        from pathlib import Path

        from text311.geocoders import AddressFileGeocoder

        geocoder = AddressFileGeocoder.from_file(Path(s.address_file))
    return RequestHints(geocoder)


@cache
def translations() -> Any:
    """Machine translation for the cities that opt in (text311.translation), or None. TRANSLATOR names
    the engine: "amazon-translate" (the stack sets it with its translate:TranslateText grant) or
    "local-phrasebook" (the local run: the demo's phrases, no network); unset: no translation."""
    from text311.translation import AmazonTranslateTranslator, PhrasebookTranslator, Translations

    s = settings()
    engine = s.translator
    if engine == "amazon-translate":
        client = boto3.client(
            "translate",
            region_name=s.aws_region,
            endpoint_url=s.endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5),
        )
        return Translations(AmazonTranslateTranslator(client))
    if engine == "local-phrasebook":
        return Translations(PhrasebookTranslator())
    return None


@cache
def request_commands() -> RequestCommands:
    from text311.request_commands import RequestCommands, resident_texts

    return RequestCommands(store=service_requests(), hints=request_hints(), resident_texts=resident_texts)


@cache
def status_answers() -> StatusAnswers:
    from text311.request_status import StatusAnswers

    return StatusAnswers(store=service_requests(), subscribers=subscribers())


@cache
def sqs_client() -> Any:
    s = settings()
    return boto3.client("sqs", region_name=s.aws_region, endpoint_url=s.endpoint_url, config=_CLIENT_CONFIG)


def _outbound_queue_url() -> str:
    from text311.settings import SettingsError

    url = settings().outbound_queue_url
    if not url:
        raise SettingsError("invalid or missing environment variables: OUTBOUND_QUEUE_URL")
    return url


@cache
def sms_sender() -> Any:
    """What every producer sends SMS through: served countries only, then the identity's queue
    (text311.outbound.queued). The drainer (sms_drainer) sends it at the identity's pace."""
    return queued_sms_sender(phone_vault().encrypt)


def queued_sms_sender(seal: Any) -> Any:
    """``sms_sender`` sealing numbers with ``seal`` (a vault that may hold no hash key)."""
    from text311.outbound.lease import StatusBoard
    from text311.outbound.parts import split_parts
    from text311.outbound.queued import QueuedSmsSender
    from text311.sms_guards import DestinationCountryGuard

    s = settings()
    identity = s.sms_origination_identity
    queued = QueuedSmsSender(
        sqs=sqs_client(), queue_url=_outbound_queue_url(), identity=identity, split=split_parts, clock=time.time,
        status=StatusBoard(clients().dynamodb, s.idempotency_table, identity), mps=s.sms_mps, seal=seal,
    )
    return DestinationCountryGuard(queued, s.countries)


@cache
def sms_line() -> Any:
    """The direct sender only the drainer uses: one SendTextMessage per call, no retries (the drainer
    paces and retries; a retry below it would break the pace or send twice)."""
    from text311.adapters.sms_sender import client_config

    s = settings()
    sms_client = boto3.client("pinpoint-sms-voice-v2", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                              config=client_config())
    return sms_sender_over(sms_client, max_attempts=1, durable_parts=False)


def sms_sender_over(sms_client: Any, sleep: Any = None, *, max_attempts: int = 4, durable_parts: bool = True) -> Any:
    """A direct sender over an End User Messaging client: served countries only. With
    ``durable_parts`` each part is claimed and recorded in DynamoDB so a retry in any container never
    texts it twice; the drainer's own ledger does that for the line (sms_line), which leaves it off."""
    from text311.adapters.sms_sender import DynamoDBPartLedger, EndUserMessagingSender
    from text311.sms import SmsSegmenter
    from text311.sms_guards import DestinationCountryGuard

    s = settings()
    sender = EndUserMessagingSender(
        client=sms_client,
        origination_identity=s.sms_origination_identity,
        configuration_set=s.sms_configuration_set,
        segmenter=SmsSegmenter(),
        max_attempts=max_attempts,
        ledger=DynamoDBPartLedger(clients().dynamodb, s.idempotency_table) if durable_parts else None,
        **({"sleep": sleep} if sleep else {}),
    )
    return DestinationCountryGuard(sender, s.countries)


@cache
def sms_drainer() -> Any:
    """The identity's drainer (functions/sms_drainer): one per identity at a time, by its lease. It
    stays for its whole life, idle or not, and at its end starts its successor (its own function,
    asynchronously), so the queue is never without a drainer for the tick's minute."""
    import math
    import os

    from text311.outbound.drainer import Successor
    from text311.outbound.pacing import SystemClock

    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")  # set by Lambda; absent elsewhere: no hand-off
    s = settings()
    successor = Successor(boto3.client("lambda", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                                       config=_CLIENT_CONFIG), name) if name else None
    return drainer_with(SystemClock(), max_idle=math.inf, successor=successor)


def drainer_with(clock: Any, *, long_poll: bool = True, max_idle: float = 120.0, successor: Any = None,
                 wall: Any = time.time) -> Any:
    """A drainer on ``clock`` (tests and benches give a simulated one and no long polls). ``wall`` is
    the epoch time the lease, the ledger and the status compare across containers (a bench gives its
    simulated clock's)."""
    from text311.adapters.phone_vault import PhoneVault
    from text311.outbound.drainer import Drainer
    from text311.outbound.lease import Lease, StatusBoard
    from text311.outbound.table_ledger import TableLedger

    s = tables_bound()
    identity, table, dynamodb = s.sms_origination_identity, s.idempotency_table, clients().dynamodb
    answers = _answer_outcomes()
    # Unsealing needs only the phone key: the vault's hash key (a secret) is never read here.
    unseal = lru_cache(maxsize=4096)(PhoneVault(clients().kms, s.phone_key_id, hash_key=b"").decrypt)
    return Drainer(
        sqs=sqs_client(), queue_url=_outbound_queue_url(), identity=identity, mps=s.sms_mps, line=sms_line(),
        ledger=TableLedger(dynamodb, table, now=wall), lease=Lease(dynamodb, table, identity, now=wall),
        board=StatusBoard(dynamodb, table, identity, now=wall), clock=clock,
        on_sent=answers.answer_sent, on_failed=answers.answer_failed, long_poll=long_poll, max_idle=max_idle,
        destination=lambda message: unseal(message.destination),  # cached: a long text is one decrypt
        successor=successor,
    )


def _resolver() -> Any:
    from text311.directory import resolve_municipality

    served = settings().countries  # a dominant place outside them is asked about, not taken
    return lambda text, country: resolve_municipality(text, country=country, served=served)


def _phone_resolver() -> Any:
    from text311.directory import resolve_municipality

    served = settings().countries
    return lambda text, country, phone: resolve_municipality(text, country=country, phone=phone, served=served)


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
        region_languages=tuple(code.strip() for code in s.region_languages.split(",") if code.strip()),
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
        hints=request_hints(),
        status=status_answers(),
        translations=translations(),
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
        notify=notify_thread,
        requests=request_commands(),
        audit=audit_log(),
        translations=translations(),
    )


@cache
def _answer_outcomes() -> AnswerService:
    """The answer service as the drainer needs it: its callbacks (answer_sent, answer_failed) read and
    write conversations and mail the thread. They never verify a token, read a raw mail or decrypt a
    number, so the drainer reads no secret and uses no phone key (least privilege)."""
    from text311.adapters.ses_mailer import SesMailer
    from text311.answers import AnswerService
    from text311.conversations import ConversationStore

    def not_for_the_drainer(*_: Any) -> Any:
        raise RuntimeError("the drainer's answer service only records outcomes")

    s = tables_bound()
    store = ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days)
    return AnswerService(
        store=store, raw_mail=cast(Any, None), signer=cast(Any, None), subscribers=subscribers(),
        residents_opted_out=store.opted_out, mark_opted_out=store.mark_opted_out,
        decrypt_phone=not_for_the_drainer, sms=None, mailer=SesMailer(clients().sesv2, s.ses_configuration_set),
        extract_reply=not_for_the_drainer, reply_domain=s.reply_domain, sender_address=s.sender_address,
        notify=notify_thread,
    )


def notify_thread(conversation: Any, subscriber: Any, text: str, to: str | None = None) -> None:
    """Mail a notice into the conversation's thread: to ``to`` (the agent whose answer it is about),
    else to its agent, or to the shared inbox."""
    from text311.adapters.ses_mailer import SesMailer
    from text311.mail import build_thread_notice

    s = settings()
    owner = to or subscriber.agent_owner(conversation.owner_email)  # not one agent of the city: the inbox
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
    from text311.outbound.table_ledger import TableLedger
    from text311.subscribers import SubscriberRepository

    s = tables_bound()
    return DeliveryStatusService(
        conversations=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        subscribers=SubscriberRepository(),
        notify=notify_thread,
        # A delivery event of a part recorded in doubt settles it (the drainer's ledger).
        ledger=TableLedger(clients().dynamodb, s.idempotency_table),
    )


@cache
def console_service() -> ConsoleService:
    from text311.console import ConsoleService
    from text311.subscribers import SubscriberRepository

    tables_bound()
    return ConsoleService(answers=answer_service(), subscribers=SubscriberRepository(), audit=audit_log())


@cache
def audit_log() -> AuditLog:
    """The audit trail. Its entries name agents and conversations: they expire (TTL) after
    RETENTION_DAYS, as the conversations they describe do, instead of being kept for ever."""
    from text311.audit import AuditLog

    return AuditLog(retention_days=tables_bound().retention_days)


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


def mail_confirmations() -> Any:
    """SES Send events → notes on the conversations (text311.mail_confirmations)."""
    from text311.conversations import ConversationStore
    from text311.mail_confirmations import MailConfirmations

    s = tables_bound()
    return MailConfirmations(ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days))


@cache
def mail_feedback() -> Any:
    """SES Bounce/Complaint/DeliveryDelay/Delivery events → the text's status, and the resident's
    notice after a permanent bounce (text311.mail_feedback). The phone key only: a conversation's
    number is unsealed and sealed again for the outbound queue; no secret is read."""
    from text311.adapters.phone_vault import PhoneVault
    from text311.conversations import ConversationStore
    from text311.i18n import catalog
    from text311.mail_feedback import MailFeedback

    s = tables_bound()
    vault = PhoneVault(clients().kms, s.phone_key_id, hash_key=b"")
    return MailFeedback(
        store=ConversationStore(retention_days=s.retention_days, idle_days=s.conversation_idle_days),
        sms=queued_sms_sender(vault.encrypt), decrypt_phone=vault.decrypt, subscribers=subscribers(),
        catalog=catalog(),
    )


@cache
def city_settings() -> CitySettings:
    """A supervisor's settings of their city. Agents are invited and disabled in the console's Cognito
    pool (USER_POOL_ID, set on the console function only, and by the local run for its moto pool);
    without one, agents cannot be changed and the rest still can."""
    from text311.adapters.cognito_users import CognitoUsers
    from text311.agents import AgentDirectory
    from text311.city_settings import CitySettings
    from text311.subscribers import SubscriberRepository

    s = tables_bound()
    directory = None
    if s.user_pool_id:
        # (botocore's defaults wait 60 s for an answer: longer than API Gateway waits for the console's)
        client = boto3.client("cognito-idp", region_name=s.aws_region, endpoint_url=s.endpoint_url,
                              config=_CLIENT_CONFIG)
        directory = AgentDirectory(CognitoUsers(client, s.user_pool_id))
    return CitySettings(subscribers=SubscriberRepository(), directory=directory, audit=audit_log())
