"""The monitor's state: the execution input the handler starts it with, and what each check returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import contract
import definitions
from props import JobProps


class ManifestLocation(TypedDict):
    bucket: str
    key: str


class MonitorState(TypedDict, total=False):
    """One monitor execution's state (docs/handler-contract.md, "Monitor state machine")."""

    resourceType: str  # the kind (its custom resource type)
    jobArn: str
    jobName: str
    outputS3Uri: str | None
    manifest: ManifestLocation | None
    created: bool  # False while the job is QUEUED; then createRequest holds the Create call
    createRequest: dict[str, Any]
    waitHandle: str | None
    timeoutSeconds: int
    startedAt: str | None  # the first check's time (Step Functions' clock)
    stackId: str
    logicalId: str
    note: str  # what the request that started this monitor could not undo (an import's rollback)
    checks: int
    status: str
    waitSeconds: int
    done: bool
    # Added by the checks:
    consecutiveErrors: int
    propagationSince: float  # seconds after startedAt when a create first met access denied
    result: str
    reason: str
    endedAt: str  # the job's own end (its description's last update), once it has ended
    caught: dict[str, Any]
    records: int  # result lines of a successful batch run (its manifest's count), for the run's metrics
    # A run without a deploy (scheduled.py): what started it, and what a batch run read.
    trigger: str  # "schedule" or "chain"; absent for a deploy run
    scheduledTime: str
    upstreamArn: str
    input: dict[str, Any]
    recordInput: dict[str, Any] | None  # a scheduled job's deploy run: what to list for ``input``
    after: list[str]  # a chained training's run: the runs in progress it waits for (scheduled.waited)
    skipUnchanged: bool  # ... and whether it checks again for an unchanged input once they have ended
    # The deployed definition's RunId (the deploy run's request, or the run request's properties), and
    # whether runs without a deploy may have written a deploy run's latest.json (it is then read first).
    runId: str | None
    runsWithoutDeploy: bool
    sourceVersionArn: str  # a batch run's SolutionVersionArn (what its results come from), for latest.json


def deploy_run_fields(event: Mapping[str, Any]) -> MonitorState:
    """What a deploy run's state takes from its request: the ``RunId`` of its ``ResourceProperties``, and
    whether runs without a deploy may have written latest.json since its job ran (``runsWithoutDeploy``:
    its monitor then reads it before writing). So for a scheduled batch job (``RecordInput``), and for
    every Update: an Update restarts the monitor of a job that may have ended long ago, and the
    resource may have run since (a chained job's resource has no property saying so; an Update that
    removes the schedule keeps what its scheduled runs wrote). A Create's new job is the newest run."""
    properties = event.get("ResourceProperties") or {}
    run_id = properties.get(contract.RUN_ID)
    fields: MonitorState = {"runId": str(run_id)} if run_id else {}
    if event.get("RequestType") == "Update" or str(properties.get(contract.RECORD_INPUT)).lower() == "true":
        fields["runsWithoutDeploy"] = True
    return fields


def initial_state(
    props: JobProps,
    *,
    job_name: str,
    job_arn: str,
    status: str,
    stack_id: str,
    logical_id: str,
    create_request: dict[str, Any] | None,
) -> MonitorState:
    """The execution input for a job: ``create_request`` is given while the job waits to be created."""
    location = definitions.manifest_location(props)
    state: MonitorState = {
        "resourceType": props.kind.resource_type,
        "jobArn": job_arn,
        "jobName": job_name,
        "outputS3Uri": definitions.output_s3_uri(props, job_name),
        "manifest": {"bucket": location[0], "key": location[1]} if location else None,
        "created": create_request is None,
        "waitHandle": props.wait_handle,
        "timeoutSeconds": props.timeout_seconds,
        "startedAt": None,
        "stackId": stack_id,
        "logicalId": logical_id,
        "checks": 0,
        "status": status,
        "waitSeconds": 0,
        "done": False,
    }
    if create_request is not None:
        state["createRequest"] = create_request
    source = props.get("SolutionVersionArn")  # the batch kinds; absent for the others
    if source:
        state["sourceVersionArn"] = str(source)
    return state
