"""Settings read once from the environment and validated at cold start.

A missing variable fails the first invocation loudly with the variable's name,
rather than the hundredth quietly. The CDK stacks set exactly these variables
(see ``stacks/functions.py``) and the local run sets them for moto.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, ValidationError


class Settings(BaseModel):
    subscribers_table: str = Field(alias="SUBSCRIBERS_TABLE")
    residents_table: str = Field(alias="RESIDENTS_TABLE")
    conversations_table: str = Field(alias="CONVERSATIONS_TABLE")
    messages_table: str = Field(alias="MESSAGES_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    # Abuse and spend counters (text311.limits). The stack always sets it; the default keeps older
    # local and test environments working (create_tables makes it under this name).
    limits_table: str = Field(default="text311-limits", alias="LIMITS_TABLE")
    # Who changed what (text311.audit); a default for the same reason as LIMITS_TABLE.
    audit_table: str = Field(default="text311-audit", alias="AUDIT_TABLE")
    # Service requests (text311.service_requests); a default for the same reason as LIMITS_TABLE.
    requests_table: str = Field(default="text311-requests", alias="REQUESTS_TABLE")
    # Where an address in a text gets its point (text311.request_hints): "" none (addresses stay words),
    # "amazon-location" (Amazon Location Places, geo-places:Geocode), "address-file" (ADDRESS_FILE, local run).
    geocoder: Literal["", "amazon-location", "address-file"] = Field(default="", alias="GEOCODER")
    address_file: str = Field(default="", alias="ADDRESS_FILE")
    # KMS key that encrypts residents' phone numbers inside items (beyond table encryption).
    phone_key_id: str = Field(alias="PHONE_KEY_ID")
    # Secrets Manager secrets: JSON objects {"<key id>": "<key>"}; see text311.tokens.
    token_secret_id: str = Field(alias="TOKEN_SECRET_ID")
    phone_hash_secret_id: str = Field(alias="PHONE_HASH_SECRET_ID")
    sms_origination_identity: str = Field(alias="SMS_ORIGINATION_IDENTITY")
    sms_configuration_set: str = Field(alias="SMS_CONFIGURATION_SET")
    # The origination identity's outbound SQS queue (docs/outbound.md): every SMS goes through it.
    # Empty only where nothing sends SMS (CLI tools); services.sms_sender() refuses to run without it.
    outbound_queue_url: str = Field(default="", alias="OUTBOUND_QUEUE_URL")
    # The identity's carrier limit in message parts per second (a Canadian long code: 1).
    sms_mps: float = Field(default=1.0, alias="SMS_MPS", gt=0)
    sender_address: str = Field(alias="SENDER_ADDRESS")
    reply_domain: str = Field(alias="REPLY_DOMAIN")
    ses_configuration_set: str = Field(alias="SES_CONFIGURATION_SET")
    raw_mail_bucket: str = Field(default="", alias="RAW_MAIL_BUCKET")
    # SES's S3 action stores each message at <prefix><SES message id>.
    raw_mail_prefix: str = Field(default="inbound/", alias="RAW_MAIL_PREFIX")
    console_url: str = Field(default="", alias="CONSOLE_URL")
    support_contact: str = Field(default="text311.ca", alias="SUPPORT_CONTACT")
    # Numbers residents text (comma-separated E.164); texts to any other number are refused.
    sms_numbers: str = Field(default="", alias="SMS_NUMBERS")
    # On AWS the number answers HELP/AIDE/INFO/START itself (keywords set by the stack): false.
    # The local run has no such service and sets it to true.
    answer_keywords: bool = Field(default=False, alias="ANSWER_KEYWORDS")
    served_countries: str = Field(default="CA,US", alias="SERVED_COUNTRIES")
    # Set only by the local run: its demo sign-in signs sessions with this key instead of Cognito.
    local_session_key: str = Field(default="", alias="LOCAL_SESSION_KEY")
    conversation_idle_days: int = Field(default=7, alias="CONVERSATION_IDLE_DAYS", ge=1)
    retention_days: int = Field(default=365, alias="RETENTION_DAYS", ge=1)
    # A resident's texts beyond this many in one minute are held, not mailed (one notice per minute).
    flood_limit_per_minute: int = Field(default=20, alias="FLOOD_LIMIT_PER_MINUTE", ge=1)
    # Agents' answers one city may send by SMS, per clock hour and per UTC day (spend and pumping caps).
    city_sms_per_hour: int = Field(default=500, alias="CITY_SMS_PER_HOUR", ge=1)
    city_sms_per_day: int = Field(default=3000, alias="CITY_SMS_PER_DAY", ge=1)
    # How long a warm container trusts a subscriber record it read (contact addresses, status).
    subscriber_cache_seconds: int = Field(default=60, alias="SUBSCRIBER_CACHE_SECONDS", ge=0)
    # The languages residents of the served countries write in: the detection's priors before a city is
    # chosen (the city's own ``languages`` after).
    region_languages: str = Field(default="en,fr", alias="REGION_LANGUAGES")
    # The console's Cognito user pool (text311.agents): set on the console function only; empty elsewhere,
    # where agents are never invited or disabled.
    user_pool_id: str = Field(default="", alias="USER_POOL_ID")
    # Machine translation for the cities that opt in (text311.translation): "amazon-translate" (set by
    # the stack on the functions granted translate:TranslateText), "local-phrasebook" (the local run), or
    # empty (none: the functions that never translate).
    translator: Literal["", "amazon-translate", "local-phrasebook"] = Field(default="", alias="TRANSLATOR")
    aws_region: str = Field(default="ca-central-1", alias="AWS_REGION")
    endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")

    @property
    def countries(self) -> frozenset[str]:
        return frozenset(c.strip().upper() for c in self.served_countries.split(",") if c.strip())


class SettingsError(RuntimeError):
    pass


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings.model_validate(env)
    except ValidationError as exc:
        missing = [str(e["loc"][0]) for e in exc.errors()]
        raise SettingsError(f"invalid or missing environment variables: {', '.join(missing)}") from exc


@cache
def settings() -> Settings:
    return load_settings()
