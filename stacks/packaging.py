"""Lambda packaging without Docker: layers built by pip on this machine, cached on disk.

CDK's local bundling hook (``ILocalBundling``) runs ``pip install --platform ... --only-binary=:all:``
for the Lambda platform (Python 3.14, arm64, glibc 2.34 on Amazon Linux 2023), so no container is
needed. The pip output is cached under ``build/layers/<name>-<hash>/`` keyed by the requirements
file's content and the target platform: the first synth downloads, later ones copy (hard links
when possible) and work offline. The Docker image named below is never pulled: ``try_bundle``
always returns True (and raises on failure) so CDK never falls back to Docker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import ROOT

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.14"
# Wheels Lambda's Amazon Linux 2023 (glibc 2.34) on Graviton can load; pip does not widen a
# --platform to older manylinux tags by itself, so every tag we accept is listed.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
CACHE_DIR = ROOT / "build" / "layers"
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".mypy_cache"]


class BundlingError(RuntimeError):
    pass


def requirements_hash(requirements: Path) -> str:
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"{PYTHON_VERSION}|{'|'.join(PLATFORMS)}".encode())
    return digest.hexdigest()[:16]


def _copy_tree(source: Path, target: Path) -> None:
    try:
        shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True)
    except OSError:  # another file system: hard links are impossible, copy instead
        shutil.copytree(source, target, dirs_exist_ok=True)


def build_requirements(requirements: Path, name: str) -> Path:
    """The ``python/`` folder of a layer holding ``requirements``, from the cache or from pip."""
    cached = CACHE_DIR / f"{name}-{requirements_hash(requirements)}"
    if (cached / ".complete").exists():
        return cached / "python"
    partial = cached.with_name(cached.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    command += ["--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:"]
    command += ["--target", str(partial / "python"), "-r", str(requirements)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BundlingError(f"pip could not build the {name} layer from {requirements}:\n{result.stderr}")
    (partial / ".complete").write_text(" ".join(command), encoding="utf-8")
    shutil.rmtree(cached, ignore_errors=True)
    partial.rename(cached)  # atomic: two synths at once never see half a cache entry
    return cached / "python"


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Installs a requirements file for the Lambda platform into ``<output>/python``."""

    def __init__(self, requirements: Path, name: str) -> None:
        self.requirements = requirements
        self.name = name

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        _copy_tree(build_requirements(self.requirements, self.name), Path(output_dir) / "python")
        return True


def requirements_layer(
    scope: Construct, construct_id: str, requirements: Path, description: str
) -> lambda_.LayerVersion:
    """A layer built from ``requirements``; its asset hash is the requirements hash (no source walk)."""
    name = construct_id.lower()
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description=description,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        code=lambda_.Code.from_asset(
            str(requirements.parent),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=f"{name}-{requirements_hash(requirements)}",
            bundling=BundlingOptions(
                image=DockerImage.from_registry("local-only"),
                local=PipLayerBundling(requirements, name),
            ),
        ),
    )


def source_layer(scope: Construct, construct_id: str, path: Path, description: str) -> lambda_.LayerVersion:
    """A layer whose asset is a folder already laid out as ``python/<package>``."""
    return lambda_.LayerVersion(
        scope,
        construct_id,
        description=description,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        code=lambda_.Code.from_asset(str(path), exclude=ASSET_EXCLUDES),
    )


def function_code(name: str) -> lambda_.Code:
    return lambda_.Code.from_asset(str(ROOT / "functions" / name), exclude=ASSET_EXCLUDES)


class Layers(Construct):
    """The three layers every function uses, in the order Lambda extracts them."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.powertools = requirements_layer(
            self,
            "Powertools",
            ROOT / "requirements-powertools.txt",
            "Powertools for AWS Lambda (parser, tracer), pinned in requirements-powertools.txt",
        )
        self.dependencies = requirements_layer(
            self, "Dependencies", ROOT / "requirements.txt", "Run-time dependencies from requirements.txt"
        )
        self.core = source_layer(self, "Core", ROOT / "layers" / "core", "The text311 package (layers/core)")

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.powertools, self.dependencies, self.core]


# config's log_retention_days → the CDK enum member (CloudWatch Logs accepts only these values).
LOG_RETENTION = {
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
}


def encrypted_log_group(
    scope: Construct, construct_id: str, *, key: kms.IKey, retention_days: int, **extra: object
) -> logs.LogGroup:
    """A log group encrypted with the region's key, whose policy lets CloudWatch Logs use it
    (``stacks.security.allow_log_groups``): what the functions log is about residents' conversations,
    so it is kept under the same key as the conversations themselves."""
    return logs.LogGroup(
        scope,
        construct_id,
        encryption_key=key,
        retention=logs.RetentionDays[LOG_RETENTION[retention_days]],
        **extra,  # type: ignore[arg-type]
    )


def plain_function(
    scope: Construct,
    construct_id: str,
    folder: str,
    *,
    log_retention_days: int,
    log_key: kms.IKey,
    description: str,
    role: iam.IRole | None = None,
    environment: dict[str, str] | None = None,
    timeout: Duration = Duration.seconds(30),
    memory: int = 256,
    **extra: object,
) -> lambda_.Function:
    """A function logging only to its own group (encrypted with ``log_key``), under its own role (not
    AWSLambdaBasicExecutionRole). With no ``layers`` in ``extra`` it has none: boto3 comes from the runtime."""
    log_group = encrypted_log_group(scope, f"{construct_id}Logs", key=log_key, retention_days=log_retention_days)
    role = role or iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Text311 {folder} function",
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    return lambda_.Function(
        scope,
        construct_id,
        role=role,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler="handler.lambda_handler",
        code=function_code(folder),
        memory_size=memory,
        timeout=timeout,
        log_group=log_group,
        environment=environment or {},
        **extra,
    )
