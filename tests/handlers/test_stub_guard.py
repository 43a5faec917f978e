"""The handler tests' stubbers fail a test whose calls do not match their stubs even where the code under
test caught the error (botocore's stub errors are BotoCoreErrors, caught by handler code as an
AWS error): without that, a wrongly stubbed test could pass with a log line."""

from __future__ import annotations

import contextlib

import boto3
import pytest
from botocore.exceptions import BotoCoreError

from .conftest import StrictStubber

import aws_clients  # isort: skip  (on sys.path once testkit is imported)


def caught_call(call: object) -> None:
    """What handler code does with an AWS error: catch it and carry on."""
    with contextlib.suppress(aws_clients.AwsError):
        call()  # type: ignore[operator]


def test_an_unexpected_call_caught_by_the_code_is_remembered(aws_session: boto3.Session) -> None:
    client = aws_clients.make_clients(aws_session).s3
    mismatches: list[str] = []
    with StrictStubber(client, mismatches):
        caught_call(lambda: client.get_object(Bucket="b", Key="k"))
    assert len(mismatches) == 1 and "Unexpected API Call" in mismatches[0]


def test_other_parameters_caught_by_the_code_are_remembered(aws_session: boto3.Session) -> None:
    client = aws_clients.make_clients(aws_session).s3
    mismatches: list[str] = []
    with StrictStubber(client, mismatches) as stubber:
        stubber.add_response("get_object", {}, {"Bucket": "b", "Key": "expected"})
        caught_call(lambda: client.get_object(Bucket="b", Key="other"))
    assert len(mismatches) == 1 and "Expected parameters" in mismatches[0]


def test_a_matching_call_is_not_a_mismatch(aws_session: boto3.Session) -> None:
    client = aws_clients.make_clients(aws_session).s3
    mismatches: list[str] = []
    with StrictStubber(client, mismatches) as stubber:
        stubber.add_response("get_object", {}, {"Bucket": "b", "Key": "k"})
        client.get_object(Bucket="b", Key="k")
    assert mismatches == []


def test_the_error_is_still_raised_to_the_code(aws_session: boto3.Session) -> None:
    client = aws_clients.make_clients(aws_session).s3
    with StrictStubber(client, []), pytest.raises(BotoCoreError):
        client.get_object(Bucket="b", Key="k")


def test_a_request_sent_by_an_unstubbed_client_is_remembered(
    aws_session: boto3.Session, sent_requests: list[str]
) -> None:
    client = aws_clients.make_clients(aws_session).s3
    caught_call(lambda: client.get_object(Bucket="b", Key="k"))  # to the closed endpoint: refused
    assert sent_requests and all("127.0.0.1:9" in request for request in sent_requests)
    sent_requests.clear()  # this test's own request: the fixture would fail it at teardown
