"""cdk-nag (AwsSolutions) and cfn-lint on every synthesized stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.conftest import Synth

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

# cfn-lint rules we ignore, and why (also in docs/infrastructure.md):
IGNORED_LINT_RULES = {
    # CDK itself adds DependsOn on each function's role next to the Fn::GetAtt of that role (so the
    # role's policy exists before the function); redundant for CloudFormation, harmless, not ours.
    "W3005": "CDK-generated DependsOn that duplicates a Ref/GetAtt",
}


def test_cdk_nag_finds_no_unsuppressed_error_or_warning(synth: Synth, region: str) -> None:
    from aws_cdk.assertions import Annotations, Match

    annotations = Annotations.from_stack(synth.stacks[region])
    rule = Match.string_like_regexp("AwsSolutions-.*")
    findings = annotations.find_error("*", rule) + annotations.find_warning("*", rule)
    assert [f"{f.id}: {f.entry.data}" for f in findings] == []


def test_every_suppression_is_on_a_resource_and_gives_a_specific_reason(synth: Synth, region: str) -> None:
    template = synth.raw[region]
    assert "cdk_nag" not in template.get("Metadata", {}), "no stack-wide suppressions"
    reasons = []
    for logical_id, resource in template["Resources"].items():
        for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            reasons.append((logical_id, suppression["id"], suppression["reason"]))
    assert reasons, "the stack has suppressions and this test reads them"
    for logical_id, rule, reason in reasons:
        assert len(reason) >= 60, (logical_id, rule, reason)


def test_cfn_lint_reports_nothing(synth: Synth, region: str) -> None:
    from cfnlint.api import ManualArgs, lint_file

    stack = synth.stacks[region]
    path = Path(synth.outdir) / f"{stack.stack_name}.template.json"
    matches = lint_file(path, config=ManualArgs(regions=[region], ignore_checks=sorted(IGNORED_LINT_RULES)))
    assert [str(m) for m in matches] == []
