"""A burst of answers leaves the local run at the sink's MPS, spaced, and none is lost or sent twice."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import POLL_CEILING, LocalRun, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RESIDENTS = 5


def _out_parts(run: LocalRun, phones: list[str]) -> list[tuple[datetime, str, str]]:
    parts = []
    for phone in phones:
        for message in run.phone(phone):
            if message["direction"] == "out":
                parts.append((datetime.fromisoformat(message["at"].replace("Z", "+00:00")), phone, message["id"]))
    return sorted(parts)


def test_a_burst_of_answers_is_paced_at_the_local_mps_and_none_is_lost(local_run, new_phone):
    # given residents who all text at the same moment, each text needing an answer ("which city?")
    local_run.idle()
    mps = local_run.get("/sim/status")["outbound"]["mps"]
    parked_before = len(local_run.get("/sim/dlq"))  # other tests park records on purpose
    phones = [new_phone("613") for _ in range(RESIDENTS)]

    # when they text
    for phone in phones:
        local_run.text(phone, "There is a broken street light on my corner")

    # then every resident gets an answer (the ceiling leaves the line its time at that MPS on top)
    wait_for(lambda: all(local_run.answers(p) for p in phones), timeout=RESIDENTS / mps + POLL_CEILING,
             what="an answer on every phone")
    local_run.idle()
    parts = _out_parts(local_run, phones)
    ids = [message_id for _, _, message_id in parts]
    assert len(ids) == len(set(ids)), "a part was sent twice"
    assert {phone for _, phone, _ in parts} == set(phones)
    # and no two parts are closer than one part-time of the line (5 % for clock jitter)
    gaps = [(later - earlier).total_seconds() for (earlier, _, _), (later, _, _) in zip(parts, parts[1:], strict=False)]
    assert gaps and min(gaps) >= 0.95 / mps, gaps
    assert (parts[-1][0] - parts[0][0]).total_seconds() >= (len(parts) - 1) * 0.95 / mps
    assert len(local_run.get("/sim/dlq")) == parked_before
