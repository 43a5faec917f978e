"""Fixtures for the deploy-time handler tests (lambda/). Nothing here reaches AWS.

- Fake credentials and region, and every endpoint pointed at a closed loopback port: an unstubbed call
  fails at once instead of going out.
- Clients built by the handlers' own factory (so the trimmed Personalize model is loaded), each wrapped
  in an active `botocore.stub.Stubber` that must be drained by the end of the test, and that fails the
  test when a call did not match its stub, even where handler code caught the error: botocore's
  StubAssertionError is a BotoCoreError, which the handlers catch as an AWS error (`AwsError`).
- Any request a botocore client sends (a client left unstubbed, whose connection error the code under
  test would catch as an AWS error too) fails the test.
- A loopback HTTP server standing in for the WaitConditionHandle's presigned URL.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.exceptions import StubResponseError
from botocore.stub import Stubber

from .testkit import CLOSED_ENDPOINT, STATE_MACHINE_ARN, HandleServer, Stubs

import aws_clients  # isort: skip  (on sys.path once testkit is imported)


@pytest.fixture(autouse=True)
def aws_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
    monkeypatch.setenv("MONITOR_STATE_MACHINE_ARN", STATE_MACHINE_ARN)
    monkeypatch.setenv("EVENT_BUS_NAME", "default")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def sent_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every request a botocore client sent (to the closed endpoint): none may be. A call no stubber
    answers fails with EndpointConnectionError, a BotoCoreError the handlers catch as an AWS error."""
    sent: list[str] = []
    send = botocore.endpoint.Endpoint._send

    def recording_send(self: botocore.endpoint.Endpoint, request: Any) -> Any:
        sent.append(f"{request.method} {request.url}")
        return send(self, request)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", recording_send)
    yield sent
    assert not sent, "a request went to an AWS endpoint (caught by the code under test?):\n" + "\n".join(sent)


@pytest.fixture(scope="session")
def aws_session() -> boto3.Session:
    """One session for all tests: its loader caches the (trimmed) service models."""
    return aws_clients.make_session()


class StrictStubber(Stubber):
    """A Stubber that remembers every mismatch it raised (an unexpected call, another operation, other
    parameters), so that the test fails even when the code under test caught the error."""

    def __init__(self, client: Any, mismatches: list[str]) -> None:
        super().__init__(client)
        self.mismatches = mismatches

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        try:
            return super()._get_response_handler(model, params, context, **kwargs)
        except StubResponseError as error:  # unstubbed, another operation, other parameters
            self.mismatches.append(str(error))
            raise

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        try:
            super()._assert_expected_params(model, params, context, **kwargs)
        except StubResponseError as error:  # unstubbed, another operation, other parameters
            self.mismatches.append(str(error))
            raise


@pytest.fixture
def stubs(aws_session: boto3.Session) -> Iterator[Stubs]:
    clients = aws_clients.make_clients(aws_session)
    mismatches: list[str] = []
    result = Stubs(
        clients=clients,
        personalize=StrictStubber(clients.personalize, mismatches),
        stepfunctions=StrictStubber(clients.stepfunctions, mismatches),
        events=StrictStubber(clients.events, mismatches),
        s3=StrictStubber(clients.s3, mismatches),
        cloudformation=StrictStubber(clients.cloudformation, mismatches),
    )

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        result.calls.append((model.name, copy.deepcopy(params)))

    every = (clients.personalize, clients.stepfunctions, clients.events, clients.s3, clients.cloudformation)
    for client in every:
        client.meta.events.register("before-parameter-build", record)
    with result.personalize, result.stepfunctions, result.events, result.s3, result.cloudformation:
        yield result
    stubbers = (result.personalize, result.stepfunctions, result.events, result.s3, result.cloudformation)
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
    assert not mismatches, "a call did not match its stub (caught by the code under test):\n" + "\n".join(
        mismatches
    )


@pytest.fixture
def handle_server() -> Iterator[HandleServer]:
    with HandleServer() as server:
        yield server
