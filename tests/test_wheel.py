"""The library works outside the repo: a fresh `cdk init app --language python` project installs it with
the README's install command and synthesizes the README's Usage snippet (examples/usage.py) unchanged.
The built wheel and sdist themselves: tests/test_distributions.py."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest

from tests.apps import REPO

pytestmark = pytest.mark.slow

DISTRIBUTION = "cdk-personalize-jobs"
# The README's install command (section "Install"), with the path of the user's checkout filled in.
INSTALL_COMMAND = "pip install {requirement}"
INSTALL_REQUIREMENT = "{checkout}[rehearsal]"
USAGE = REPO / "examples" / "usage.py"
CDK = REPO / "node_modules" / ".bin" / "cdk"
# Downloaded once (from the package index, the first time) and reused offline by later runs: pip is told
# to install only from here, so what the fresh project gets is exactly what the library declares.
WHEELHOUSE = Path(
    os.environ.get(
        "CDK_PERSONALIZE_JOBS_WHEELHOUSE", Path(tempfile.gettempdir()) / f"{DISTRIBUTION}-wheelhouse"
    )
)
# What jsii prints on a Node.js release it no longer supports (Node 20 on these machines).
NODE_BANNER = "is end-of-life and not supported anymore"

# ---------------------------------------------------------------------------- a fresh CDK project


def install_command(checkout: Path) -> str:
    """The README's install command for a checkout at ``checkout``."""
    return INSTALL_COMMAND.format(requirement=shlex.quote(INSTALL_REQUIREMENT.format(checkout=checkout)))


def _run(
    command: str, cwd: Path, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """``command`` in bash, in the project's activated virtual environment (as cdk init's README says)."""
    return subprocess.run(
        ["bash", "-c", f"source .venv/bin/activate && {command}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _user_environment() -> dict[str, str]:
    """The test's environment without what would leak this repo into the project (its venv, the banner
    switch the test suite sets)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
        and not k.startswith("PIP_")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO / ".venv"))
    )
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def _install_offline(project: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    offline = {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE), "PIP_NO_COMPILE": "1"}
    return _run(command, project, offline)


def fill_wheelhouse() -> Path:
    """Download what the README's install command needs into the wheelhouse (scripts/prepare_tests.py
    calls this in make test's set-up); RuntimeError when the package index cannot be reached."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    requirement = INSTALL_REQUIREMENT.format(checkout=REPO)
    # pyproject.toml [build-system]: pip builds the checkout with it.
    (build_backend,) = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "-d",
            str(WHEELHOUSE),
            requirement,
            build_backend,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if download.returncode != 0:
        raise RuntimeError(
            f"packages missing from {WHEELHOUSE}, and fetching them from the package index failed (set "
            "CDK_PERSONALIZE_JOBS_WHEELHOUSE to a directory holding them):\n" + download.stderr
        )
    return WHEELHOUSE


@pytest.fixture(scope="module")
def cdk_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `cdk init app --language python` project, its own venv, the library installed with the README's
    command, and the README's Usage snippet as its app.py."""
    if not CDK.exists():
        pytest.fail(f"{CDK} is missing: run `make test` (or `npm install`) to install the pinned CDK CLI")
    env = _user_environment()
    project = tmp_path_factory.mktemp("fresh") / "my-app"
    project.mkdir()
    init = subprocess.run(
        [str(CDK), "init", "app", "--language", "python", "--generate-only"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    venv.create(project / ".venv", with_pip=True)

    command = install_command(REPO)
    installed = _install_offline(project, command, env)
    if installed.returncode != 0:
        # make test fills the wheelhouse in its set-up; a bare pytest run (or changed requirements)
        # fetches what is missing once from the package index.
        try:
            fill_wheelhouse()
        except RuntimeError as error:
            pytest.fail(f"{command}: {error}")
        installed = _install_offline(project, command, env)
    assert installed.returncode == 0, f"{command}\n{installed.stdout}{installed.stderr}"

    shutil.copyfile(USAGE, project / "app.py")
    return project


def test_fresh_project_is_laid_out_as_cdk_init_writes_it(cdk_project: Path) -> None:
    cdk_json = json.loads((cdk_project / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    assert "aws-cdk-lib" in (cdk_project / "requirements.txt").read_text()


def test_install_command_installs_the_distribution_with_the_rehearsal_extra(cdk_project: Path) -> None:
    listed = _run("pip list --format json", cdk_project, _user_environment())
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {DISTRIBUTION, "aws-cdk-lib", "constructs", "boto3", "moto"} <= names
    # Only what the library declares: nothing of the test venv (its dev extra) leaks in.
    assert not {"cdk-nag", "pytest", "mypy"} & names
    hint = _run(
        "python -c 'from constructs_lib.rehearsal import INSTALL_HINT; print(INSTALL_HINT)'",
        cdk_project,
        _user_environment(),
    )
    # The rehearsal's missing-dependency message names the very command that installed it here.
    assert hint.stdout.strip() == install_command(REPO), hint.stderr
    package = _run(
        "python -c 'import constructs_lib; print(constructs_lib.__file__)'", cdk_project, _user_environment()
    )
    assert package.stdout.strip().startswith(str(cdk_project / ".venv")), package.stdout + package.stderr


@pytest.fixture(scope="module")
def project_synth(cdk_project: Path) -> subprocess.CompletedProcess[str]:
    """`cdk synth` in the fresh project, through the pinned CLI, with the project's cdk.json."""
    return _run(f"{shlex.quote(str(CDK))} synth --quiet", cdk_project, _user_environment(), timeout=300)


def test_fresh_project_synthesizes_the_usage_snippet_unchanged(
    cdk_project: Path, project_synth: subprocess.CompletedProcess[str]
) -> None:
    assert project_synth.returncode == 0, project_synth.stdout + project_synth.stderr
    assert (cdk_project / "app.py").read_bytes() == USAGE.read_bytes()
    template = json.loads((cdk_project / "cdk.out" / "Recommendations.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("Custom::PersonalizeBatchInferenceJob") == 1
    assert set(template["Outputs"]) >= {"Results", "Manifest"}
    assert len(list((cdk_project / "cdk.out").glob("asset.*/handler.py"))) == 1


def test_fresh_project_synth_prints_no_node_banner_and_no_flag_notice(
    project_synth: subprocess.CompletedProcess[str],
) -> None:
    output = project_synth.stdout + project_synth.stderr
    assert NODE_BANNER not in output
    assert "feature flags are not configured" not in output


def test_fresh_project_rehearses_the_usage_snippet_with_the_installed_extra(
    cdk_project: Path, project_synth: subprocess.CompletedProcess[str]
) -> None:
    assert project_synth.returncode == 0
    # The snippet writes nothing into the input bucket it creates: a first deploy fails on the empty
    # bucket, as in an account; with the input said to be uploaded before the job runs, it is green.
    empty = _run("python -m constructs_lib.rehearsal cdk.out", cdk_project, _user_environment())
    assert empty.returncode == 1, empty.stdout + empty.stderr
    assert "Input data not found at" in empty.stdout
    result = _run(
        "python -m constructs_lib.rehearsal cdk.out --input-exists Weekly", cdk_project, _user_environment()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: OK" in result.stdout
