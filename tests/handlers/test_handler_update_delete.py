"""Update (replace, retag in place, new wait handle) and Delete (always a quick no-op)."""

from __future__ import annotations

import json
from datetime import datetime

import handler
import job_logic
import pytest
from botocore.stub import ANY

from .testkit import (
    STATE_MACHINE_ARN,
    Stubs,
    arn_of,
    base_properties,
    cfn_event,
    describe_response,
    name_of,
    request_of,
    start_execution_response,
)

OLD_HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/old?sig=1"
NEW_HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/new?sig=2"


def update_event(old: dict[str, object], new: dict[str, object]) -> dict[str, object]:
    return cfn_event("Update", new, old_properties=old, physical_id=arn_of(name_of(old)))


def expect_monitor_stop(stubs: Stubs, execution: str | None = None) -> None:
    arn = ANY if execution is None else job_logic.execution_arn(STATE_MACHINE_ARN, execution)
    expected = {"executionArn": arn, "error": "ResourceGone", "cause": ANY}
    stubs.stepfunctions.add_response("stop_execution", {"stopDate": datetime(2024, 5, 1)}, expected)


def expect_monitor_start(stubs: Stubs) -> None:
    stubs.stepfunctions.add_response(
        "start_execution",
        start_execution_response(),
        {"stateMachineArn": STATE_MACHINE_ARN, "name": ANY, "input": ANY},
    )


def test_job_defining_change_creates_a_new_job_under_a_new_physical_id(stubs: Stubs) -> None:
    old, new = base_properties(), base_properties(NumResults="50")
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(new))}, request_of(new)
    )
    expect_monitor_start(stubs)
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(new)) != arn_of(name_of(old))


def test_replacing_a_job_with_an_unchanged_explicit_name_is_refused_clearly(stubs: Stubs) -> None:
    old, new = base_properties(JobName="nightly"), base_properties(JobName="nightly", NumResults="50")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    message = str(raised.value)
    assert "'nightly' has an explicit JobName, so it cannot be replaced: NumResults changed" in message
    assert "Remove job_name" in message
    assert [call for call in stubs.calls if call[0] != "DescribeBatchInferenceJob"] == []


def test_rollback_to_the_job_an_explicit_name_already_has_keeps_it(stubs: Stubs) -> None:
    # CloudFormation rolls a refused update back: the "new" properties are the job's own again.
    refused, original = (
        base_properties(JobName="nightly", NumResults="50"),
        base_properties(JobName="nightly"),
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(original), "ACTIVE")
    )
    result = handler.handle_event(update_event(refused, original), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn_of("nightly"), "ACTIVE")
    assert "CreateBatchInferenceJob" not in [call[0] for call in stubs.calls]


def test_rollback_to_a_generated_name_keeps_the_original_job(stubs: Stubs) -> None:
    original, failed = base_properties(), base_properties(NumResults="50")
    event = cfn_event("Update", original, old_properties=failed, physical_id=arn_of(name_of(original)))
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(original), "ACTIVE")
    )
    result = handler.handle_event(event, stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(original))
    assert "CreateBatchInferenceJob" not in [call[0] for call in stubs.calls]


def test_replacement_decided_at_deploy_time_without_a_new_wait_handle_is_refused(stubs: Stubs) -> None:
    # A parameter changed the input path; the template, and so the WaitCondition, stayed the same.
    old = base_properties(WaitHandle=OLD_HANDLE)
    new = base_properties(WaitHandle=OLD_HANDLE, InputPath="s3://in-bucket/other/")
    with pytest.raises(handler.JobResourceError, match=r"Change run_token together with such a value"):
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert stubs.calls == []


def test_replacing_a_job_with_a_changed_explicit_name_creates_the_new_job(stubs: Stubs) -> None:
    old, new = base_properties(JobName="nightly"), base_properties(JobName="nightly-2", NumResults="50")
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of("nightly-2")}
    )
    expect_monitor_start(stubs)
    assert handler.handle_event(update_event(old, new), stubs.clients, "req-1")[
        "PhysicalResourceId"
    ] == arn_of("nightly-2")


def test_tags_only_change_retags_in_place_under_the_same_physical_id(stubs: Stubs) -> None:
    old = base_properties(Tags=[{"Key": "team", "Value": "recs"}, {"Key": "old", "Value": "1"}])
    new = base_properties(Tags=[{"Key": "team", "Value": "ml"}])
    arn = arn_of(name_of(old))
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.personalize.add_response(
        "tag_resource", {}, {"resourceArn": arn, "tags": [{"tagKey": "team", "tagValue": "ml"}]}
    )
    stubs.personalize.add_response("untag_resource", {}, {"resourceArn": arn, "tagKeys": ["old"]})
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "ACTIVE")
    assert stubs.params_of("StartExecution") == []


def test_tags_of_a_job_still_queued_cannot_change_and_say_why(stubs: Stubs) -> None:
    old, new = base_properties(), base_properties(Tags=[{"Key": "team", "Value": "ml"}])
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "ResourceNotFoundException", "no such job"
    )
    with pytest.raises(handler.JobResourceError, match=r"still QUEUED .* tags cannot change yet"):
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")


def test_new_wait_handle_keeps_the_job_and_starts_a_monitor_for_the_new_handle(stubs: Stubs) -> None:
    old, new = base_properties(WaitHandle=OLD_HANDLE), base_properties(WaitHandle=NEW_HANDLE)
    arn = arn_of(name_of(old))
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "IN PROGRESS")
    )
    expect_monitor_stop(stubs, job_logic.execution_name(name_of(old), OLD_HANDLE, arn))
    expect_monitor_start(stubs)
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "IN PROGRESS")
    (params,) = stubs.params_of("StartExecution")
    assert params["name"] == job_logic.execution_name(name_of(old), NEW_HANDLE, arn)
    state = json.loads(params["input"])
    assert (state["waitHandle"], state["created"], state["status"]) == (NEW_HANDLE, True, "IN PROGRESS")


def test_new_wait_handle_for_a_queued_job_hands_the_create_request_to_the_new_monitor(stubs: Stubs) -> None:
    old, new = base_properties(WaitHandle=OLD_HANDLE), base_properties(WaitHandle=NEW_HANDLE)
    stubs.personalize.add_client_error(
        "describe_batch_inference_job", "ResourceNotFoundException", "no such job"
    )
    expect_monitor_stop(stubs)
    expect_monitor_start(stubs)
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert result["Data"]["Status"] == "QUEUED"
    state = json.loads(stubs.params_of("StartExecution")[0]["input"])
    assert (state["created"], state["createRequest"]) == (False, request_of(new))


def test_change_of_non_defining_prefix_only_keeps_everything(stubs: Stubs) -> None:
    old, new = base_properties(), base_properties(JobNamePrefix="Renamed")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(old))
    assert result["Data"]["JobName"] == name_of(old)


@pytest.mark.parametrize(
    "physical_id",
    [
        "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/RecsStack-Job-0123456789ab",
        "RecsStack-Job-7bfc1a6e",
    ],
    ids=["job-arn", "failed-create-id"],
)
def test_delete_succeeds_without_any_personalize_call(stubs: Stubs, physical_id: str) -> None:
    if physical_id.startswith("arn:"):
        expect_monitor_stop(stubs)
    event = cfn_event("Delete", base_properties(), physical_id=physical_id)
    assert handler.handle_event(event, stubs.clients, "req-1") == {"PhysicalResourceId": physical_id}
    assert [call for call in stubs.calls if call[0] != "StopExecution"] == []


def test_delete_stops_the_jobs_monitor_so_a_queued_job_is_never_created(stubs: Stubs) -> None:
    properties = base_properties(WaitHandle=OLD_HANDLE)
    arn = arn_of(name_of(properties))
    execution = job_logic.execution_name(name_of(properties), OLD_HANDLE, arn)
    expect_monitor_stop(stubs, execution)
    handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1")
    (params,) = stubs.params_of("StopExecution")
    assert (
        params["executionArn"]
        == f"arn:aws:states:us-east-1:123456789012:execution:RecsStack-Monitor:{execution}"
    )


def test_delete_succeeds_when_the_monitor_cannot_be_stopped(stubs: Stubs) -> None:
    stubs.stepfunctions.add_client_error("stop_execution", "ExecutionDoesNotExist", "gone")
    arn = arn_of(name_of(base_properties()))
    event = cfn_event("Delete", base_properties(), physical_id=arn)
    assert handler.handle_event(event, stubs.clients, "req-1") == {"PhysicalResourceId": arn}
