"""The pinned CDK CLI (package.json) synthesizes the demo app, as `make demo` and users do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.apps import REPO

CDK = REPO / "node_modules" / ".bin" / "cdk"


def _synth(out: Path, *extra: str) -> None:
    """`cdk synth` of the repo's app (cdk.json) through the pinned CLI, into ``out``."""
    if not CDK.exists():
        # `make test` installs it first; a bare pytest run must say so rather than pass silently.
        pytest.fail(f"{CDK} is missing: run `make test` (or `npm install`) to install the pinned CDK CLI")
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", *extra, "--output", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _job(out: Path) -> dict[str, Any]:
    template = json.loads((out / "PersonalizeBatchInferenceDemo.template.json").read_text())
    (job,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::PersonalizeBatchInferenceJob"
    ]
    return job


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "cdk.out"
    _synth(out)
    return out


def test_pinned_cli_is_a_2x_release_that_reads_our_assemblies() -> None:
    version = json.loads((REPO / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert version.startswith("2."), version


def test_cli_synthesizes_the_demo_app(cli_out: Path) -> None:
    assert _job(cli_out)["Properties"]["SolutionVersionArn"].startswith("arn:aws:personalize:")


def test_cli_context_overrides_the_placeholders(tmp_path: Path) -> None:
    arn = "arn:aws:personalize:eu-west-1:111122223333:solution/mine/abcd1234"
    _synth(tmp_path, "-c", f"solutionVersionArn={arn}")
    assert _job(tmp_path)["Properties"]["SolutionVersionArn"] == arn


def test_cli_can_deploy_the_storage_alone_first(tmp_path: Path) -> None:
    _synth(tmp_path, "-c", "withJob=false")
    template = json.loads((tmp_path / "PersonalizeBatchInferenceDemo.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::S3::Bucket" in types
    assert "Custom::PersonalizeBatchInferenceJob" not in types
    assert "InputBucket" in template["Outputs"]
