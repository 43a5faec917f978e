"""The rehearsal's CloudFormation stand-in: DescribeStacks answers with the engine's stack status at that
moment, DescribeStackResource with its resources', over loopback and in the fuzzers' in-process transport
alike, and IAM is enforced on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from constructs_lib.rehearsal import iam
from constructs_lib.rehearsal.cloudformation import StackResource, StackStatus
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


JOB = StackResource("Job", "Custom::PersonalizeBatchInferenceJob", "Family-Job-1a2b", "UPDATE_COMPLETE")


def _resource(sandbox: Sandbox, name: str, logical_id: str) -> dict[str, Any]:
    answer = _client(sandbox).describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
    return dict(answer["StackResourceDetail"])


def _resource_error(sandbox: Sandbox, name: str, logical_id: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        _client(sandbox).describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
    return dict(raised.value.response["Error"])


def test_describe_stack_resource_answers_the_resource_as_cloudformation_holds_it(sandbox: Sandbox) -> None:
    stacks = [StackStatus("Family", STACK_ID, "UPDATE_COMPLETE", (JOB,))]
    sandbox.cloudformation.source = lambda: list(stacks)
    for name in (STACK_ID, "Family"):
        detail = _resource(sandbox, name, "Job")
        assert (detail["StackName"], detail["StackId"], detail["LogicalResourceId"]) == (
            "Family",
            STACK_ID,
            "Job",
        )
        assert (detail["PhysicalResourceId"], detail["ResourceType"], detail["ResourceStatus"]) == (
            "Family-Job-1a2b",
            "Custom::PersonalizeBatchInferenceJob",
            "UPDATE_COMPLETE",
        )
        assert detail["LastUpdatedTimestamp"].tzinfo is not None
    with in_process(sandbox.server):
        assert _resource(sandbox, STACK_ID, "Job")["ResourceStatus"] == "UPDATE_COMPLETE"


def test_a_resource_the_stack_does_not_hold_is_cloudformations_validation_error(sandbox: Sandbox) -> None:
    stacks = [StackStatus("Family", STACK_ID, "UPDATE_COMPLETE", (JOB,))]
    sandbox.cloudformation.source = lambda: list(stacks)
    over_loopback = _resource_error(sandbox, STACK_ID, "Removed")
    assert over_loopback["Code"] == "ValidationError"
    assert over_loopback["Message"] == "Resource Removed does not exist for stack Family"
    with in_process(sandbox.server):
        assert _resource_error(sandbox, STACK_ID, "Removed") == over_loopback
    unknown = _resource_error(sandbox, OTHER, "Job")
    assert (unknown["Code"], unknown["Message"]) == (
        "ValidationError",
        f"Stack with id {OTHER} does not exist",
    )


def test_a_deleted_stacks_resources_are_described_by_its_stack_id_as_deleted(sandbox: Sandbox) -> None:
    stacks = [StackStatus("Family", STACK_ID, "UPDATE_COMPLETE", (JOB,))]
    sandbox.cloudformation.source = lambda: list(stacks)
    assert _resource(sandbox, STACK_ID, "Job")["ResourceStatus"] == "UPDATE_COMPLETE"
    stacks.clear()
    assert _resource(sandbox, STACK_ID, "Job")["ResourceStatus"] == "DELETE_COMPLETE"
    assert _resource_error(sandbox, "Family", "Job")["Message"] == "Stack with id Family does not exist"


def test_describe_stack_resource_follows_the_engines_resources() -> None:
    # The driver's source: the engine's resources as it holds them; one the cleanup removed is gone.
    from constructs_lib.rehearsal.driver import Driver
    from constructs_lib.rehearsal.engine import ResourceState

    job = ResourceState("Job", JOB.type, physical_id=JOB.physical_id, status="UPDATE_COMPLETE")
    state = SimpleNamespace(
        name="Family",
        status="UPDATE_COMPLETE",
        resolver=SimpleNamespace(stack_id=STACK_ID),
        resources={"Job": job},
        updated_at=None,
    )
    driver = Driver.__new__(Driver)  # only its engine is read
    driver.engine = SimpleNamespace(stacks={"Family": state})  # type: ignore[assignment]
    (stack,) = driver._stack_statuses()
    assert (stack.status, stack.resources, stack.last_updated) == ("UPDATE_COMPLETE", (JOB,), None)
    state.resources = {}
    assert driver._stack_statuses()[0].resources == ()
    state.updated_at = UPDATED
    assert driver._stack_statuses()[0].last_updated == UPDATED


UPDATED = datetime(2026, 1, 6, 8, 2, 30, 125_000, tzinfo=timezone.utc)


def test_describe_stacks_answers_last_updated_time_only_for_a_stack_updated_once(sandbox: Sandbox) -> None:
    # API Reference, Stack.LastUpdatedTime: "only returned if the stack has been updated at least once".
    stacks = [StackStatus("Family", STACK_ID, "CREATE_COMPLETE")]
    sandbox.cloudformation.source = lambda: list(stacks)
    assert "LastUpdatedTime" not in _client(sandbox).describe_stacks(StackName=STACK_ID)["Stacks"][0]
    stacks[0] = StackStatus("Family", STACK_ID, "UPDATE_COMPLETE", (), UPDATED)
    over_loopback = _client(sandbox).describe_stacks(StackName=STACK_ID)["Stacks"][0]
    assert over_loopback["LastUpdatedTime"] == UPDATED  # milliseconds kept, UTC
    with in_process(sandbox.server):
        assert _client(sandbox).describe_stacks(StackName="Family")["Stacks"][0]["LastUpdatedTime"] == UPDATED
    stacks.clear()  # a deleted stack keeps the time of its last update
    gone = _client(sandbox).describe_stacks(StackName=STACK_ID)["Stacks"][0]
    assert (gone["StackStatus"], gone["LastUpdatedTime"]) == ("DELETE_COMPLETE", UPDATED)


def test_an_update_and_its_rollback_record_when_they_began_on_the_simulated_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from constructs_lib.rehearsal import engine as engine_module
    from constructs_lib.rehearsal.clock import SimClock

    clock = SimClock()
    clock.advance_to(3_600)
    seen: list[Any] = []

    class Run:
        def __init__(self, engine: Any, state: Any, operation: Any, previous: Any = None) -> None:
            self.state = state

        def start(self) -> None:
            seen.append((self.state.status, self.state.updated_at))

    monkeypatch.setattr(engine_module, "_Run", Run)
    monkeypatch.setattr(engine_module, "discover", lambda *args, **kwargs: None)
    engine = engine_module.Engine.__new__(engine_module.Engine)
    engine.sandbox = SimpleNamespace(clock=clock)  # type: ignore[assignment]
    monkeypatch.setattr(engine, "_resolver", lambda *args: SimpleNamespace(stack_id=STACK_ID), raising=False)
    monkeypatch.setattr(engine, "_handles", lambda state: {}, raising=False)
    monkeypatch.setattr(engine, "_register", lambda model: None, raising=False)
    monkeypatch.setattr(engine, "run_until", lambda operation: operation, raising=False)
    artifact = SimpleNamespace(stack_name="Family", template={"Resources": {}})
    state = engine_module.StackState(artifact, {"Resources": {}}, None, None, status="CREATE_COMPLETE")  # type: ignore[arg-type]
    assert state.updated_at is None  # never updated: DescribeStacks has no LastUpdatedTime
    engine.update(state, artifact, None)  # type: ignore[arg-type]
    assert seen == [("UPDATE_IN_PROGRESS", clock.start + timedelta(seconds=3_600))]


def _verdict(granted: str, asked: str, action: str = "cloudformation:DescribeStacks") -> bool:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": granted}],
    }
    params = {"StackName": asked}
    if action == "cloudformation:DescribeStackResource":
        params["LogicalResourceId"] = "Job"
    return iam.check_call(
        action,
        params,
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


def test_describe_stack_resource_is_allowed_on_the_granted_stack_only() -> None:
    action = "cloudformation:DescribeStackResource"
    assert _verdict(STACK_ID, STACK_ID, action)
    assert not _verdict(STACK_ID, OTHER, action)
    assert not _verdict(STACK_ID, "Family", action)
    # DescribeStacks granted does not grant DescribeStackResource.
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": STACK_ID}],
    }
    assert not iam.check_call(
        action,
        {"StackName": STACK_ID, "LogicalResourceId": "Job"},
        principal="arn:aws:iam::123456789012:role/Check",
        identity_policies={"CheckPolicy": policy},
        partition="aws",
        region="us-east-1",
        account="123456789012",
    ).allowed
