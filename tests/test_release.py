"""What a release ships besides the code: the license, the changelog and one version number."""

from __future__ import annotations

import re
import sys

from tests.apps import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
CHANGELOG = (REPO / "CHANGELOG.md").read_text()
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$", re.MULTILINE)


def test_license_is_the_apache_2_0_text_pyproject_declares() -> None:
    text = (REPO / "LICENSE").read_text()
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "LICENSE" in PYPROJECT["project"]["license-files"]
    for part in ("Apache License", "Version 2.0, January 2004", "END OF TERMS AND CONDITIONS"):
        assert part in text
    assert len(text.splitlines()) > 170  # the full text, not a pointer to it


def test_newest_changelog_release_is_the_version_of_pyproject() -> None:
    releases = RELEASE.findall(CHANGELOG)
    assert releases, "CHANGELOG.md has no '## [x.y.z] - date' heading"
    assert releases[0][0] == VERSION, (
        f"pyproject.toml says {VERSION}, CHANGELOG.md's newest is {releases[0][0]}"
    )


def test_changelog_releases_are_newest_first_and_dated_but_the_newest() -> None:
    releases = RELEASE.findall(CHANGELOG)
    versions = [tuple(int(n) for n in version.split(".")) for version, _ in releases]
    assert versions == sorted(versions, reverse=True)
    assert all(date != "Unreleased" for _, date in releases[1:])


def test_changelog_states_the_re_run_rule_and_every_release_after_the_first_its_re_runs() -> None:
    assert "tests/golden/run_identities.json" in CHANGELOG
    sections = RELEASE.split(CHANGELOG)
    # split gives [preamble, version, date, body, version, date, body, ...]
    bodies = {sections[i]: sections[i + 2] for i in range(1, len(sections), 3)}
    for version, body in bodies.items():
        if version != "0.1.0":
            assert "### Re-runs" in body, f"{version} does not say which jobs re-run (or 'None')"


def test_readme_names_no_stale_version() -> None:
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"cdk_personalize_jobs-(\d+\.\d+\.\d+)", readme))
    assert named <= {VERSION}, f"README.md names {named}, the version is {VERSION}"
