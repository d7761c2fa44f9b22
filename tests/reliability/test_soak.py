"""The soak (tests/reliability/soak.py), run once for the module; ``pytest -s`` shows its figures."""

from __future__ import annotations

import pytest

from .soak import SoakConfig, SoakFigures, functions_environment, run_soak

pytestmark = pytest.mark.xdist_group("reliability")  # one soak run shared by the module's tests


_FIGURES: list[SoakFigures] = []  # the one run of this process (see below)


@pytest.fixture(scope="module")
def soak() -> SoakFigures:
    # An xdist worker that runs out of queued tests tears module fixtures down and sets them up again
    # for the next test it is sent: the soak (minutes) runs once per process all the same.
    if not _FIGURES:
        with pytest.MonkeyPatch.context() as monkeypatch:
            _FIGURES.append(run_soak(functions_environment(), monkeypatch, SoakConfig()))
        print("\n" + "\n".join(_FIGURES[0].lines()))
    return _FIGURES[0]


def test_the_soak_ran_at_full_size_with_faults_timeouts_redeliveries_and_duplicates(soak):
    assert (soak.texts_in, soak.reports_in, soak.answers_in) == (1000, 800, 300)
    assert soak.faults_injected > 100 and soak.timeouts > 0
    assert soak.sqs_redeliveries > 0 and soak.sns_duplicates > 0 and soak.ses_duplicates > 0
    assert soak.async_retries > 0 and soak.dlq_inbound > 0 and soak.dlq_answers > 0
    assert soak.redriven == soak.dlq_inbound + soak.dlq_answers


def test_no_text_and_no_answer_is_lost_under_faults_each_is_delivered_or_in_a_dlq(soak):
    assert soak.reports_lost_before_redrive == 0
    assert soak.answers_lost_before_redrive == 0


def test_after_the_redrive_every_report_is_mailed_and_every_answer_texted_and_the_dlqs_are_empty(soak):
    assert soak.dlq_after_redrive == 0
    assert soak.reports_lost == 0 and soak.answers_lost == 0
    assert soak.handler_crashes == []


def test_every_report_is_mailed_exactly_once_and_nothing_else_is_mailed(soak):
    assert soak.reports_mailed_once == soak.reports_in
    assert soak.duplicate_emails == 0 and soak.unexpected_emails == 0


def test_no_sms_is_sent_twice_even_after_a_send_cut_by_a_timeout(soak):
    # The part ledger (DynamoDB) makes even a send cut right after End User Messaging accepted it
    # "in doubt" rather than sent again (test_inbound_email_faults.py).
    assert soak.duplicate_sms == 0 and soak.duplicate_answer_sms == 0
