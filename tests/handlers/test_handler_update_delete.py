"""Update (replace, retag in place, new wait handle) and Delete (always a quick no-op)."""

from __future__ import annotations

import json

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
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    message = str(raised.value)
    assert "'nightly' has an explicit JobName, so it cannot be replaced: NumResults changed" in message
    assert "Remove job_name" in message
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
def test_delete_succeeds_without_any_api_call(stubs: Stubs, physical_id: str) -> None:
    event = cfn_event("Delete", base_properties(), physical_id=physical_id)
    assert handler.handle_event(event, stubs.clients, "req-1") == {"PhysicalResourceId": physical_id}
    assert stubs.calls == []
