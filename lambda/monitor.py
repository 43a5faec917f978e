"""``check``: one step of the monitor state machine's Check -> Choice -> Wait loop.

Takes ``{"state": {...}, "now": "ISO time", "execution": "its ARN"}`` and returns the next state:
``waitSeconds`` until the next check, or ``done: true`` once the job has ended, after the WaitCondition
signal, the results manifest and the end event. The clock is ``now`` (Step Functions' time), never the
Lambda's. See docs/handler-contract.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import contract
import manifest
import monitor_ops
import personalize_ops
import run_metrics
import schedule
import scheduled
import sizes
from aws_clients import AwsError, Clients, default_clients, describe_error, error_code, error_kind
from contract import JobKind
from jsonlog import Logger, request_id_of
from monitor_state import ManifestLocation, MonitorState
from notify import put_event, signal_wait_handle
from schedule import Decision

# Error kinds after which the same call is simply made again at the next check.
RETRY_ON_CREATE = frozenset({"transient", "queue"})
# not_found: just created; propagation: a policy just changed (bounded by the consecutive errors allowed,
# unless the job's stack is changing: see on_error)
RETRY_ON_DESCRIBE = frozenset({"transient", "queue", "not_found", "propagation"})
# How long a create may meet access denied (a role or policy not in effect yet) before the job fails.
MAX_PROPAGATION_SECONDS = 300


@dataclass(frozen=True)
class Check:
    """One invocation of the check: the state it advances, the clients, the logger, the clock."""

    state: MonitorState
    kind: JobKind
    clients: Clients
    log: Logger
    now: str  # Step Functions' time of this check (ISO 8601)
    elapsed: float
    execution: str | None

    @property
    def noun(self) -> str:
        return self.kind.noun

    @property
    def timeout(self) -> int:
        return int(self.state["timeoutSeconds"])


def check(event: dict[str, Any], context: Any) -> MonitorState:
    return run_check(event, default_clients(), request_id_of(context))


def run_check(event: Mapping[str, Any], clients: Clients, request_id: str | None) -> MonitorState:
    state: MonitorState = dict(event["state"])  # type: ignore[assignment]
    if scheduled.is_run_request(state):  # a scheduled or chained run: skip it, or start its monitor
        if "abort" in event:  # its first check failed: report it, never try the run again
            return scheduled.aborted(event, clients, request_id)
        return scheduled.begin(event, clients, request_id)
    now = schedule.parse_time(event["now"])
    state["startedAt"] = state.get("startedAt") or event["now"]
    elapsed = (now - schedule.parse_time(str(state["startedAt"]))).total_seconds()
    kind = contract.kind_of(state["resourceType"])
    log = Logger(request_id, jobArn=state["jobArn"], resourceType=kind.resource_type)
    current = Check(state, kind, clients, log, str(event["now"]), elapsed, event.get("execution"))
    if "abort" in event:
        # The state machine caught an error the loop could not handle: report it rather than leave
        # the stack waiting for the WaitCondition's timeout.
        state.pop("caught", None)
        decision = Decision.end("FAILURE", schedule.monitor_failure_reason(kind.noun, event["abort"]))
    else:
        state["checks"] = int(state.get("checks") or 0) + 1
        _record_deploy_input(current)
        decision = advance(current)
    log(
        "end" if decision.done else "wait",
        status=state["status"],
        checks=state.get("checks"),
        waitSeconds=decision.wait_seconds,
        result=decision.result,
        reason=decision.reason or None,
        note=state.get("note") if decision.done else None,
    )
    if decision.done and decision.result is not None:
        finish(current, decision)
    state["waitSeconds"] = decision.wait_seconds
    state["done"] = decision.done
    return state


def _record_deploy_input(check: Check) -> None:
    """A deploy run of a scheduled batch job lists its input once, at its first check, for latest.json
    (``scheduled.input_to_record``); an error leaves it unrecorded (the next scheduled run then runs)."""
    wanted = check.state.pop("recordInput", None)
    if not isinstance(wanted, dict) or check.state.get("input"):
        return
    try:
        found = scheduled.deploy_input(check.clients, wanted)
    except AwsError as error:
        check.log("input-unrecorded", detail=describe_error(error))
        return
    if found is not None:
        check.state["input"] = found


def advance(check: Check) -> Decision:
    """Create the job if it is still queued, else look at its status; decide what comes next."""
    state = check.state
    if not state.get("created"):
        return try_create(check)
    try:
        job = personalize_ops.describe(check.clients.personalize, check.kind, state["jobArn"])
    except AwsError as error:
        return on_error(check, error, RETRY_ON_DESCRIBE)
    state["consecutiveErrors"] = 0
    state["status"] = schedule.normalize_status(job.get("status"))
    ended_at = _iso_time(job.get("lastUpdatedDateTime"))
    if state["status"] in contract.ENDED and ended_at:
        state["endedAt"] = ended_at  # the run's own end, whenever this monitor sees it
    return schedule.decide_on_status(
        check.noun, state["status"], job.get("failureReason"), check.elapsed, check.timeout
    )


def try_create(check: Check) -> Decision:
    """A queued job: create it now if a slot is free; past the timeout, give up without creating it.

    A monitor that was stopped (its resource deleted or monitored by a newer request) while this check
    was under way creates nothing.
    """
    state, elapsed, timeout = check.state, check.elapsed, check.timeout
    if elapsed >= timeout:
        return schedule.decide_while_queued(check.noun, elapsed, timeout)
    if check.execution and not monitor_ops.is_running(check.clients.stepfunctions, check.execution):
        return Decision(done=True, reason="The monitor was stopped; the queued job is not created.")
    if "after" in state:  # a chained training's run, waiting for the run of its resource in progress
        try:
            still = scheduled.waited(check.clients, check.execution, state, check.log)
        except AwsError as error:
            return on_error(check, error, RETRY_ON_CREATE)
        if still is not None:
            why = f"after the run in progress {still}, which started before its import ended"
            return schedule.decide_while_queued(check.noun, elapsed, timeout, why)
        if state.get("reason"):  # skipped: a run that ended meanwhile trained on every import
            return Decision(done=True, reason=str(state["reason"]))
    request = state["createRequest"]
    try:
        outcome = personalize_ops.create_or_adopt(
            check.clients.personalize, check.kind, request, state["jobArn"] or None, accept_failed=True
        )
    except (*AwsError, LookupError) as error:
        return on_error(check, error, RETRY_ON_CREATE)
    state["consecutiveErrors"] = 0
    state["status"] = outcome.status
    if outcome.kind == "queued":
        if (
            outcome.error_kind == "propagation"
            and schedule.is_access_denied(outcome.detail)
            and _stack_changing(check, outcome.detail)
        ):
            # Denied while the stack changes: its update may have taken this job's statements (its
            # cleanup then stops this monitor, or its rollback gives them back). The time allowed for a
            # policy to come into effect starts again once the stack has settled.
            state.pop("propagationSince", None)
        elif outcome.error_kind == "propagation":
            since = state.setdefault("propagationSince", elapsed)
            if elapsed - since >= MAX_PROPAGATION_SECONDS:
                return Decision.end("FAILURE", f"The {check.noun} could not be created: {outcome.detail}")
        return schedule.decide_while_queued(check.noun, elapsed, timeout, outcome.detail)
    if outcome.kind == "mismatch":
        return Decision.end("FAILURE", outcome.detail)
    state["created"] = True
    state["jobArn"] = state["jobArn"] or str(outcome.arn)  # a scheduled training: known once created
    state.pop("createRequest", None)
    state.pop("propagationSince", None)
    if outcome.kind == "adopted" and request.get("tags"):
        _carry_tags(check, request["tags"])
    check.log(outcome.kind, status=outcome.status)
    return schedule.decide_on_status(check.noun, outcome.status, outcome.failure_reason, elapsed, timeout)


def _carry_tags(check: Check, tags: list[dict[str, str]]) -> None:
    """A job created by a racing earlier monitor gets the newest request's tags."""
    pairs = tuple((tag["tagKey"], tag["tagValue"]) for tag in tags)
    try:
        personalize_ops.apply_tag_changes(check.clients.personalize, check.state["jobArn"], pairs, ())
    except AwsError as error:
        check.log("retag-failed", detail=describe_error(error))


def on_error(check: Check, error: Exception, retryable: frozenset[str]) -> Decision:
    """Retryable errors: check again later (a bounded number of times in a row); others end the job."""
    reason = describe_error(error) if isinstance(error, AwsError) else str(error)
    if error_kind(error) not in retryable:
        return Decision.end("FAILURE", f"The {check.noun} could not be started or checked: {reason}")
    state = check.state
    if error_kind(error) == "propagation" and schedule.is_access_denied(error_code(error)):
        # The stack's update may have taken this job's statements away before its cleanup stops this
        # monitor: a denial while the stack changes is not one of the errors in a row. (Not an
        # InvalidInputException about the user's own role: no stack operation takes that away.)
        stack_status = _stack_changing(check, reason)
        if stack_status:
            return schedule.decide_while_stack_changes(
                check.noun, stack_status, reason, state["status"], check.elapsed, check.timeout
            )
    state["consecutiveErrors"] = int(state.get("consecutiveErrors") or 0) + 1
    return schedule.decide_on_retryable_error(
        check.noun, state["consecutiveErrors"], reason, state["status"], check.elapsed, check.timeout
    )


def _stack_changing(check: Check, denial: str) -> str:
    """The status of the job's stack when it is changing (schedule.TRANSITIONAL_STACK_STATUSES: an
    update, its cleanup, a rollback, a delete), logged with the denial that made the monitor ask; ""
    otherwise or when unknown.

    A run the stack waits for (a WaitCondition handle, wait=True) is what keeps an UPDATE_IN_PROGRESS
    stack in progress, so its denials then count as before and a permission really missing fails it
    within minutes, not at its timeout; in a rollback or a delete the stack no longer waits for it.
    """
    stack_status = monitor_ops.stack_status(check.clients.cloudformation, check.state.get("stackId"))
    waits = bool(check.state.get("waitHandle"))
    if stack_status is None or not schedule.denial_is_transitional(stack_status, waits_for_run=waits):
        return ""
    check.log("denied-while-stack-changes", stackStatus=stack_status, detail=denial)
    return stack_status


def finish(check: Check, decision: Decision) -> None:
    """Signal the WaitCondition (if any), write the results manifest after a success, and put the end
    event, unless an earlier monitor of this job already did."""
    state, log = check.state, check.log
    result = decision.result or "FAILURE"
    state["result"] = result
    state["reason"] = sizes.truncate_bytes(decision.reason, sizes.EVENT_REASON_LIMIT_BYTES)
    if state.get("waitHandle"):
        data = {"jobArn": state["jobArn"], "outputS3Uri": state.get("outputS3Uri"), "status": state["status"]}
        body = sizes.signal_body(result, decision.reason, state["jobName"], data)
        outcome, detail = signal_wait_handle(str(state["waitHandle"]), body)
        log(f"signal-{outcome}", status=state["status"], detail=detail)
    manifest_written = _write_manifest(check, result)
    if not state.get("created"):
        # Never created (timed out while queued): there is no job to tag, nor to report twice.
        _report(check, result, None, manifest_written)
        return
    personalize = check.clients.personalize
    try:
        earlier = personalize_ops.end_reported(personalize, state["jobArn"])
    except AwsError as error:
        log("end-reported-unknown", detail=describe_error(error))
        earlier = None
    if earlier is not None:
        log(
            "event-skipped",
            detail=f"an earlier monitor reported this job's end ({earlier})",
            note=state.get("note"),
        )
        return
    metrics = None
    if result == "SUCCESS":
        try:
            metrics = personalize_ops.metrics(personalize, check.kind, state["jobArn"])
        except AwsError as error:
            log("metrics-failed", detail=describe_error(error))
    if _report(check, result, metrics, manifest_written):
        try:
            personalize_ops.mark_end_reported(personalize, state["jobArn"], result)
        except AwsError as error:
            log("mark-failed", detail=describe_error(error))


def _report(check: Check, result: str, metrics: dict[str, Any] | None, manifest_written: bool) -> bool:
    state = check.state
    detail: dict[str, Any] = {
        "kind": check.kind.key,
        "jobArn": state["jobArn"],
        "jobName": state["jobName"],
        "status": state["status"],
        "result": result,
        "failureReason": state["reason"] if result == "FAILURE" else None,
        "outputS3Uri": state.get("outputS3Uri"),
        "durationSeconds": round(check.elapsed),
        "stackId": state.get("stackId"),
        "logicalId": state.get("logicalId"),
    }
    location = state.get("manifest")
    if location and manifest_written:  # only a manifest that names this run's results
        detail["manifestUri"] = f"s3://{location['bucket']}/{location['key']}"
    if metrics is not None:
        detail["metrics"] = metrics
    if state.get("note"):
        detail["note"] = state["note"]
    detail.update(scheduled.event_fields(state))
    bus = os.environ.get(contract.ENV_EVENT_BUS_NAME, "default")
    sent, event_detail = put_event(check.clients.events, bus, check.kind.detail_type, detail)
    check.log("event-sent" if sent else "event-failed", status=state["status"], detail=event_detail)
    run_metrics.emit(
        run_metrics.run_record(
            stack_id=str(state.get("stackId") or ""),
            logical_id=str(state.get("logicalId") or ""),
            kind=check.kind.key,
            job_name=state["jobName"],
            job_arn=state.get("jobArn"),
            result=result,
            duration_seconds=check.elapsed,
            records=state.get("records"),
            now=check.now,
        )
    )
    return sent


def _write_manifest(check: Check, result: str) -> bool:
    """Point ``latest.json`` at the run this monitor watches, the resource's current run: its results
    after a success; after a failure, a manifest saying the run has no results, so that it never names
    a run the stack has moved away from (a rollback restarts the restored run's monitor, which rewrites
    it). ``finishedAt`` is the run's own end (its last status change), not the time of this check.

    A monitor that was stopped (a newer request monitors the job, or the resource was deleted or moved
    to another job) writes nothing: it asks Step Functions first. True when a manifest naming this
    run's results was written.
    """
    state = check.state
    location, output = state.get("manifest"), state.get("outputS3Uri")
    if not location or not output:
        return False
    if check.execution and not monitor_ops.is_running(check.clients.stepfunctions, check.execution):
        check.log("manifest-skipped", detail="this monitor was stopped; the job it watched is not current")
        return False
    finished_at = state.get("endedAt") or check.now
    kept = _newer_manifest(check, location, finished_at)
    if kept is not None:
        check.log("manifest-kept", key=location["key"], result=result, detail=kept)
        return False
    identity = {
        "kind": check.kind.key,
        "jobArn": state["jobArn"],
        "jobName": state["jobName"],
        "result": result,
        "status": state["status"],
        "runId": state.get("runId"),
        "runStartedAt": state.get("startedAt"),
        "trigger": state.get("trigger") or "deploy",
    }
    if state.get("sourceVersionArn"):
        identity["sourceVersionArn"] = state.get("sourceVersionArn")  # what the results come from
    try:
        if result == "SUCCESS":
            document = manifest.build(check.clients.s3, output_uri=output, identity=identity)
        else:
            document = manifest.no_results(identity=identity, reason=state.get("reason"))
        document["finishedAt"] = finished_at
        if result == "SUCCESS" and state.get("input"):
            document["input"] = state.get("input")  # what a scheduled run read, for the next one to compare
        manifest.write(check.clients.s3, location["bucket"], location["key"], document)
    except AwsError as error:
        check.log("manifest-failed", detail=describe_error(error))
        return False
    if result == "SUCCESS":
        state["records"] = document["records"]  # for the run's metrics
    check.log("manifest-written", key=location["key"], result=result, records=document["records"])
    return result == "SUCCESS"


def _newer_manifest(check: Check, location: ManifestLocation, finished_at: str) -> str | None:
    """Why the latest.json in place stays (``manifest.keep_reason``), read only for a resource that has
    runs without a deploy (a run request's run, or a deploy run with ``runsWithoutDeploy``): None to
    write. No manifest yet, or any error reading it: None (written, as before)."""
    state = check.state
    deploy_run = not state.get("trigger")
    if deploy_run and not state.get("runsWithoutDeploy"):
        return None
    try:
        current = manifest.read(check.clients.s3, location["bucket"], location["key"])
    except AwsError as error:
        if error_code(error) not in ("NoSuchKey", "404"):
            check.log("manifest-unread", detail=describe_error(error))
        return None
    return manifest.keep_reason(
        current,
        job_name=state["jobName"],
        run_id=state.get("runId"),
        deploy_run=deploy_run,
        started_at=state.get("startedAt"),
        finished_at=finished_at,
        source_version_arn=state.get("sourceVersionArn"),
    )


def _iso_time(value: Any) -> str | None:
    """A Describe answer's time (botocore gives datetimes) as Step Functions writes times."""
    if isinstance(value, datetime):
        moment = value.astimezone(timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return None
