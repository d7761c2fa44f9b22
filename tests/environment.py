"""The environment a deployed function sees (text311.settings), with test names: one copy for the
tests' ``aws_env`` fixture, the soak (``python -m tests.reliability.soak``) and bench/throughput.py."""

FUNCTIONS_ENVIRONMENT: dict[str, str] = {
    "SUBSCRIBERS_TABLE": "test-subscribers",
    "RESIDENTS_TABLE": "test-residents",
    "CONVERSATIONS_TABLE": "test-conversations",
    "MESSAGES_TABLE": "test-messages",
    "IDEMPOTENCY_TABLE": "test-idempotency",
    "LIMITS_TABLE": "test-limits",
    "PHONE_KEY_ID": "alias/text311-phones",
    "TOKEN_SECRET_ID": "text311/reply-token-keys",
    "PHONE_HASH_SECRET_ID": "text311/phone-hash-key",
    "SMS_ORIGINATION_IDENTITY": "+15145550100",
    "SMS_CONFIGURATION_SET": "text311-sms",
    "SENDER_ADDRESS": "Text311 <notify@text311.example.ca>",
    "REPLY_DOMAIN": "reply.text311.example.ca",
    "SES_CONFIGURATION_SET": "text311-email",
    "RAW_MAIL_BUCKET": "text311-raw-mail-test",
    "CONSOLE_URL": "https://console.text311.example.ca",
    "AWS_REGION": "ca-central-1",
}
