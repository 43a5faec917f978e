"""onEvent handler of `Custom::PersonalizeBatchInferenceJob` (aws_cdk.custom_resources.Provider).

Create starts (or adopts, or queues) the job and a monitor execution, then returns at once; the
monitor waits for the job's end and signals the WaitCondition. Raise to fail: the Provider framework
sends the message to CloudFormation. See docs/handler-contract.md.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import job_logic
from aws_clients import AwsError, Clients, default_clients, describe_error, error_code
from job_logic import JobProps
from jsonlog import log, request_id_of
from personalize_ops import apply_tag_changes, create_or_adopt, find_job

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

Response = dict[str, Any]


class JobResourceError(Exception):
    """A failure CloudFormation shows to the user: the message says what happened and what to do."""


def on_event(event: dict[str, Any], context: Any) -> Response:
    return handle_event(event, default_clients(), request_id_of(context))


def handle_event(event: dict[str, Any], clients: Clients, request_id: str | None) -> Response:
    """Route on RequestType; every expected failure is raised as a short, readable JobResourceError."""
    handlers = {"Create": on_create, "Update": on_update, "Delete": on_delete}
    request_type = event["RequestType"]
    if request_type not in handlers:
        raise JobResourceError(f"Unknown RequestType {request_type!r}")
    try:
        return handlers[request_type](event, clients, request_id)
    except (JobResourceError, ValueError) as error:
        message = job_logic.truncate_bytes(str(error), job_logic.ERROR_MESSAGE_LIMIT_BYTES)
        log(
            "fail",
            request_id=request_id,
            job_arn=event.get("PhysicalResourceId"),
            status=None,
            reason=message,
        )
        raise JobResourceError(message) from error


# --- Create -------------------------------------------------------------------------------------------


def on_create(event: dict[str, Any], clients: Clients, request_id: str | None) -> Response:
    return create_job(job_logic.parse_properties(event["ResourceProperties"]), event, clients, request_id)


def create_job(props: JobProps, event: dict[str, Any], clients: Clients, request_id: str | None) -> Response:
    """Create, adopt or queue the job named for `props`, then start its monitor."""
    name = job_logic.derive_job_name(props, event["StackId"], event["LogicalResourceId"])
    arn = job_logic.job_arn(job_logic.parse_stack_arn(event["StackId"]), name)
    request = job_logic.build_create_request(props, name)
    try:
        outcome = create_or_adopt(clients.personalize, request, arn)
    except AwsError as error:
        raise JobResourceError(
            f"Could not create batch inference job {name!r}: {describe_error(error)}"
        ) from error
    log(
        outcome.kind, request_id=request_id, job_arn=arn, status=outcome.status, detail=outcome.detail or None
    )
    if outcome.kind == "mismatch":
        raise JobResourceError(outcome.detail)
    queued = outcome.kind == "queued"
    state = monitor_state(
        props, event, name, arn, status=outcome.status, create_request=request if queued else None
    )
    start_monitor(clients.stepfunctions, state, request_id)
    return response(props, name, arn, outcome.status)


# --- Update -------------------------------------------------------------------------------------------


def on_update(event: dict[str, Any], clients: Clients, request_id: str | None) -> Response:
    """Replace on a job-defining change; else retag in place and/or start a monitor for a new handle."""
    old = job_logic.parse_properties(event["OldResourceProperties"])
    new = job_logic.parse_properties(event["ResourceProperties"])
    plan = job_logic.classify_update(old, new)
    arn = event["PhysicalResourceId"]
    name = job_logic.job_name_from_arn(arn)
    if plan.replace or name is None:
        wanted = job_logic.derive_job_name(new, event["StackId"], event["LogicalResourceId"])
        if name is not None and wanted == name:
            return keep_same_name(new, event, clients, request_id, name, arn, plan)
        if new.wait_handle and new.wait_handle == old.wait_handle:
            raise JobResourceError(job_logic.handle_reuse_error(name or wanted, plan.changed_job_properties))
        log("replace", request_id=request_id, job_arn=arn, status=None, changed=plan.changed_job_properties)
        return create_job(new, event, clients, request_id)
    job = current_job(clients, arn, name)
    status = job_logic.normalize_status(job.get("status")) if job else job_logic.QUEUED
    if plan.retag:
        retag(clients, arn, name, plan, exists=job is not None)
        log("retag", request_id=request_id, job_arn=arn, status=status, removed=plan.tag_keys_to_remove)
    if plan.restart_monitor:
        stop_monitor(clients.stepfunctions, name, old.wait_handle, arn, request_id)
        create_request = None if job else job_logic.build_create_request(new, name)
        state = monitor_state(new, event, name, arn, status=status, create_request=create_request)
        start_monitor(clients.stepfunctions, state, request_id)
    return response(new, name, arn, status)


def current_job(clients: Clients, arn: str, name: str) -> dict[str, Any] | None:
    """The resource's job as Personalize describes it, None if it does not exist (yet)."""
    try:
        return find_job(clients.personalize, arn)
    except AwsError as error:
        raise JobResourceError(
            f"Could not describe batch inference job {name!r}: {describe_error(error)}"
        ) from error


def keep_same_name(
    new: JobProps,
    event: dict[str, Any],
    clients: Clients,
    request_id: str | None,
    name: str,
    arn: str,
    plan: job_logic.UpdatePlan,
) -> Response:
    """The new definition maps to the current job's name: only an explicit job_name does that, or a
    rollback to the job this resource already has. Keep the job when it matches, else refuse."""
    job = current_job(clients, arn, name)
    request = job_logic.build_create_request(new, name)
    if job is None or job_logic.definition_differences(request, job):
        raise JobResourceError(job_logic.fixed_name_replacement_error(name, plan.changed_job_properties))
    status = job_logic.normalize_status(job.get("status"))
    log("keep", request_id=request_id, job_arn=arn, status=status)
    return response(new, name, arn, status)


def retag(clients: Clients, arn: str, name: str, plan: job_logic.UpdatePlan, *, exists: bool) -> None:
    if not exists:
        raise JobResourceError(
            f"Batch inference job {name!r} is still QUEUED for a free slot under the quota of pending or "
            "in-progress jobs, so its tags cannot change yet. Deploy again once the job exists."
        )
    try:
        apply_tag_changes(clients.personalize, arn, plan.tags_to_set, plan.tag_keys_to_remove)
    except AwsError as error:
        raise JobResourceError(
            f"Could not update the tags of batch inference job {name!r}: {describe_error(error)}"
        ) from error


# --- Delete -------------------------------------------------------------------------------------------


def on_delete(event: dict[str, Any], clients: Clients, request_id: str | None) -> Response:
    """No API deletes or stops a batch inference job; its results stay in S3. Stop its monitor, so a job
    still queued under the quota is never created for a resource that is gone."""
    physical_id = event["PhysicalResourceId"]
    name = job_logic.job_name_from_arn(physical_id)
    if name is not None:
        props = job_logic.parse_properties(event["ResourceProperties"])
        stop_monitor(clients.stepfunctions, name, props.wait_handle, physical_id, request_id)
    log("delete", request_id=request_id, job_arn=physical_id, status=None)
    return {"PhysicalResourceId": physical_id}


# --- shared -------------------------------------------------------------------------------------------


def response(props: JobProps, name: str, arn: str, status: str) -> Response:
    data = {
        "JobArn": arn,
        "JobName": name,
        "OutputS3Uri": job_logic.output_s3_uri(props, name),
        "Status": status,
    }
    return {"PhysicalResourceId": arn, "Data": data}


def monitor_state(
    props: JobProps,
    event: dict[str, Any],
    name: str,
    arn: str,
    *,
    status: str,
    create_request: dict[str, Any] | None,
) -> dict[str, Any]:
    """The monitor's execution input (docs/handler-contract.md)."""
    state: dict[str, Any] = {
        "jobArn": arn,
        "jobName": name,
        "outputS3Uri": job_logic.output_s3_uri(props, name),
        "created": create_request is None,
        "waitHandle": props.wait_handle,
        "timeoutSeconds": props.timeout_seconds,
        "startedAt": None,
        "stackId": event["StackId"],
        "logicalId": event["LogicalResourceId"],
        "checks": 0,
        "status": status,
        "waitSeconds": 0,
        "done": False,
    }
    if create_request is not None:
        state["createRequest"] = create_request
    return state


def stop_monitor(
    stepfunctions: SFNClient, name: str, wait_handle: str | None, arn: str, request_id: str | None
) -> None:
    """Stop the monitor of (job, handle), if it still runs. Never fails: Delete must always succeed."""
    execution = job_logic.execution_name(name, wait_handle, arn)
    try:
        stepfunctions.stop_execution(
            executionArn=job_logic.execution_arn(os.environ["MONITOR_STATE_MACHINE_ARN"], execution),
            error="ResourceGone",
            cause="The job's CloudFormation resource was deleted or now waits on another handle.",
        )
        log("monitor-stopped", request_id=request_id, job_arn=arn, status=None, execution=execution)
    except (*AwsError, KeyError) as error:
        log("monitor-not-stopped", request_id=request_id, job_arn=arn, status=None, detail=str(error))


def start_monitor(stepfunctions: SFNClient, state: dict[str, Any], request_id: str | None) -> None:
    """StartExecution of the monitor; an execution of the same name already running is fine."""
    name = job_logic.execution_name(state["jobName"], state["waitHandle"], state["jobArn"])
    decision = "monitor-started"
    try:
        stepfunctions.start_execution(
            stateMachineArn=os.environ["MONITOR_STATE_MACHINE_ARN"], name=name, input=json.dumps(state)
        )
    except AwsError as error:
        if error_code(error) != "ExecutionAlreadyExists":
            raise JobResourceError(
                f"Batch inference job {state['jobName']!r} is {state['status']}, but its monitor could not "
                f"start: {describe_error(error)}"
            ) from error
        decision = "monitor-exists"
    log(decision, request_id=request_id, job_arn=state["jobArn"], status=state["status"], execution=name)
