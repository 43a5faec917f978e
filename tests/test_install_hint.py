"""The rehearsal's missing-dependency message names a pip command that works for this installation.

The library is not on PyPI, so ``pip install 'cdk-personalize-jobs[rehearsal]'`` fails for most users:
the hint reinstalls from where the library came from. That the command really installs the extra is
tested end to end in tests/test_wheel.py, in a fresh project.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from constructs_lib.rehearsal import _deps
from tests.apps import REPO


class _Distribution:
    def __init__(self, direct_url: dict[str, object] | None) -> None:
        self._text = None if direct_url is None else json.dumps(direct_url)

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return self._text


def _installed(monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, object] | None) -> None:
    def distribution(name: str) -> _Distribution:
        assert name == "cdk-personalize-jobs"
        return _Distribution(direct_url)

    monkeypatch.setattr(metadata, "distribution", distribution)


def test_distribution_name_is_the_one_in_pyproject() -> None:
    assert f'name = "{_deps.DISTRIBUTION}"' in (REPO / "pyproject.toml").read_text()


def test_checkout_install_is_reinstalled_from_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _installed(monkeypatch, {"url": tmp_path.as_uri(), "dir_info": {}})
    assert _deps.install_hint() == f"pip install '{tmp_path}[rehearsal]'"


def test_editable_install_stays_editable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _installed(monkeypatch, {"url": tmp_path.as_uri(), "dir_info": {"editable": True}})
    assert _deps.install_hint() == f"pip install -e '{tmp_path}[rehearsal]'"


def test_wheel_install_is_reinstalled_from_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wheel = tmp_path / "cdk_personalize_jobs-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    _installed(monkeypatch, {"url": wheel.as_uri(), "archive_info": {}})
    assert _deps.install_hint() == f"pip install '{wheel}[rehearsal]'"


def test_git_install_is_reinstalled_from_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://git.example.com/team/cdk-personalize-jobs.git"
    _installed(monkeypatch, {"url": url, "vcs_info": {"vcs": "git", "commit_id": "0" * 40}})
    assert _deps.install_hint() == f"pip install 'cdk-personalize-jobs[rehearsal] @ git+{url}'"


def test_index_install_is_reinstalled_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, None)
    assert _deps.install_hint() == "pip install 'cdk-personalize-jobs[rehearsal]'"


def test_a_source_that_is_gone_falls_back_to_this_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _installed(monkeypatch, {"url": (tmp_path / "deleted.whl").as_uri(), "archive_info": {}})
    assert _deps.install_hint() == f"pip install '{REPO}[rehearsal]'"


def test_without_an_installation_or_a_checkout_the_hint_names_a_checkout_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    monkeypatch.setattr(
        _deps, "__file__", str(tmp_path / "site" / "constructs_lib" / "rehearsal" / "_deps.py")
    )
    assert _deps.install_hint() == "pip install '/path/to/cdk-personalize-jobs[rehearsal]'"
