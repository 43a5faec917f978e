"""The rehearsal's CloudFormation stand-in: DescribeStacks answers with the engine's stack status at that
moment, over loopback and in the fuzzers' in-process transport alike, and IAM is enforced on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from constructs_lib.rehearsal import iam
from constructs_lib.rehearsal.cloudformation import StackStatus
from constructs_lib.rehearsal.sandbox import Sandbox
from tests.fuzz.transport import in_process

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/Family/1f2e3d4c-0000-1111-2222-333344445555"
OTHER = "arn:aws:cloudformation:us-east-1:123456789012:stack/Other/9f8e7d6c-0000-1111-2222-333344445555"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(region="us-east-1") as made:
        yield made


def _client(sandbox: Sandbox) -> Any:
    return boto3.client(
        "cloudformation",
        region_name="us-east-1",
        endpoint_url=sandbox.server.url,
        aws_access_key_id="ASIA123456789012REHEARSAL",
        aws_secret_access_key="rehearsal",
    )


def _status(sandbox: Sandbox, name: str) -> str:
    return str(_client(sandbox).describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def test_describe_stacks_answers_the_status_of_the_moment(sandbox: Sandbox) -> None:
    stacks = [StackStatus("Family", STACK_ID, "UPDATE_IN_PROGRESS")]
    sandbox.cloudformation.source = lambda: list(stacks)
    assert _status(sandbox, STACK_ID) == "UPDATE_IN_PROGRESS"
    stacks[0] = StackStatus("Family", STACK_ID, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    assert _status(sandbox, "Family") == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    with in_process(sandbox.server):
        assert _status(sandbox, STACK_ID) == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    stacks.clear()  # deleted: still described by its StackId, not by its name
    assert _status(sandbox, STACK_ID) == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as raised:
        _client(sandbox).describe_stacks(StackName="Family")
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_an_unknown_stack_is_the_same_error_in_process_and_over_loopback(sandbox: Sandbox) -> None:
    sandbox.cloudformation.source = list

    def error() -> dict[str, Any]:
        with pytest.raises(ClientError) as raised:
            _client(sandbox).describe_stacks(StackName=OTHER)
        return dict(raised.value.response["Error"])

    over_loopback = error()
    with in_process(sandbox.server):
        assert error() == over_loopback
    assert over_loopback["Code"] == "ValidationError" and OTHER in over_loopback["Message"]


def _verdict(granted: str, asked: str) -> bool:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": granted}],
    }
    return iam.check_call(
        "cloudformation:DescribeStacks",
        {"StackName": asked},
        principal="arn:aws:iam::123456789012:role/Check",
        identity_policies={"CheckPolicy": policy},
        partition="aws",
        region="us-east-1",
        account="123456789012",
    ).allowed


def test_describe_stacks_is_allowed_on_the_granted_stack_only() -> None:
    assert _verdict(STACK_ID, STACK_ID)
    assert not _verdict(STACK_ID, OTHER)
    # By name the ARN's id is unknown: only a grant on every id of that name allows it.
    assert not _verdict(STACK_ID, "Family")
    assert _verdict("arn:aws:cloudformation:us-east-1:123456789012:stack/Family/*", "Family")
