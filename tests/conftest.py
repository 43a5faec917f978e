"""Fixtures shared by the whole suite: no real AWS, quiet jsii, helpers to synthesize once."""

from __future__ import annotations

import os
from collections.abc import Iterator

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


@pytest.fixture(scope="session")
def example_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Every example app synthesized once per session, with all compliance packs attached.

    Synthesis raises on any unacknowledged cdk-nag error or warning, so the fixture itself is the gate.
    """
    from tests.apps import EXAMPLES, synthesize

    return {name: synthesize(name, tmp_path_factory.mktemp(name)) for name in sorted(EXAMPLES)}
