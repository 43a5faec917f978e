"""The README's Install section and its offline `cdk diff --template` command hold: the CLI it names is
the pinned one, that CLI's `cdk init` template asks for an aws-cdk-lib the tests have installed, the
diff runs with no AWS credentials and shows a re-run as a RunId change, cdk.out.* is ignored by git."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from tests import variants
from tests.apps import REPO

README = (REPO / "README.md").read_text()
CLI_DIR = REPO / "node_modules" / "aws-cdk"
CDK = REPO / "node_modules" / ".bin" / "cdk"


def _install_block() -> str:
    section = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    return section.split("```bash", 1)[1].split("```", 1)[0]


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_install_steps_run_cdk_init_before_anything_is_installed_in_the_directory() -> None:
    lines = [line.split("#")[0].strip() for line in _install_block().strip().splitlines()]
    init = next(i for i, line in enumerate(lines) if " init app --language python" in line)
    mkdir = next(i for i, line in enumerate(lines) if line.startswith("mkdir "))
    npm_install = next(i for i, line in enumerate(lines) if line.startswith("npm install"))
    pip_install = [i for i, line in enumerate(lines) if line.startswith("pip install")]
    assert mkdir < init < npm_install < min(pip_install)
    assert lines[init].startswith("npx aws-cdk@")  # no install into the directory before cdk init


def test_the_cli_the_readme_names_is_the_pinned_and_installed_one() -> None:
    named = set(re.findall(r"aws-cdk@([\d.]+)", _install_block()))
    installed = json.loads((CLI_DIR / "package.json").read_text())["version"]
    assert named == {installed}, f"README names {named}, node_modules has {installed}"
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert pinned.lstrip("~^=") == installed, f"package.json pins {pinned}"
    assert _version_tuple(installed)[:2] >= (2, 1148)


def test_the_cli_init_template_asks_for_an_aws_cdk_lib_that_exists_and_reads_its_assemblies() -> None:
    init_versions = json.loads((CLI_DIR / "lib" / "init-templates" / ".init-version.json").read_text())
    minimum = init_versions["aws-cdk-lib"].lstrip("^")
    installed = importlib.metadata.version("aws-cdk-lib")
    # The template's minimum is a released aws-cdk-lib: the one these tests run on, from the registry.
    assert _version_tuple(minimum) <= _version_tuple(installed)
    assert f"aws-cdk-lib>={minimum},<3.0.0" in _install_block()
    assert f"aws-cdk-lib {minimum.rsplit('.', 1)[0]} assemblies" in README


def test_cdk_out_copies_are_ignored_by_git(tmp_path: Path) -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "cdk.out.before/x.json", "cdk.out.after/manifest.json", "cdk.out/a"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == ["cdk.out.before/x.json", "cdk.out.after/manifest.json", "cdk.out/a"]


@pytest.mark.slow
def test_cdk_diff_template_runs_offline_and_shows_a_rerun_as_a_run_id_change(
    tmp_path: Path, lifecycle_assemblies: Mapping[variants.Version, Path]
) -> None:
    """The README's diff command, as written, between two versions of an app, with no credentials."""
    if not CDK.exists():
        pytest.fail(f"{CDK} is missing: run `make setup` (or `npm install`) to install the pinned CDK CLI")
    # The session's assemblies of the lifecycle app (tests/conftest.py), copied to the README's names.
    shutil.copytree(lifecycle_assemblies[variants.BASE], tmp_path / "cdk.out.before")
    shutil.copytree(lifecycle_assemblies[replace(variants.BASE, run_token="2")], tmp_path / "cdk.out.after")
    before = json.loads((tmp_path / "cdk.out.before" / "Lifecycle.template.json").read_text())
    old_run_id = before["Resources"]["JobB9D00F9F"]["Properties"]["RunId"]
    command = re.search(r"npx cdk diff (--app \S+ --template \S+ \S+)", README)
    assert command is not None, "README's diff section has no `npx cdk diff --app ... --template ...`"
    arguments = command.group(1).replace("MyStack", variants.STACK).split()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"}
    }
    environment.update(
        HOME=str(tmp_path),  # no ~/.aws
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
    )
    result = subprocess.run(
        [str(CDK), "diff", *arguments, "--no-notices"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "RunId" in output and old_run_id in output, output
    assert "Custom::PersonalizeBatchInferenceJob" in output
