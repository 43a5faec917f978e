"""The pinned CDK CLI (package.json) synthesizes the demo app, as `make demo` and users do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.apps import REPO

CDK = REPO / "node_modules" / ".bin" / "cdk"


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CDK.exists():
        # `make test` installs it first; a bare pytest run must say so rather than pass silently.
        pytest.fail(f"{CDK} is missing: run `make test` (or `npm install`) to install the pinned CDK CLI")
    out = tmp_path_factory.mktemp("cli") / "cdk.out"
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_pinned_cli_is_a_2x_release_that_reads_our_assemblies() -> None:
    version = json.loads((REPO / "node_modules" / "aws-cdk" / "package.json").read_text())["version"]
    assert version.startswith("2."), version


def test_cli_synthesizes_the_demo_app(cli_out: Path) -> None:
    template = json.loads((cli_out / "PersonalizeBatchInferenceDemo.template.json").read_text())
    jobs = [r for r in template["Resources"].values() if r["Type"] == "Custom::PersonalizeBatchInferenceJob"]
    assert len(jobs) == 1
    assert jobs[0]["Properties"]["SolutionVersionArn"].startswith("arn:aws:personalize:")


def test_cli_context_overrides_the_placeholders(tmp_path: Path) -> None:
    arn = "arn:aws:personalize:eu-west-1:111122223333:solution/mine/abcd1234"
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    result = subprocess.run(
        [
            str(CDK),
            "synth",
            "--quiet",
            "--no-notices",
            "-c",
            f"solutionVersionArn={arn}",
            "--output",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((tmp_path / "PersonalizeBatchInferenceDemo.template.json").read_text())
    (job,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::PersonalizeBatchInferenceJob"
    ]
    assert job["Properties"]["SolutionVersionArn"] == arn
