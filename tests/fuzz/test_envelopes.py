"""SQS records, SNS notifications and two-way SMS payloads with fields missing, extra, of the wrong type or
not JSON at all, batched with a good record: the good record is mailed once whatever its neighbour; a
broken record is either reported alone and mails nothing, or (when only SQS fields the handler does not
read are broken) processed as usual, mailed once; what the handler must read (the body, the SNS
notification, the two-way payload) broken is always reported. A record that only gained fields is
processed as if it had not."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from aws_events import QUEUE, TOPIC, sns_notification, sqs_record, two_way_sms
from harness import OUR_NUMBER, LambdaContext, sent_mails, text_of
from hypothesis import given
from hypothesis import strategies as st

from .profile import FUZZ

CONTEXT = LambdaContext("inbound-sms")
LEVELS = ("sqs", "sqs.attributes", "sns", "payload")
# Required at each level: by the AWS documentation of each shape (and so by the models the handler uses).
REQUIRED = {
    "sqs": ("receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "eventSource",
            "eventSourceARN", "awsRegion"),  # not messageId: without it no record can be reported at all
    "sqs.attributes": ("ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SenderId", "SentTimestamp"),
    "sns": ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "UnsubscribeURL"),
    "payload": ("originationNumber", "destinationNumber", "inboundMessageId"),
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
WRONG_VALUES = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), st.just(""))


class Layers:
    """A record split into its nested layers, to change one and wrap them back up."""

    def __init__(self, body: str, number: str) -> None:
        self.payload = two_way_sms(body, number, OUR_NUMBER, message_id=str(uuid.uuid4()))
        self.sns = sns_notification("", TOPIC)
        self.sqs = sqs_record("", QUEUE)
        self.body_override: str | None = None
        self.message_override: str | None = None

    def level(self, name: str) -> dict:
        return {"sqs": self.sqs, "sqs.attributes": self.sqs["attributes"], "sns": self.sns,
                "payload": self.payload}[name]

    def record(self) -> dict:
        sns = dict(self.sns)
        if "Message" in sns:
            sns["Message"] = self.message_override if self.message_override is not None else json.dumps(self.payload)
        record = copy.deepcopy(self.sqs)
        if "body" in record:
            record["body"] = self.body_override if self.body_override is not None else json.dumps(sns)
        return record


def good_record(number: str, body: str) -> dict:
    return Layers(body, number).record()


def connected(handler, number: str) -> str:
    """A resident who has chosen their city (each example has its own: the flood limit is per resident)."""
    assert handler.lambda_handler({"Records": [good_record(number, "Gatineau")]}, CONTEXT) == {"batchItemFailures": []}
    return number


@st.composite
def broken(draw, number: str) -> tuple[str, Layers, bool]:
    """A record with one thing wrong: (what, layers, whether the handler must report it)."""
    layers = Layers(f"broken report {uuid.uuid4().hex[:8]}", number)
    kind = draw(st.sampled_from(("missing", "not_json", "wrong_type")))
    level = "body"
    if kind == "missing":
        level = draw(st.sampled_from(LEVELS))
        key = draw(st.sampled_from(REQUIRED[level]))
        del layers.level(level)[key]
        level = "body" if key == "body" else level
    elif kind == "not_json":
        garbage = draw(st.text(max_size=50).filter(lambda t: not _is_json_object(t)))
        if draw(st.booleans()):
            layers.body_override = garbage
        else:
            layers.message_override = garbage
    else:
        level = draw(st.sampled_from(("sqs", "sns", "payload")))
        key = draw(st.sampled_from(tuple(k for k in REQUIRED[level] if k not in ("body", "Message"))))
        layers.level(level)[key] = draw(WRONG_VALUES.filter(lambda v, k=key: not _still_valid(k, v)))
    return f"{kind} at {level}", layers, not level.startswith("sqs")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _still_valid(key: str, value: object) -> bool:
    """Wrong-type values that are in fact acceptable: a dict for a map field, any string for free text."""
    return (key in ("attributes", "messageAttributes") and isinstance(value, dict) and not value) or (
        isinstance(value, str) and key not in ("originationNumber", "destinationNumber", "inboundMessageId")
        and key not in ("Timestamp", "TopicArn", "eventSourceARN", "UnsubscribeURL", "Type", "eventSource")
    )


@FUZZ
@given(data=st.data(), good_first=st.booleans())
def test_a_broken_record_is_reported_alone_and_mails_nothing_or_is_processed_once(
    region, fresh_number, data, good_first
):
    handler = region[0]
    good_number, broken_number = connected(handler, fresh_number()), connected(handler, fresh_number())
    what, layers, must_report = data.draw(broken(broken_number))
    good_body = f"good report {uuid.uuid4().hex[:8]}"
    good, bad = good_record(good_number, good_body), layers.record()
    records = [good, bad] if good_first else [bad, good]

    response = handler.lambda_handler({"Records": records}, CONTEXT)

    reported = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert reported in ([], [bad["messageId"]]), what
    mails = [text_of(mail) for mail in sent_mails()]
    assert sum(good_body in mail for mail in mails) == 1, what
    broken_text = layers.payload.get("messageBody")
    broken_mails = sum(broken_text in mail for mail in mails) if isinstance(broken_text, str) else 0
    if must_report:
        assert reported, what
    assert broken_mails == (0 if reported else 1), what


@FUZZ
@given(extra=st.lists(st.tuples(st.sampled_from(LEVELS), st.text(min_size=1, max_size=12), JSON_VALUES),
                      min_size=1, max_size=4))
def test_a_record_with_extra_fields_is_processed_as_if_they_were_not_there(region, fresh_number, extra):
    handler = region[0]
    layers = Layers(f"report with extras {uuid.uuid4().hex[:8]}", connected(handler, fresh_number()))
    for level, key, value in extra:
        fields = layers.level(level)
        if key not in fields and key.lower() not in {k.lower() for k in fields}:
            fields[key] = value

    response = handler.lambda_handler({"Records": [layers.record()]}, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert sum(layers.payload["messageBody"] in text_of(mail) for mail in sent_mails()) == 1


@pytest.mark.xfail(strict=True, reason="BUG (unreachable from SQS, which always sets messageId): a record without "
                   "messageId makes Powertools raise KeyError while building the response, failing the whole batch")
def test_a_record_without_a_message_id_does_not_fail_the_whole_batch(region, fresh_number):
    handler = region[0]
    nameless = good_record(fresh_number(), "a text")
    del nameless["messageId"]

    response = handler.lambda_handler({"Records": [good_record(fresh_number(), "Gatineau"), nameless]}, CONTEXT)

    assert len(response["batchItemFailures"]) == 1
