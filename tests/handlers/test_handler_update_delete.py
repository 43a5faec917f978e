"""Update (replace, keep and retag in place, a new monitor) and Delete (quick, never failing)."""

from __future__ import annotations

import pytest

from .testkit import (
    KEY_ARN,
    NEW_HANDLE,
    OLD_HANDLE,
    REQUEST_ID,
    STATE_MACHINE_ARN,
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
import names  # isort: skip


def update_event(old: dict[str, object], new: dict[str, object], **kwargs: object) -> dict[str, object]:
    return cfn_event("Update", new, old_properties=old, physical_id=arn_of(name_of(old)), **kwargs)  # type: ignore[arg-type]


def test_job_defining_change_creates_a_new_job_under_a_new_physical_id(stubs: Stubs) -> None:
    old, new = base_properties(), base_properties(NumResults="50")
    stubs.expect_first_delivery(execution_of(arn_of(name_of(new))))
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(new))}, request_of(new)
    )
    stubs.expect_start()
    stubs.expect_list_monitors()  # the old job's
    result = handler.handle_event(update_event(old, new), stubs.clients, REQUEST_ID)
    assert result["PhysicalResourceId"] == arn_of(name_of(new)) != arn_of(name_of(old))


def test_replacement_stops_the_old_jobs_monitor_once_the_new_job_started(stubs: Stubs) -> None:
    # The functions' policy may already name only the new job (a changed job_name): a monitor of the
    # old job it denies would report a failure the job never had. A rollback monitors the old job again.
    old, new = base_properties(), base_properties(NumResults="50")
    old_monitor = execution_of(arn_of(name_of(old)), "an-earlier-request")
    stubs.expect_first_delivery()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of(name_of(new))}
    )
    stubs.expect_start()  # lists the new job's monitors: none
    stubs.expect_list_monitors(old_monitor)
    stubs.expect_stop(old_monitor)
    handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert [params["executionArn"] for params in stubs.params_of("StopExecution")] == [
        names.execution_arn(STATE_MACHINE_ARN, old_monitor)
    ]
    assert stubs.operations().index("StopExecution") > stubs.operations().index("StartExecution")


def test_a_replacement_that_fails_leaves_the_old_jobs_monitor_running(stubs: Stubs) -> None:
    # The update fails and rolls back to the old job (a queued one: its monitor holds its create).
    old, new = base_properties(), base_properties(JobName="taken", NumResults="50")
    stubs.expect_first_delivery()
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job",
        describe_response(request_of(base_properties(JobName="taken")), "ACTIVE"),
    )
    with pytest.raises(handler.JobResourceError, match="already exists with another definition"):
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert stubs.operations() == ["DescribeExecution", "CreateBatchInferenceJob", "DescribeBatchInferenceJob"]


def test_an_update_delivered_again_after_its_monitor_ended_changes_nothing(stubs: Stubs) -> None:
    # CloudFormation has had the first delivery's answer and moved on (a rollback stopped the monitor):
    # the late copy must not create the job again, nor stop the monitors the rollback started.
    old, new = base_properties(), base_properties(NumResults="50")
    arn = arn_of(name_of(new))
    stubs.expect_own_monitor(arn, "ABORTED", {"jobArn": arn, "status": "QUEUED"})
    result = handler.handle_event(update_event(old, new), stubs.clients, REQUEST_ID)
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "QUEUED")
    assert stubs.operations() == ["DescribeExecution"]


def test_changing_a_definition_under_an_explicit_name_is_refused_naming_the_difference(stubs: Stubs) -> None:
    old, new = base_properties(JobName="nightly"), base_properties(JobName="nightly", NumResults="50")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of("nightly"))
    with pytest.raises(handler.JobResourceError) as raised:
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    message = str(raised.value)
    assert "'nightly' already exists with another definition (NumResults (numResults): wanted 50" in message
    assert "Remove job_name" in message
    # Read only: is this a request delivered again (its monitor ended), and the job; no create, no monitor.
    assert stubs.operations() == ["DescribeExecution", "DescribeBatchInferenceJob"]


def test_rollback_to_the_job_an_explicit_name_already_has_keeps_it(stubs: Stubs) -> None:
    # CloudFormation rolls a refused update back: the "new" properties are the job's own again.
    refused, original = (
        base_properties(JobName="nightly", NumResults="50"),
        base_properties(JobName="nightly"),
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(original), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of("nightly"))
    result = handler.handle_event(update_event(refused, original), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn_of("nightly"), "ACTIVE")


def test_rollback_to_a_generated_name_adopts_the_original_job(stubs: Stubs) -> None:
    original, replacement = base_properties(), base_properties(NumResults="50")
    stubs.personalize.add_client_error(
        "create_batch_inference_job", "ResourceAlreadyExistsException", "exists"
    )
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(original), "ACTIVE")
    )
    stubs.expect_first_delivery()
    stubs.expect_start()
    stubs.expect_list_monitors()  # the replacement's monitors: stopped, as the resource moves back
    result = handler.handle_event(update_event(replacement, original), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(original))


def test_rollback_carrying_the_old_physical_id_keeps_the_original_job(stubs: Stubs) -> None:
    # CloudFormation may send the rollback with the physical id the resource goes back to.
    original, replacement = base_properties(), base_properties(NumResults="50")
    event = cfn_event("Update", original, old_properties=replacement, physical_id=arn_of(name_of(original)))
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(original), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of(name_of(original)))
    result = handler.handle_event(event, stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(original))


def test_replacement_decided_at_deploy_time_without_a_new_wait_handle_is_refused(stubs: Stubs) -> None:
    old = base_properties(WaitHandle=OLD_HANDLE)
    new = base_properties(WaitHandle=OLD_HANDLE, NumResults="50")
    with pytest.raises(handler.JobResourceError, match="Change run_token together with such a value"):
        handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert stubs.calls == []


def test_replacing_a_job_with_a_changed_explicit_name_creates_the_new_job(stubs: Stubs) -> None:
    old, new = base_properties(JobName="nightly"), base_properties(JobName="nightly-v2", NumResults="50")
    stubs.expect_first_delivery()
    stubs.personalize.add_response(
        "create_batch_inference_job", {"batchInferenceJobArn": arn_of("nightly-v2")}
    )
    stubs.expect_start()
    stubs.expect_list_monitors()
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of("nightly-v2")


def test_tags_only_change_retags_in_place_under_the_same_physical_id(stubs: Stubs) -> None:
    old = base_properties(Tags=[{"Key": "team", "Value": "recs"}, {"Key": "old", "Value": "x"}])
    new = base_properties(Tags=[{"Key": "team", "Value": "growth"}])
    arn = arn_of(name_of(old))
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.personalize.add_response(
        "tag_resource", {}, {"resourceArn": arn, "tags": [{"tagKey": "team", "tagValue": "growth"}]}
    )
    stubs.personalize.add_response("untag_resource", {}, {"resourceArn": arn, "tagKeys": ["old"]})
    stubs.expect_first_delivery_of(arn)
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "ACTIVE")
    assert "StartExecution" not in stubs.operations()


def test_new_wait_handle_keeps_the_job_and_starts_a_monitor_that_replaces_the_old_one(stubs: Stubs) -> None:
    old, new = base_properties(WaitHandle=OLD_HANDLE), base_properties(WaitHandle=NEW_HANDLE)
    arn = arn_of(name_of(old))
    old_monitor = execution_of(arn, "an-earlier-request")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "IN PROGRESS")
    )
    stubs.expect_first_delivery_of(arn)
    stubs.expect_start(old_monitor)
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert (result["PhysicalResourceId"], result["Data"]["Status"]) == (arn, "IN PROGRESS")
    (stop,) = stubs.params_of("StopExecution")
    assert stop["executionArn"] == names.execution_arn(STATE_MACHINE_ARN, old_monitor)
    state = stubs.monitor_input()
    assert (state["waitHandle"], state["created"], state["status"]) == (NEW_HANDLE, True, "IN PROGRESS")


def test_change_of_the_non_defining_prefix_only_keeps_everything(stubs: Stubs) -> None:
    old, new = base_properties(), base_properties(JobNamePrefix="Renamed-Job")
    stubs.personalize.add_response(
        "describe_batch_inference_job", describe_response(request_of(old), "ACTIVE")
    )
    stubs.expect_first_delivery_of(arn_of(name_of(old)))
    result = handler.handle_event(update_event(old, new), stubs.clients, "req-1")
    assert result["PhysicalResourceId"] == arn_of(name_of(old))
    assert result["Data"]["JobName"] == name_of(old)


# --- Delete -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "physical_id",
    ["AWSCDK::CustomResourceProviderFramework::CREATE_FAILED", "not-an-arn", ""],
)
def test_delete_of_a_resource_without_a_job_makes_no_call(stubs: Stubs, physical_id: str) -> None:
    event = cfn_event("Delete", base_properties(), physical_id=physical_id)
    assert handler.handle_event(event, stubs.clients, "req-1") == {"PhysicalResourceId": physical_id}
    assert stubs.calls == []


def test_delete_stops_every_monitor_of_the_job_so_a_queued_job_is_never_created(stubs: Stubs) -> None:
    properties = base_properties()
    arn = arn_of(name_of(properties))
    monitors = [execution_of(arn, "first"), execution_of(arn, "second")]
    stubs.expect_list_monitors(*monitors)
    for monitor in monitors:
        stubs.expect_stop(monitor)
    result = handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1")
    assert result == {"PhysicalResourceId": arn}
    assert len(stubs.params_of("StopExecution")) == 2


def test_delete_leaves_other_jobs_monitors_running(stubs: Stubs) -> None:
    properties = base_properties()
    arn = arn_of(name_of(properties))
    other = execution_of(arn_of("another-job"), "x")
    stubs.expect_list_monitors(other)
    handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1")
    assert stubs.params_of("StopExecution") == []


def test_delete_succeeds_when_nothing_can_be_called(stubs: Stubs) -> None:
    properties = base_properties()
    arn = arn_of(name_of(properties))
    # The job's monitors, then the resource's runs: a listing that failed is not kept, so it is asked again.
    stubs.stepfunctions.add_client_error("list_executions", "AccessDeniedException", "no")
    stubs.stepfunctions.add_client_error("list_executions", "AccessDeniedException", "no")
    assert handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1") == {
        "PhysicalResourceId": arn
    }


def test_delete_succeeds_whatever_the_stored_properties_hold(stubs: Stubs) -> None:
    # An older or newer library may have written values today's parsing refuses.
    properties = base_properties(TimeoutSeconds="50000", NumResults="lots", Mode="SOMETHING_NEW")
    arn = arn_of(name_of(base_properties()))
    stubs.expect_list_monitors()
    assert handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1") == {
        "PhysicalResourceId": arn
    }


def test_delete_of_an_unknown_resource_type_succeeds(stubs: Stubs) -> None:
    event = {**cfn_event("Delete", {}, physical_id=arn_of("x")), "ResourceType": "Custom::Gone"}
    assert handler.handle_event(event, stubs.clients, "req-1") == {"PhysicalResourceId": arn_of("x")}
    assert stubs.calls == []


def test_delete_of_a_job_that_cannot_be_stopped_stops_its_monitor_and_leaves_the_job_alone(
    stubs: Stubs, capsys: pytest.CaptureFixture[str]
) -> None:
    # A batch inference job cannot be stopped: its results still land, and the log says so. It is not
    # even described: a cleanup Delete runs under the new template's policy, which may not name it.
    properties = base_properties(InputKmsKeyArn=KEY_ARN)
    arn = arn_of(name_of(properties))
    stubs.expect_list_monitors()
    handler.handle_event(cfn_event("Delete", properties, physical_id=arn), stubs.clients, "req-1")
    assert stubs.operations() == ["ListExecutions"]
    assert (
        "a batch inference job cannot be stopped; if it still runs, it runs to its end"
        in capsys.readouterr().out
    )
