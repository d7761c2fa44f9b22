"""A translated answer is billed as the SMS the resident received: its translation, not the agent's
original (docs/usage.md)."""

from __future__ import annotations

from test_usage import GAT, conversation, message, utc
from test_usage import tables as tables  # noqa: F401 - the moto tables fixture, by name

from text311.adapters.dynamodb import MessageModel
from text311.conversations import message_key
from text311.usage import usage_for

ENGLISH = "Thank you, a crew comes tomorrow at 10:30."  # one GSM-7 part
# Two UCS-2 parts: "á" and "ú" are not GSM-7 (ñ is).
SPANISH = (
    "Gracias por su reporte. Un equipo estará en la calle Princess mañana a las 10:30. "
    "Su número de referencia es KIN-1042."
)
CHINESE = "感谢您的报告。维修队将于明天上午十点到达。"  # one UCS-2 part


def translated_answer(conversation_id: str, at, external_id: str, translation: str, chars: int) -> None:
    message(conversation_id, at, external_id, "out", "console", ENGLISH, "delivered")
    MessageModel.get(conversation_id, message_key(at, external_id)).update(
        actions=[MessageModel.translation.set(translation), MessageModel.translated_chars.set(chars)]
    )


def test_a_translated_answers_parts_are_counted_from_its_translation(tables):
    c = conversation(GAT, "tr", utc(2026, 12, 1), language="es")
    translated_answer(c, utc(2026, 12, 2), "a-es", SPANISH, 50)
    translated_answer(c, utc(2026, 12, 3), "a-zh", CHINESE, 45)
    message(c, utc(2026, 12, 4), "a-en", "out", "console", ENGLISH, "sent")  # not translated: its body

    usage = usage_for(GAT, "2026-12", records=tables)

    assert (usage.sms_sent, usage.sent_parts_gsm7, usage.sent_parts_ucs2) == (3, 1, 2 + 1)
    assert usage.translated_characters == 95
