"""Where the deploy-time handler code lives, in a wheel and in a repo checkout."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aws_cdk only when the code is asked for: the rehearsal reads the directory alone
    from aws_cdk import aws_lambda as lambda_

_PACKAGE_DIR = Path(__file__).resolve().parent

# Files that must never reach the asset: they would make the asset hash depend on who ran the tests.
_ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".ruff_cache", "*.md"]


def handler_code_dir() -> Path:
    """The directory holding ``handler.py`` and ``monitor.py``.

    An installed wheel carries it as ``constructs_lib/_lambda`` (see pyproject.toml); a checkout keeps
    it at the repo root as ``lambda/``.
    """
    for candidate in (_PACKAGE_DIR / "_lambda", _PACKAGE_DIR.parent / "lambda"):
        if (candidate / "handler.py").is_file():
            return candidate
    raise FileNotFoundError(
        "constructs_lib: the handler code is missing: expected constructs_lib/_lambda/handler.py in an "
        "installed wheel or lambda/handler.py in a checkout. Reinstall the package."
    )


def handler_code() -> lambda_.Code:
    """The handler code as a Lambda asset, with a content hash that ignores caches."""
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Code.from_asset(str(handler_code_dir()), exclude=_ASSET_EXCLUDES)
