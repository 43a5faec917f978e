"""Set-up for `make test`, done once per checkout (make stamps it): what the tests need installed, so
the test run itself only tests.

- mypy's cache of the dependencies' types: reading aws-cdk-lib's and boto3's stubs takes a minute and
  does not depend on this project's code (the test still checks every file of ours, strict);
- the virtualenvs with the old botocore releases the handler must still work with;
- the wheelhouse the fresh-project test installs from offline (the packages the library declares);
- headless Chromium (Debian's package), which renders the rehearsal's HTML report in a test.

Each part is skipped when already done; run it again after changing the dependencies.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHECKED = ("constructs_lib", "lambda")


def third_party_imports() -> list[str]:
    """Every module outside this project that the type-checked code imports (as written there)."""
    local = {path.stem for folder in CHECKED for path in (REPO / folder).glob("*.py")} | {
        path.name for folder in CHECKED for path in (REPO / folder).iterdir() if path.is_dir()
    }
    local |= {"constructs_lib", "lambda"}
    stdlib = set(sys.stdlib_module_names)
    found: set[str] = set()
    for folder in CHECKED:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in local and top not in stdlib and top != "__future__":
                        found.add(name)
    return sorted(found)


def importable(name: str) -> bool:
    """``name`` is a module (not a class imported from one): mypy is told to import modules only."""
    parts = name.split(".")
    base = Path(sysconfig.get_paths()["purelib"]).joinpath(*parts)
    return (
        base.with_suffix(".py").exists()
        or (base / "__init__.py").exists()
        or base.with_suffix(".pyi").exists()
    )


def warm_mypy_cache() -> None:
    modules = [name for name in third_party_imports() if importable(name)]
    with tempfile.TemporaryDirectory() as directory:
        warm = Path(directory) / "warm_dependency_types.py"
        warm.write_text("".join(f"import {name}\n" for name in modules))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), str(warm)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
    # The dependencies' own findings do not matter here; a crash does.
    if result.returncode not in (0, 1):
        raise SystemExit(f"mypy could not read the dependencies' types:\n{result.stdout}{result.stderr}")
    print(f"  mypy cache of {len(modules)} dependency modules: {time.monotonic() - started:.0f} s")


def old_sdk_venvs() -> None:
    from tests.handlers.test_old_sdk import OLD_SDKS, ensure_venv

    for sdk in OLD_SDKS:
        ensure_venv(sdk)
    print(f"  old-SDK virtualenvs: {', '.join(sdk.venv for sdk in OLD_SDKS)}")


def wheelhouse() -> None:
    from tests.test_wheel import fill_wheelhouse

    print(f"  wheelhouse for the fresh-project test: {fill_wheelhouse()}")


# ---- headless Chromium for the HTML report's test (added for issue 22's `--html`; kept apart from the rest)

CHROMIUM = Path("/usr/bin/chromium")


def chromium() -> None:
    """Debian's `chromium`, which tests/test_rehearsal_html.py runs headless to screenshot the rehearsal's
    HTML report. Installed with apt-get when missing (about 30 s, 112 MB, on a Debian 12 machine); when it
    cannot be, that test fails and says so (it never skips), and the rest of the set-up goes on."""
    if CHROMIUM.exists():
        print(f"  chromium: {CHROMIUM} already installed")
        return
    started = time.monotonic()
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([*apt, *args], env=env, capture_output=True, text=True, check=False)
        except OSError as error:  # no apt-get (not Debian), no sudo
            return subprocess.CompletedProcess([*apt, *args], 127, "", str(error))

    result = run("install", "-y", "-q", "chromium")
    if result.returncode != 0:  # a fresh machine's package lists may be missing or stale
        run("update", "-q")
        result = run("install", "-y", "-q", "chromium")
    if result.returncode != 0 or not CHROMIUM.exists():
        tail = "\n    ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        print(
            f"  chromium: NOT installed ({' '.join(apt)} install chromium failed); "
            f"tests/test_rehearsal_html.py will fail until it is:\n    {tail}"
        )
        return
    print(f"  chromium: installed {CHROMIUM} in {time.monotonic() - started:.0f} s")


def main() -> None:
    print("Preparing the test run (once per checkout):")
    warm_mypy_cache()
    old_sdk_venvs()
    wheelhouse()
    chromium()


if __name__ == "__main__":
    main()
