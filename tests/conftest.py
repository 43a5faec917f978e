"""Fixtures shared by the whole suite: no real AWS, quiet jsii, helpers to synthesize once."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

# Set before any test module imports boto3 or aws_cdk.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/demo/1a2b3c4d"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/no-bought"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Re-assert fake credentials for every test, whatever a previous test did."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield


class ExampleApps(Mapping[str, Any]):
    """Example apps synthesized on first use, once per session: an example that fails to synthesize
    fails its own tests (the error lists the compliance findings that stopped it), not every example's."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from tests.apps import EXAMPLES

        self._names = sorted(EXAMPLES)
        self._factory = tmp_path_factory
        self._done: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        from tests.apps import synthesize

        if name not in self._names:
            raise KeyError(name)
        if name not in self._done:
            try:
                self._done[name] = synthesize(name, self._factory.mktemp(name))
            except Exception as error:
                self._done[name] = error
        found = self._done[name]
        if isinstance(found, Exception):
            raise found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@pytest.fixture(scope="session")
def lifecycle_assemblies(tmp_path_factory: pytest.TempPathFactory) -> Mapping[Any, Any]:
    """Every version of the lifecycle app (tests/variants.py), synthesized once per session."""
    from tests.variants import VERSIONS, synthesize_all

    return synthesize_all(tmp_path_factory.mktemp("versions"), VERSIONS)


@pytest.fixture(scope="session")
def example_apps(tmp_path_factory: pytest.TempPathFactory) -> ExampleApps:
    """Every example app synthesized once per session (on first use), with all compliance packs attached.

    Synthesis raises on any unacknowledged cdk-nag error or warning, so the fixture itself is the gate.
    """
    return ExampleApps(tmp_path_factory)
