"""Regression tests for issue 19, handler side: each CloudFormation path over the job family that left a
stack stuck (UPDATE_ROLLBACK_FAILED, DELETE_FAILED), billed a second training, or told consumers the
wrong thing. One defect per section; each test failed before its fix.
"""

from __future__ import annotations

from typing import Any

from .testkit import (
    NEW_HANDLE,
    OLD_HANDLE,
    SOLUTION_ARN,
    SOLUTION_VERSION,
    Stubs,
    cfn_event,
    describe_response,
    kind_properties,
    request_of,
)

import handler  # isort: skip  (on sys.path once testkit is imported)

V1 = f"{SOLUTION_ARN}/1111aaaa"
V2 = f"{SOLUTION_ARN}/2222bbbb"
REPLACED_SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs-hrnn"


def sv_properties(**overrides: Any) -> dict[str, Any]:
    return kind_properties(SOLUTION_VERSION, **overrides)


def sv_update(
    stubs: Stubs, old: dict[str, Any], new: dict[str, Any], physical_id: str, **kwargs: Any
) -> dict[str, Any]:
    event = cfn_event("Update", new, old_properties=old, physical_id=physical_id, kind=SOLUTION_VERSION)
    return handler.handle_event(event, stubs.clients, "req-1", **kwargs)


def expect_version(stubs: Stubs, properties: dict[str, Any], arn: str, status: str = "ACTIVE") -> None:
    stubs.personalize.add_response(
        "describe_solution_version",
        describe_response(
            request_of(properties, kind=SOLUTION_VERSION), status, kind=SOLUTION_VERSION, arn=arn
        ),
        {"solutionVersionArn": arn},
    )


# --- 2. a rollback to the resource's own physical id keeps its version ------------------------------------


def test_rollback_of_a_failed_run_token_update_keeps_the_version_without_a_create(stubs: Stubs) -> None:
    # run_token r1 -> r2 failed (no training slot): the physical id stayed V1. The rollback sends the
    # failed update's properties as "old"; the version under the physical id is r1's, and is kept.
    r1 = sv_properties(RunToken="r1", WaitHandle=OLD_HANDLE)
    r2 = sv_properties(RunToken="r2", WaitHandle=NEW_HANDLE)
    expect_version(stubs, r1, V1, "CREATE IN_PROGRESS")
    stubs.expect_first_delivery()
    stubs.expect_start()  # its monitor restarts, for the restored handle
    result = sv_update(stubs, r2, r1, V1)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (V1, "IN PROGRESS")
    assert "CreateSolutionVersion" not in stubs.operations()
    assert "StopExecution" not in stubs.operations()
    assert stubs.monitor_input()["waitHandle"] == OLD_HANDLE


def test_rollback_of_a_refused_solution_replacement_keeps_the_version_and_its_monitor(stubs: Stubs) -> None:
    # A CfnSolution replaced (recipe or name change): the solution ARN changes at deploy time, the
    # template, RunId and WaitHandle do not. The forward update is refused before any training ...
    before = sv_properties(WaitHandle=OLD_HANDLE)
    after = sv_properties(SolutionArn=REPLACED_SOLUTION_ARN, WaitHandle=OLD_HANDLE)
    expect_version(stubs, before, V1)
    try:
        sv_update(stubs, before, after, V1)
    except handler.JobResourceError as error:
        assert "run_token" in str(error)
    else:
        raise AssertionError("a solution replaced under an unchanged WaitCondition was not refused")
    assert "CreateSolutionVersion" not in stubs.operations()
    # ... and its rollback (old and new swapped, the same physical id) keeps V1 and its running monitor.
    expect_version(stubs, before, V1)
    stubs.expect_first_delivery()
    result = sv_update(stubs, after, before, V1)
    assert result["PhysicalResourceId"] == V1
    assert not {"CreateSolutionVersion", "StopExecution", "StartExecution"} & set(stubs.operations())


def test_refusing_a_replaced_solution_names_the_fix(stubs: Stubs) -> None:
    before = sv_properties(WaitHandle=OLD_HANDLE)
    after = sv_properties(SolutionArn=REPLACED_SOLUTION_ARN, WaitHandle=OLD_HANDLE)
    expect_version(stubs, before, V1)
    try:
        sv_update(stubs, before, after, V1)
    except handler.JobResourceError as error:
        message = str(error)
    else:
        raise AssertionError("not refused")
    assert "SolutionArn" in message and "set run_token to a new value" in message
    assert "replaced" in message
