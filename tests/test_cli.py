"""The pinned CDK CLI (package.json) synthesizes the demo app, as `make demo` and users do."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.apps import REPO

CDK = REPO / "node_modules" / ".bin" / "cdk"
# What jsii prints on a Node.js release it no longer supports (Node 20 on these machines).
NODE_BANNER = "is end-of-life and not supported anymore"
FLAGS_NOTICE = "feature flags are not configured"


def _synth(out: Path, *extra: str) -> str:
    """`cdk synth` of the repo's app (cdk.json) through the pinned CLI, into ``out``; its output.

    Run as a user runs it outside make: without the variable that silences jsii's Node banner, which
    app.py sets for itself.
    """
    if not CDK.exists():
        # `make test` installs it first; a bare pytest run must say so rather than pass silently.
        pytest.fail(f"{CDK} is missing: run `make test` (or `npm install`) to install the pinned CDK CLI")
    env = {k: v for k, v in os.environ.items() if k != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
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
    return result.stdout + result.stderr


def _job(out: Path) -> dict[str, Any]:
    template = json.loads((out / "PersonalizeBatchInferenceDemo.template.json").read_text())
    (job,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::PersonalizeBatchInferenceJob"
    ]
    return job


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli") / "cdk.out"
    return out, _synth(out)


@pytest.fixture(scope="module")
def cli_out(cli_synth: tuple[Path, str]) -> Path:
    return cli_synth[0]


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


def test_cli_synth_prints_no_node_end_of_life_banner(cli_synth: tuple[Path, str]) -> None:
    # app.py sets JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION before importing aws_cdk.
    assert NODE_BANNER not in cli_synth[1]


def test_cli_synth_finds_every_feature_flag_configured(cli_synth: tuple[Path, str]) -> None:
    # cdk.json sets the flags `cdk init` writes (aws-cdk-lib's recommended-feature-flags.json).
    assert FLAGS_NOTICE not in cli_synth[1]


def test_make_demo_passes_rehearsal_args_to_the_rehearsal() -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "demo", "REHEARSAL_ARGS=--quota 1 --fail Job=boom"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr
    (rehearsal,) = [line for line in dry_run.stdout.splitlines() if "-m constructs_lib.rehearsal" in line]
    assert rehearsal.endswith("-m constructs_lib.rehearsal cdk.out --quota 1 --fail Job=boom")


def _first_line_importing_cdk(tree: ast.Module) -> int | None:
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "aws_cdk" for a in node.names):
            return node.lineno
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {
            "aws_cdk",
            "constructs_lib",
        }:
            return node.lineno
    return None


@pytest.mark.parametrize(
    "app", ["app.py", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").glob("[!_]*.py"))]
)
def test_app_silences_the_node_banner_before_importing_aws_cdk(app: str) -> None:
    tree = ast.parse((REPO / app).read_text())
    silenced = [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Expr)
        and "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in ast.unparse(node)
        and "setdefault" in ast.unparse(node)
    ]
    first_import = _first_line_importing_cdk(tree)
    assert silenced and first_import is not None and silenced[0] < first_import, app
