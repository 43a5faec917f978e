"""Regression tests for the lifecycle defects CloudFormation's own paths exposed (issue 10).

Each test is one defect, on the path CloudFormation takes: an update that keeps a job, its rollback
twin (old and new swapped), a re-sent request, a monitor restarted for a job that ended.
"""

from __future__ import annotations

import pytest

from .testkit import (
    FILTER_ARN,
    KEY_ARN,
    NEW_HANDLE,
    OLD_HANDLE,
    Stubs,
    arn_of,
    base_properties,
    cfn_event,
    describe_response,
    execution_of,
    name_of,
    request_of,
)

import handler  # isort: skip  (on sys.path once testkit is imported)


def update(
    stubs: Stubs, old: dict[str, object], new: dict[str, object], physical_id: str | None = None
) -> dict:
    event = cfn_event(
        "Update",
        new,
        old_properties=old,
        physical_id=physical_id or arn_of(name_of(old)),  # type: ignore[arg-type]
    )
    return handler.handle_event(event, stubs.clients, "req-1")


# --- 1. an update that keeps a job with an explicit name signals its new handle --------------------------


def test_explicit_name_kept_under_a_new_wait_handle_gets_a_monitor_for_that_handle(stubs: Stubs) -> None:
    old = base_properties(JobName="nightly", WaitHandle=OLD_HANDLE, TimeoutSeconds="21480")
    new = base_properties(JobName="nightly", WaitHandle=NEW_HANDLE, TimeoutSeconds="43080")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of("nightly"))
    stubs.expect_start()
    result = update(stubs, old, new)
    assert result["PhysicalResourceId"] == arn_of("nightly")
    state = stubs.monitor_input()
    # The job has ended: the new monitor's first check signals the new handle at once.
    assert (state["waitHandle"], state["status"], state["timeoutSeconds"]) == (NEW_HANDLE, "ACTIVE", 43080)


@pytest.mark.parametrize(
    ("old_extra", "new_extra", "named"),
    [
        ({"FilterArn": FILTER_ARN}, {}, "FilterArn (filterArn)"),
        ({"ItemExplorationConfig": {"explorationWeight": "0.3"}}, {}, "ItemExplorationConfig"),
        ({"RankingInfluence": {"POPULARITY": "0.5"}}, {}, "RankingInfluence"),
        ({"InputKmsKeyArn": KEY_ARN}, {}, "InputKmsKeyArn (jobInput.s3DataSource.kmsKeyArn)"),
        ({}, {"OutputKmsKeyArn": KEY_ARN}, "OutputKmsKeyArn (jobOutput.s3DataDestination.kmsKeyArn)"),
        ({"InputPath": "s3://in-bucket/users/"}, {"InputPath": "s3://in-bucket/users"}, "InputPath"),
    ],
)
def test_explicit_name_whose_definition_really_changed_is_refused_naming_the_difference(
    stubs: Stubs, old_extra: dict[str, object], new_extra: dict[str, object], named: str
) -> None:
    old = base_properties(JobName="nightly", WaitHandle=OLD_HANDLE, **old_extra)
    new = base_properties(JobName="nightly", WaitHandle=NEW_HANDLE, **new_extra)
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of("nightly"))
    with pytest.raises(handler.JobResourceError, match="already exists with another definition") as raised:
        update(stubs, old, new)
    assert named in str(raised.value)
    assert "StartExecution" not in stubs.operations()


# --- 3. no update fails because a job is queued (wait=False) ---------------------------------------------


def test_tags_only_update_of_a_queued_job_succeeds_and_its_create_carries_the_new_tags(stubs: Stubs) -> None:
    old = base_properties(Tags=[{"Key": "team", "Value": "recs"}])
    new = base_properties(Tags=[{"Key": "team", "Value": "growth"}])
    arn = arn_of(name_of(old))
    stubs.personalize.add_client_error("describe_batch_inference_job", "ResourceNotFoundException", "not yet")
    stubs.expect_first_delivery_of(arn)
    stubs.expect_start(execution_of(arn, "the-create"))
    result = update(stubs, old, new)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "QUEUED")
    state = stubs.monitor_input()
    assert state["createRequest"]["tags"] == [{"tagKey": "team", "tagValue": "growth"}]
    assert "TagResource" not in stubs.operations()


def test_the_rollback_twin_of_a_queued_jobs_tags_update_succeeds_too(stubs: Stubs) -> None:
    old = base_properties(Tags=[{"Key": "team", "Value": "growth"}])
    new = base_properties(Tags=[{"Key": "team", "Value": "recs"}])
    stubs.personalize.add_client_error("describe_batch_inference_job", "ResourceNotFoundException", "not yet")
    stubs.expect_first_delivery_of(arn_of(name_of(old)))
    stubs.expect_start()
    assert update(stubs, old, new)["Data"]["Status"] == "QUEUED"


def test_a_new_timeout_for_a_queued_job_keeps_it_queued_under_a_new_monitor(stubs: Stubs) -> None:
    old, new = base_properties(TimeoutSeconds="3480"), base_properties(TimeoutSeconds="21480")
    stubs.personalize.add_client_error("describe_batch_inference_job", "ResourceNotFoundException", "not yet")
    stubs.expect_first_delivery_of(arn_of(name_of(old)))
    stubs.expect_start()
    update(stubs, old, new)
    state = stubs.monitor_input()
    assert (state["created"], state["timeoutSeconds"]) == (False, 21480)


# --- 4. a rollback to the job the resource had always succeeds -------------------------------------------


def test_rollback_to_a_job_that_failed_adopts_it_and_its_monitor_reports_the_failure(stubs: Stubs) -> None:
    failed, replacement = (
        base_properties(WaitHandle=OLD_HANDLE),
        base_properties(NumResults="50", WaitHandle=NEW_HANDLE),
    )
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request_of(failed), "CREATE FAILED", "Input data not found"),
    )
    stubs.expect_first_delivery()
    stubs.expect_start()
    stubs.expect_list_monitors()  # the replacement's, stopped as the resource moves back
    result = update(stubs, replacement, failed)  # the rollback twin: the failed job's properties are "new"
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (
        arn_of(name_of(failed)),
        "CREATE FAILED",
    )
    assert stubs.monitor_input()["waitHandle"] == OLD_HANDLE


def test_rollback_without_a_wait_handle_to_a_failed_job_succeeds(stubs: Stubs) -> None:
    failed, replacement = base_properties(), base_properties(NumResults="50")
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(failed), "CREATE FAILED", "bad input")
    )
    stubs.expect_first_delivery()
    stubs.expect_start()
    stubs.expect_list_monitors()
    assert update(stubs, replacement, failed)["Data"]["Status"] == "CREATE FAILED"


# --- 5. a monitor is never mistaken for one that runs ------------------------------------------------------


def test_each_request_starts_its_own_monitor_so_a_closed_execution_never_blocks_a_new_one() -> None:
    arn = arn_of(name_of(base_properties()))
    create, update_, revert = (execution_of(arn, request) for request in ("create", "update", "revert"))
    assert len({create, update_, revert}) == 3


def test_a_monitor_for_a_queued_job_replaces_the_monitor_it_found_running(stubs: Stubs) -> None:
    old, new = base_properties(TimeoutSeconds="3480"), base_properties(TimeoutSeconds="21480")
    running = execution_of(arn_of(name_of(old)), "the-create")
    stubs.personalize.add_client_error("describe_batch_inference_job", "ResourceNotFoundException", "not yet")
    stubs.expect_first_delivery_of(arn_of(name_of(old)))
    stubs.expect_start(running)
    update(stubs, old, new)
    assert len(stubs.params_of("StopExecution")) == 1
    assert stubs.params_of("StartExecution")[0]["name"] != running
