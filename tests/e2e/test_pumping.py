"""SMS pumping through +1 numbers, on `make run`: a text from Jamaica (+1 876) or a premium-rate number
(+1 900) gets no answer and reaches no city, while a Canadian mobile's text is answered as usual."""

from __future__ import annotations

import uuid

import pytest
from conftest import LocalRun

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

KINGSTON = "contactus@cityofkingston.example"


@pytest.mark.parametrize(
    ("phone", "reason"),
    [("+18765552345", "country_not_served"),  # a Jamaican mobile: +1, but not Canada or the US
     ("+19005552345", "premium_rate")],  # a US premium-rate number
)
def test_a_text_from_a_plus_one_number_abroad_or_premium_gets_no_answer(local_run: LocalRun, phone, reason):
    marker = f"Kingston pothole on Princess St ({uuid.uuid4().int % 10**8:08d})"

    for body in ("Hello", "Kingston", marker):
        local_run.text(phone, body)
    local_run.idle()

    assert local_run.answers(phone) == []
    assert local_run.mails(KINGSTON, marker) == []
    log = (local_run.data_dir / "lambda.log").read_text()  # the handlers' structured logs
    assert f'"reason":"{reason}"' in log and f"+1******{phone[-4:]}" in log
    assert phone[2:] not in log  # logged masked only


def test_a_text_from_a_canadian_mobile_is_still_answered(local_run: LocalRun, new_phone):
    phone = new_phone("613")

    assert "which municipality" in local_run.exchange(phone, "Hello").lower()
