"""Whether a resident's language was told by a text or only fallen back on is stored with the resident, so the next
text is read without the guess as a prior (text311.dialog.ResidentState.language_detected)."""

from __future__ import annotations

from dataclasses import replace

from text311.adapters.dynamodb import ResidentModel
from text311.conversations import ResidentRecord
from text311.dialog import ResidentState, State


def test_a_fallen_back_language_is_stored_as_such_and_read_back():
    record = ResidentRecord(ResidentModel(phone_hash="h", phone_encrypted="e"))
    guessed = ResidentState(language="en", state=State.ASKING, language_detected=False)
    assert record.apply(guessed) is True
    assert record.item.serialize()["language_detected"] == {"BOOL": False}
    assert record.state == guessed
    # and a later detection is a change worth saving
    assert record.apply(replace(guessed, language="es", language_detected=True)) is True
    assert record.state.language_detected is True


def test_a_resident_stored_before_the_flag_existed_counts_as_told():
    item = ResidentModel(phone_hash="h", phone_encrypted="e", language="fr", dialog_state="connected")
    assert item.language_detected is None
    assert ResidentRecord(item).state.language_detected is True
