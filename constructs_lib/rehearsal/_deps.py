"""The rehearsal's own dependencies (boto3, moto) are an optional extra of the library."""

from __future__ import annotations

import importlib

INSTALL_HINT = "pip install 'constructs-lib[rehearsal]'"


class MissingDependencyError(ImportError):
    """boto3 or moto is missing."""


def require() -> None:
    """Fail with a clear message naming the extra when boto3 or moto cannot be imported."""
    missing = []
    for module in ("boto3", "moto.server"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module.split(".")[0])
    if missing:
        raise MissingDependencyError(
            f"The rehearsal needs {' and '.join(missing)}, which the library alone does not install. "
            f"Install them with: {INSTALL_HINT}"
        )
