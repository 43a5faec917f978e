"""The rehearsal's own dependencies (boto3, moto) are an optional extra of the library."""

from __future__ import annotations

import importlib
import json
import shlex
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "cdk-personalize-jobs"
EXTRA = "rehearsal"
# The library is not on PyPI: it installs from a checkout (or a wheel built from one).
CHECKOUT_PLACEHOLDER = "/path/to/cdk-personalize-jobs"


class MissingDependencyError(ImportError):
    """boto3 or moto is missing."""


def install_hint() -> str:
    """The pip command that adds the rehearsal's extra to this installation of the library.

    It installs from where this installation came from (PEP 610 ``direct_url.json``): the checkout
    (with ``-e`` again for an editable install), the wheel file or the VCS URL; by name for an install
    from a package index. Otherwise (not installed, or its source is gone) from the checkout this module
    sits in, else from a placeholder path to a checkout.
    """
    requirement = _installed_from()
    if requirement is None:
        root = Path(__file__).resolve().parents[2]
        requirement = f"{root if _is_our_checkout(root) else CHECKOUT_PLACEHOLDER}[{EXTRA}]"
    editable = requirement.startswith("-e ")
    requirement = requirement.removeprefix("-e ")
    return f"pip install {'-e ' if editable else ''}{shlex.quote(requirement)}"


def _installed_from() -> str | None:
    """The requirement that reinstalls this distribution from its source, with the extra."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return f"{DISTRIBUTION}[{EXTRA}]"  # from a package index
    direct = json.loads(text)
    url = str(direct.get("url", ""))
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        if not path.exists():
            return None
        editable = bool(direct.get("dir_info", {}).get("editable", False))
        return f"{'-e ' if editable else ''}{path}[{EXTRA}]"
    vcs = direct.get("vcs_info", {}).get("vcs")
    return f"{DISTRIBUTION}[{EXTRA}] @ {vcs}+{url}" if vcs else f"{DISTRIBUTION}[{EXTRA}] @ {url}"


def _is_our_checkout(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    return pyproject.is_file() and f'name = "{DISTRIBUTION}"' in pyproject.read_text()


INSTALL_HINT = install_hint()


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
