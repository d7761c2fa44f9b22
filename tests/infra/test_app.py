"""``app.py`` end to end: one template per configured region; a bad config is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stacks.config import DEFAULT_CONFIG, ROOT, ConfigError, load_config
from tests.infra.conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _run_app(tmp_path: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "18,20",
    }
    if config is not None:
        env["TEXT311_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _bad_config(tmp_path: Path, index: int, **changes: object) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for key, value in changes.items():
        if value is None:
            raw["deployments"][index].pop(key)
        else:
            raw["deployments"][index][key] = value
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_synth_gives_one_template_per_configured_region(synth: Synth) -> None:
    expected = {f"Text311-{d.region}" for d in load_config(DEFAULT_CONFIG).deployments}
    assert {s.stack_name for s in synth.assembly.stacks} == expected
    assert {p.name for p in Path(synth.outdir).glob("*.template.json")} == {
        f"{n}.template.json" for n in expected
    }
    for stack in synth.assembly.stacks:
        assert stack.environment.region == stack.stack_name.removeprefix("Text311-")


def test_app_exits_2_naming_file_entry_and_field_when_reply_domain_is_missing(tmp_path: Path) -> None:
    # given a config whose second entry has no reply_domain
    config = _bad_config(tmp_path, 1, reply_domain=None)
    # when the app runs
    result = _run_app(tmp_path, config)
    # then it fails with one line naming the file, the entry and the field, and no jsii trace
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0]
    assert "deployments[1] (region us-east-1)" in lines[0]
    assert "reply_domain" in lines[0]
    assert "jsii" not in result.stderr.lower() and "Traceback" not in result.stderr
    assert not (tmp_path / "cdk.out").exists()


def test_app_exits_2_naming_the_region_field_when_the_region_is_not_a_region(tmp_path: Path) -> None:
    config = _bad_config(tmp_path, 0, region="canada-1")
    result = _run_app(tmp_path, config)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "deployments[0] (region canada-1): region:" in line
    assert "jsii" not in result.stderr.lower()


def test_config_rejects_an_identity_from_another_region(tmp_path: Path) -> None:
    identity = (
        "arn:aws:sms-voice:ca-central-1:111122223333:phone-number/phone-0123456789abcdef0123456789abcdef"
    )
    path = _bad_config(tmp_path, 1, sms_origination_identity=identity)
    with pytest.raises(
        ConfigError, match=r"deployments\[1\] \(region us-east-1\): sms_origination_identity: "
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sender_address": "notify at text311"}, "sender_address"),
        ({"served_countries": ["ca"]}, "served_countries.0"),
        ({"retention_days": 0}, "retention_days"),
        ({"alarm_email": None}, "alarm_email"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_config_names_the_bad_field(tmp_path: Path, changes: dict, field: str) -> None:
    path = _bad_config(tmp_path, 0, **changes)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"deployments[0] (region ca-central-1): {field}: " in str(error.value)
    assert "\n" not in str(error.value)


def test_app_synthesizes_every_region_from_the_command_line(tmp_path: Path) -> None:
    # what `cdk synth` runs: the app with the real config, offline, no credentials
    result = _run_app(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {p.name for p in (tmp_path / "cdk.out").glob("*.template.json")}
    assert names == {f"Text311-{d.region}.template.json" for d in load_config(DEFAULT_CONFIG).deployments}
