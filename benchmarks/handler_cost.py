"""What the deploy-time handler costs: asset size and cold import time (boto3 excluded).

- Asset: the files of ``handler_code_dir()`` that CDK packages (the same excludes as
  ``constructs_lib._assets._ASSET_EXCLUDES``), in bytes, and zipped as the asset is uploaded.
- Import: ``import handler`` / ``import monitor`` from a copy of the packaged files, in a fresh
  interpreter whose boto3 and botocore are imported before the timer starts; median of several
  processes. "cold" compiles the handler modules from source, as in Lambda (the asset carries no
  ``*.pyc`` and ``/var/task`` is read-only); "with bytecode" reuses a ``__pycache__`` written by an
  earlier process.

    python benchmarks/handler_cost.py
"""

from __future__ import annotations

import fnmatch
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import _jsii_env  # noqa: F401  (before aws_cdk: silences the jsii Node banner)
from _table import Table, kilobytes

from constructs_lib._assets import _ASSET_EXCLUDES, handler_code_dir

MODULES = ("handler", "monitor")
RUNS = 7
# What the handlers import from the SDK; all of it is loaded before the timer starts.
SDK_MODULES = ("boto3", "botocore.session", "botocore.config", "botocore.exceptions")

# Runs in the child: argv = module, code dir, "cold" or "bytecode". Prints the seconds the SDK took,
# then the seconds the module took.
_TIMED_IMPORT = f"""
import importlib, sys, time
started = time.perf_counter()
for name in {SDK_MODULES!r}:
    importlib.import_module(name)
print(time.perf_counter() - started)
module, code_dir, mode = sys.argv[1:4]
sys.dont_write_bytecode = mode == "cold"
sys.path.insert(0, code_dir)
started = time.perf_counter()
importlib.import_module(module)
print(time.perf_counter() - started)
"""


# ---------------------------------------------------------------- asset size


def _excluded(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in _ASSET_EXCLUDES)


def packaged_files(root: Path) -> list[Path]:
    """The files CDK stages for the handler asset, relative to ``root``, sorted."""
    return sorted(
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and not _excluded(path.relative_to(root))
    )


def zipped_size(root: Path, files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in files:
            archive.write(root / relative, relative.as_posix())
    return buffer.getbuffer().nbytes


@dataclass(frozen=True)
class AssetSize:
    files: int
    bytes: int
    zipped_bytes: int
    python_files: int
    other_files: tuple[str, ...]


def asset_size(root: Path | None = None) -> AssetSize:
    root = root or handler_code_dir()
    files = packaged_files(root)
    return AssetSize(
        files=len(files),
        bytes=sum((root / f).stat().st_size for f in files),
        zipped_bytes=zipped_size(root, files),
        python_files=sum(1 for f in files if f.suffix == ".py"),
        other_files=tuple(f.as_posix() for f in files if f.suffix != ".py"),
    )


def asset_table(size: AssetSize) -> Table:
    rows = [
        (
            "files",
            str(size.files),
            f"{size.python_files} Python, and {', '.join(size.other_files) or 'nothing else'}",
        ),
        ("bytes", f"{size.bytes:,}", f"{kilobytes(size.bytes)} KB"),
        ("zipped bytes", f"{size.zipped_bytes:,}", f"{kilobytes(size.zipped_bytes)} KB (deflate, level 9)"),
    ]
    return Table.of(f"Handler asset ({handler_code_dir().name}/ as packaged)", ("", "value", "note"), rows)


# ---------------------------------------------------------------- import time


def stage(root: Path, files: list[Path], into: Path) -> Path:
    """A copy of the packaged files, as Lambda unpacks them: no ``__pycache__``."""
    for relative in files:
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, into / relative)
    return into


@dataclass(frozen=True)
class ImportTime:
    sdk_seconds: float
    module_seconds: float


def import_seconds(module: str, code_dir: Path, mode: str) -> ImportTime:
    """One fresh interpreter (isolated mode: no user site, no PYTHON* variables)."""
    completed = subprocess.run(
        [sys.executable, "-I", "-c", _TIMED_IMPORT, module, str(code_dir), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=code_dir,
    )
    sdk, module_ = (float(line) for line in completed.stdout.split())
    return ImportTime(sdk, module_)


def import_samples(module: str, runs: int) -> tuple[list[ImportTime], list[ImportTime]]:
    """(cold, with bytecode) samples, from a fresh copy of the asset."""
    root = handler_code_dir()
    files = packaged_files(root)
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as temp:
        code_dir = stage(root, files, Path(temp))
        cold = [import_seconds(module, code_dir, "cold") for _ in range(runs)]
        import_seconds(module, code_dir, "bytecode")  # writes __pycache__
        cached = [import_seconds(module, code_dir, "bytecode") for _ in range(runs)]
    return cold, cached


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def import_table(runs: int = RUNS) -> Table:
    rows = []
    sdk: list[float] = []
    for module in MODULES:
        cold, cached = import_samples(module, runs)
        rows.append(
            (
                f"import {module}",
                _median_ms([t.module_seconds for t in cold]),
                _median_ms([t.module_seconds for t in cached]),
            )
        )
        sdk += [t.sdk_seconds for t in (*cold, *cached)]
    rows.append(("for scale, not counted above: import boto3 + botocore", "", _median_ms(sdk)))
    header = ("module", "cold ms (no bytecode, as in Lambda)", "with bytecode ms")
    return Table.of(f"Handler import time, boto3 excluded (median of {runs} fresh processes)", header, rows)


def main() -> None:
    for table in (asset_table(asset_size()), import_table()):
        print(table.text(), end="\n\n")


if __name__ == "__main__":
    main()
