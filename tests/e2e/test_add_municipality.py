"""`text311 municipality add --endpoint-url …` against the local run: the new city is live at once."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid

import pytest
from conftest import ROOT, LocalRun, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

MONTREAL = 6077243  # GeoNames: Montréal, QC
TEXT311 = [sys.executable, "-c", "import sys; from text311.cli import main; sys.exit(main())"]  # the console script


def run_env(run: LocalRun) -> dict[str, str]:
    """The environment `make run` writes to DATA_DIR/env for command-line tools (endpoint, tables, keys)."""
    env = dict(os.environ)
    for line in (run.data_dir / "env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    return env


def test_a_city_added_with_the_command_is_offered_and_gets_its_residents_mail(local_run, new_phone):
    if importlib.util.find_spec("text311.cli") is None:
        pytest.skip("text311.cli (`text311 municipality add`) is not in the core yet")
    env = run_env(local_run)
    endpoint = f"http://127.0.0.1:{local_run.aws_port}"
    assert env["AWS_ENDPOINT_URL"] == endpoint

    added = subprocess.run([*TEXT311, "municipality", "add", str(MONTREAL), "--email", "311@montreal.example",
                            "--agents", "@montreal.example", "--language", "fr", "--language", "en",
                            "--endpoint-url", endpoint],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert added.returncode == 0, added.stdout + added.stderr
    cities = {m["geonameid"]: m for m in local_run.get("/sim/config")["municipalities"]}
    assert cities[MONTREAL]["email"] == "311@montreal.example"
    assert cities[MONTREAL]["agent"] == "agent@montreal.example"
    phone = new_phone("514")
    first = f"Nid de poule sur la rue Sainte-Catherine ({uuid.uuid4().int % 10**8:08d})"
    assert "municipalité" in local_run.exchange(phone, first)
    assert "Montréal" in local_run.exchange(phone, "Montréal")
    [mail] = wait_for(lambda: local_run.mails("311@montreal.example", first), what="Montréal's first mail")
    assert "Montréal" in mail["subject"]
