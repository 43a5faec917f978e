"""What `make dist` ships: the sdist, then the wheel built from that sdist, carry the version, the
license, the handler code and the type marker; the installed wheel synthesizes a job outside the repo.

Apart from the fresh `cdk init` project (tests/test_wheel.py), so the two can run on two workers at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import venv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest

from tests.apps import REPO
from tests.test_wheel import DISTRIBUTION, WHEELHOUSE, fill_wheelhouse

pytestmark = pytest.mark.slow

USER_APP = textwrap.dedent(
    """
    import json, sys
    import aws_cdk as cdk
    import constructs_lib
    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    app = cdk.App(outdir=sys.argv[1])
    stack = cdk.Stack(app, "UserStack")
    storage = BatchInferenceStorage(stack, "Storage")
    BatchInferenceJob(
        stack, "Job",
        solution_version_arn="arn:aws:personalize:us-east-1:123456789012:solution/s/1a2b3c4d",
        input_path="users/", storage=storage,
    )
    app.synth()
    print(json.dumps({"package": constructs_lib.__file__}))
    """
)


@contextmanager
def _offline_build_requirements() -> Iterator[None]:
    """pip (in build's isolated environment) installs the build backend from the wheelhouse that set-up
    filled (it holds pyproject.toml's [build-system] requirements), not from the package index."""
    saved = {name: os.environ.get(name) for name in ("PIP_NO_INDEX", "PIP_FIND_LINKS")}
    os.environ.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_distributions(out: Path, unpacked: Path) -> None:
    """What `make dist` (`python -m build`) builds: the sdist from the checkout, then the wheel from
    that sdist alone; one isolated build environment serves both builds."""
    from build import ProjectBuilder
    from build.env import DefaultIsolatedEnv

    with _offline_build_requirements(), DefaultIsolatedEnv() as env:
        builder = ProjectBuilder.from_isolated_env(env, REPO)
        env.install(builder.build_system_requires)
        env.install(builder.get_requires_for_build("sdist"))
        sdist = Path(builder.build("sdist", out))
        with tarfile.open(sdist) as tar:
            tar.extractall(unpacked, filter="data")
        (source,) = unpacked.iterdir()
        from_sdist = ProjectBuilder.from_isolated_env(env, source)
        env.install(from_sdist.get_requires_for_build("wheel"))
        from_sdist.build("wheel", out)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, then the wheel built from that sdist (so the sdist alone is enough to build a working
    wheel)."""
    out = tmp_path_factory.mktemp("dist")
    try:
        build_distributions(out, tmp_path_factory.mktemp("sdist"))
    except Exception as error:
        # make test fills the wheelhouse in its set-up; a bare pytest run (or a changed build backend)
        # fetches it once from the package index.
        try:
            fill_wheelhouse()
        except RuntimeError as missing:
            pytest.fail(f"building the distributions failed ({error}), and {missing}")
        build_distributions(out, tmp_path_factory.mktemp("sdist"))
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("cdk_personalize_jobs-*.whl")
    return built


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Path:
    (built,) = dist.glob("cdk_personalize_jobs-*.tar.gz")
    return built


def test_distributions_carry_the_version_of_pyproject(wheel: Path, sdist: Path) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert wheel.name == f"cdk_personalize_jobs-{version}-py3-none-any.whl"
    assert sdist.name == f"cdk_personalize_jobs-{version}.tar.gz"


def test_wheel_and_sdist_carry_the_license(wheel: Path, sdist: Path) -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    archive = zipfile.ZipFile(wheel)
    (licensed,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert archive.read(licensed).decode() == license_text
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    assert "License-Expression: Apache-2.0" in archive.read(metadata).decode().splitlines()
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        member = tar.extractfile(f"{root}/LICENSE")
        assert member is not None and member.read().decode() == license_text


def test_sdist_carries_the_handler_code_and_the_changelog(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    handler_files = {f"lambda/{p.relative_to(REPO / 'lambda')}" for p in (REPO / "lambda").rglob("*.py")}
    handler_files = {name for name in handler_files if "__pycache__" not in name}
    assert handler_files <= names, handler_files - names
    assert {"CHANGELOG.md", "README.md", "pyproject.toml", "constructs_lib/py.typed"} <= names
    assert not [n for n in names if "__pycache__" in n]


def test_wheel_is_named_for_the_distribution_and_holds_the_constructs_lib_package(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    assert f"Name: {DISTRIBUTION}" in archive.read(metadata).decode().splitlines()
    assert "constructs_lib/__init__.py" in archive.namelist()


def test_wheel_carries_the_handler_code_and_type_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "constructs_lib/py.typed" in names
    assert "constructs_lib/_lambda/handler.py" in names
    assert "constructs_lib/_lambda/monitor.py" in names
    assert not [n for n in names if "__pycache__" in n]


def test_installed_wheel_synthesizes_a_job_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "user-venv"
    # No pip of its own (ensurepip costs seconds): the test venv's pip installs into it.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # Dependencies (aws-cdk-lib, constructs, jsii) come from the test venv, added as a plain path:
    # .pth files there (such as this repo's editable install) are not processed from an added path.
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "app.py").write_text(USER_APP)
    out = project / "cdk.out"
    result = subprocess.run(
        [str(python), "app.py", str(out)], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    package = json.loads(result.stdout.strip().splitlines()[-1])["package"]
    assert package.startswith(str(env_dir)), package
    handlers = list(out.glob("asset.*/handler.py"))
    assert len(handlers) == 1
    template = json.loads((out / "UserStack.template.json").read_text())
    assert any(r["Type"] == "Custom::PersonalizeBatchInferenceJob" for r in template["Resources"].values())
