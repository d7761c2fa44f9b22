"""DynamoDB tables as pynamodb models: the single definition of every table.

The CDK data construct (``stacks/data.py``) and the local run both derive the
tables' keys, indexes and TTL attribute from these classes, so there is no second
hand-written list to drift. Table names come from ``Settings`` at cold start
through :func:`bind_tables`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model

from text311.adapters.audit_table import AuditModel
from text311.adapters.requests_table import RequestModel

if TYPE_CHECKING:
    from text311.settings import Settings

_Element = TypeVar("_Element")


def list_of(element: type[Attribute[_Element]], null: bool | None = None) -> ListAttribute[_Element]:
    """``ListAttribute(of=element, null=null)``, typed as holding what ``element`` holds: ``list_of(UnicodeAttribute)``
    is a ``list[str]``."""
    # pynamodb types ``of`` as the items' own type, so a plain ``ListAttribute(of=UnicodeAttribute)`` is typed as
    # holding ``list[UnicodeAttribute]`` (pynamodb/PynamoDB#1246): here the item type comes from the attribute class.
    return ListAttribute(of=element, null=null)  # type: ignore[arg-type]


class SubscriberModel(Model):
    """A municipality that subscribes to Text311 (a tenant), keyed by GeoNames id."""

    class Meta:
        table_name = "text311-subscribers"

    geonameid = NumberAttribute(hash_key=True)
    display_name = UnicodeAttribute()
    country = UnicodeAttribute()
    region_code = UnicodeAttribute()
    contact_emails = list_of(UnicodeAttribute)
    agent_allow_list = list_of(UnicodeAttribute)
    languages = list_of(UnicodeAttribute)
    time_zone = UnicodeAttribute()
    phone_311 = UnicodeAttribute(null=True)
    web_page = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    canned_answers = UnicodeAttribute(null=True)  # JSON {"en": [...], "fr": [...]}
    language = UnicodeAttribute(null=True)  # of the mail to its agents; absent: the default (subscribers.py)
    services = UnicodeAttribute(null=True)  # JSON: its Open311 services (city_services.py); absent: the default
    opening_hours = UnicodeAttribute(null=True)  # JSON (opening_hours.py); absent: always open
    survey = BooleanAttribute(null=True)  # satisfaction texts after a close (opt-in); absent: none
    guided_intake = BooleanAttribute(null=True)  # ask once where it is when a text names no place (opt-in)
    translate = BooleanAttribute(null=True)  # machine translation for its residents (opt-in); absent: off
    # Open311 API (text311.open311.keys): SHA-256 of its api_key (absent: POST refused), and whether
    # residents' descriptions are published, masked (opt-in; absent: never).
    open311_key_hash = UnicodeAttribute(null=True)
    open311_publish = BooleanAttribute(null=True)
    # First-response target in minutes (text311.response_targets); absent: none. Who is mailed a breach.
    response_target_minutes = NumberAttribute(null=True)
    response_target_notify = list_of(UnicodeAttribute, null=True)
    # Its agents (text311.agents): JSON [{email, role, enabled, invited_at, invited_by}]; absent: none invited
    # from the console. The allow-list follows it.
    agents = UnicodeAttribute(null=True)
    # Its departments (text311.departments): JSON [{department_id, name, inbox, agents}]; absent: none.
    departments = UnicodeAttribute(null=True)


class ResidentModel(Model):
    """One phone number's dialog state. The number is only stored KMS-encrypted."""

    class Meta:
        table_name = "text311-residents"

    phone_hash = UnicodeAttribute(hash_key=True)
    phone_encrypted = UnicodeAttribute()
    language = UnicodeAttribute(default="en")
    # False: the language was only fallen back on, never told by a text (text311.dialog). Absent (a resident
    # stored before it existed): told.
    language_detected = BooleanAttribute(null=True)
    dialog_state = UnicodeAttribute(default="new")
    municipality_id = NumberAttribute(null=True)
    pending_choices = list_of(NumberAttribute, null=True)
    pending = list_of(UnicodeAttribute, null=True)  # texts held until a city is chosen
    # Inbound ids whose dialog turn was saved (the last few): a redelivery of one of them is not
    # run again, even when Powertools could not record that it completed.
    handled = list_of(UnicodeAttribute, null=True)
    attempts = NumberAttribute(default=0)
    opted_out = BooleanAttribute(default=False)
    conversation_id = UnicodeAttribute(null=True)
    # The conversation whose satisfaction survey went out last: its 1–5 reply is read against it even
    # when the resident's "Thanks!" has opened a new conversation since (text311.satisfaction).
    surveyed_conversation_id = UnicodeAttribute(null=True)
    last_message_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    version = VersionAttribute()  # optimistic locking: two texts at once never overwrite each other


class ByResidentIndex(GlobalSecondaryIndex["ConversationModel"]):
    class Meta:
        index_name = "by-resident"
        projection = AllProjection()

    phone_hash = UnicodeAttribute(hash_key=True)
    opened_at = UTCDateTimeAttribute(range_key=True)


class ByActivityIndex(LocalSecondaryIndex["ConversationModel"]):
    """A city's conversations, most recently active last: the console's inbox."""

    class Meta:
        index_name = "by-activity"
        projection = AllProjection()

    municipality_id = NumberAttribute(hash_key=True)
    last_message_at = UTCDateTimeAttribute(range_key=True)


class ConversationModel(Model):
    """A thread between one resident and one city. The key starts with the city:
    every read names the tenant in the key condition itself, so one city can
    never read another's conversation by id."""

    class Meta:
        table_name = "text311-conversations"

    municipality_id = NumberAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    phone_hash = UnicodeAttribute()
    phone_encrypted = UnicodeAttribute()
    status = UnicodeAttribute(default="open")
    opened_at = UTCDateTimeAttribute()
    last_message_at = UTCDateTimeAttribute()
    subject = UnicodeAttribute()
    first_message_id = UnicodeAttribute(null=True)
    first_ses_message_id = UnicodeAttribute(null=True)
    last_message_id = UnicodeAttribute(null=True)
    references = list_of(UnicodeAttribute, null=True)
    owner_email = UnicodeAttribute(null=True)
    department = UnicodeAttribute(null=True)  # the id of the city's department it was transferred to
    # The last transfer (to an agent or a department): an answer written before it and sent after it does not
    # make its author the owner again (text311.answers, _assign).
    transferred_at = UTCDateTimeAttribute(null=True)
    phone_masked = UnicodeAttribute(null=True)  # "+1******4567": enough for an agent, not personal data
    first_response_at = UTCDateTimeAttribute(null=True)
    # Response targets (text311.response_targets): the last close (removed by a reopen), and when the
    # city's supervisors were mailed that the first answer is overdue (set once, conditionally).
    closed_at = UTCDateTimeAttribute(null=True)
    target_breach_mailed_at = UTCDateTimeAttribute(null=True)
    language = UnicodeAttribute(default="en")
    urgent = BooleanAttribute(default=False)
    resident_opted_out = BooleanAttribute(default=False)
    message_count = NumberAttribute(default=0)
    # Satisfaction (docs/contact-centre.md): when the survey text went out, then the resident's score,
    # the agent it scores and the inbound text that carried it (a redelivery of it is not forwarded).
    survey_sent_at = UTCDateTimeAttribute(null=True)
    satisfaction = NumberAttribute(null=True)
    satisfaction_agent = UnicodeAttribute(null=True)
    survey_reply_id = UnicodeAttribute(null=True)
    # Guided intake: when the resident was asked where it is (set once, conditionally: one question each).
    location_asked_at = UTCDateTimeAttribute(null=True)
    # The last inbound texts mailed into this thread, "<epoch seconds>#<external id>": read with the
    # conversation, they tell a redelivered text from a new one without reading the message itself.
    recent_inbound = UnicodeSetAttribute(null=True)
    # Mails SES confirmed (its Send event) before we recorded them, "<recent_inbound entry>#<SES
    # message id>": a redelivered text finds its mail here and records it instead of mailing again.
    mail_confirmed = UnicodeSetAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    version = VersionAttribute()
    by_resident = ByResidentIndex()
    by_activity = ByActivityIndex()


class MessageModel(Model):
    """One message of a conversation: SMS in or out, email answer, note."""

    class Meta:
        table_name = "text311-messages"

    conversation_id = UnicodeAttribute(hash_key=True)
    message_key = UnicodeAttribute(range_key=True)  # "<ISO time>#<message id>": ordered by time
    direction = UnicodeAttribute()  # "in" | "out" | "note"
    channel = UnicodeAttribute()  # "sms" | "email" | "console"
    body = UnicodeAttribute()
    author = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)  # inboundMessageId, SES message id, SMS MessageId
    # "pending" → "emailed"; "throttled" (held by the flood limit, not mailed); a text's mail after SES
    # took it: "delayed", "bounced", "complained" (text311.mail_feedback); outbound SMS: delivery status
    status = UnicodeAttribute(null=True)
    email_message_id = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    urgent = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
    # A machine translation (text311.translation): a resident's text into the city's language, or the
    # answer as sent to the resident (``body`` keeps the agent's own words); its engine, its language and
    # the characters it was billed for (text311.usage sums ``translated_chars``).
    translation = UnicodeAttribute(null=True)
    translation_engine = UnicodeAttribute(null=True)
    translation_language = UnicodeAttribute(null=True)
    translated_chars = NumberAttribute(null=True)


class LimitModel(Model):
    """A counter in a time window (text311.limits): texts from one number in a minute, SMS one
    city sent in an hour or a day. Items expire shortly after their window closes."""

    class Meta:
        table_name = "text311-limits"

    key = UnicodeAttribute(hash_key=True)  # "<what>#<whose>#<window>"
    hits = NumberAttribute(default=0)
    noticed = UnicodeAttribute(null=True)  # the inbound id whose notice went out in this window
    expires_at = TTLAttribute(null=True)


class IdempotencyModel(Model):
    """Powertools Idempotency's table: defined here so infra and local run agree.
    Powertools reads and writes it itself (key ``id``, TTL ``expiration``)."""

    class Meta:
        table_name = "text311-idempotency"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)


# name in Settings → model; the order is the order in which tables are created.
TABLES: dict[str, type[Model]] = {
    "subscribers_table": SubscriberModel,
    "residents_table": ResidentModel,
    "conversations_table": ConversationModel,
    "messages_table": MessageModel,
    "idempotency_table": IdempotencyModel,
    "limits_table": LimitModel,
    "audit_table": AuditModel,
    "requests_table": RequestModel,  # service requests (text311.service_requests)
}


def bind_tables(settings: Settings) -> None:
    """Point every model at the deployed table names, region and (locally) endpoint."""
    for field, model in TABLES.items():
        model.Meta.table_name = getattr(settings, field)
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.endpoint_url
        model._connection = None  # drop a connection built for earlier settings


def ttl_attribute(model: type[Model]) -> str | None:
    """Name of the model's TTL attribute, if any (the data construct enables it)."""
    for name, attr in model.get_attributes().items():
        if isinstance(attr, TTLAttribute):
            return attr.attr_name or name
    return None


def create_tables() -> None:
    """Create every table as bound that does not exist yet (the local run and tests, on moto): same keys and
    indexes as the stack. Through one connection, with one ListTables: pynamodb's ``Model.create_table`` asks
    each table's own connection (a botocore client each) whether it exists and waits for it to be active,
    three calls and a client per table, and the tests create the tables for every test."""
    connection = next(iter(TABLES.values()))._get_connection().connection  # every model is bound alike
    existing = set(connection.list_tables().get("TableNames", []))
    for model in TABLES.values():
        if model.Meta.table_name in existing:
            continue
        schema = model._get_schema()  # what Model.create_table itself sends
        connection.create_table(
            model.Meta.table_name,
            attribute_definitions=schema["attribute_definitions"],
            key_schema=schema["key_schema"],
            global_secondary_indexes=schema["global_secondary_indexes"],
            local_secondary_indexes=schema["local_secondary_indexes"],
            billing_mode="PAY_PER_REQUEST",
        )  # moto creates it ACTIVE: nothing to wait for
        ttl = ttl_attribute(model)
        if ttl is not None:
            connection.update_time_to_live(model.Meta.table_name, ttl)
