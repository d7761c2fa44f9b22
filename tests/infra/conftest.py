"""Synthesizes the CDK app ONCE per test session (all infra tests share one xdist worker through
``xdist_group("infra")``), with cdk-nag's AwsSolutions pack, into a temporary directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii's Node process reads these when aws_cdk is first imported (below, lazily): Node 20 still works.
for _variable in (
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
):
    os.environ.setdefault(_variable, "18,20")


@dataclass
class Synth:
    outdir: Path
    config: Any  # stacks.config.Config
    stacks: dict[str, Any]  # region → RegionStack
    templates: dict[str, Any]  # region → aws_cdk.assertions.Template
    raw: dict[str, dict]  # region → template JSON
    assembly: Any

    def resources(self, region: str, kind: str) -> dict[str, dict]:
        return {k: v for k, v in self.raw[region]["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from cdk_nag import AwsSolutionsChecks

    from stacks.config import DEFAULT_CONFIG, load_config
    from stacks.region_stack import build_stacks, create_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    config = load_config(DEFAULT_CONFIG)
    app = create_app(outdir=str(outdir))
    stacks = build_stacks(app, config)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    assembly = app.synth()
    by_region = {stack.deployment.region: stack for stack in stacks}
    return Synth(
        outdir=outdir,
        config=config,
        stacks=by_region,
        templates={region: Template.from_stack(stack) for region, stack in by_region.items()},
        raw={
            region: json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
            for region, stack in by_region.items()
        },
        assembly=assembly,
    )


def _configured_regions() -> list[str]:
    from stacks.config import DEFAULT_CONFIG, load_config

    return [deployment.region for deployment in load_config(DEFAULT_CONFIG).deployments]


@pytest.fixture(scope="session", params=_configured_regions())
def region(request: pytest.FixtureRequest) -> str:
    """Each configured region in turn: every stack must satisfy the same properties."""
    return request.param


def logical_id(construct: Any) -> str:
    """The CloudFormation logical id of an L2 construct (its default child) or an L1."""
    from aws_cdk import Stack

    resource = getattr(construct.node, "default_child", None) or construct
    return Stack.of(construct).get_logical_id(resource)


def role_statements(synth: Synth, region: str, role: Any) -> list[dict]:
    """Every IAM statement attached to ``role`` in the region's template."""
    statements = []
    for policy in synth.resources(region, "AWS::IAM::Policy").values():
        if {"Ref": logical_id(role)} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements
