"""The built wheel works outside the repo: it carries the handler code and synthesizes a job."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

from tests.apps import REPO

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("constructs_lib-*.whl")
    return built


def test_wheel_carries_the_handler_code_and_type_marker(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "constructs_lib/py.typed" in names
    assert "constructs_lib/_lambda/handler.py" in names
    assert "constructs_lib/_lambda/monitor.py" in names
    assert not [n for n in names if "__pycache__" in n]


def test_installed_wheel_synthesizes_a_job_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "user-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
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
