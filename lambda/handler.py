"""onEvent handler of every job kind's custom resource (aws_cdk.custom_resources.Provider, onEvent only).

Create starts (or adopts, or queues) the job and its monitor, then returns at once; the monitor waits
for the job's end and signals the WaitCondition. Raise to fail: the Provider framework sends the
message to CloudFormation. Delete never fails. See docs/handler-contract.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import contract
import definitions
import lifecycle
import monitor_ops
import names
import personalize_ops
import scheduled
from aws_clients import AwsError, Clients, call_worst_case_seconds, default_clients, describe_error
from contract import JobKind
from jsonlog import Logger, request_id_of
from monitor_state import MonitorState, deploy_run_fields, initial_state
from props import JobProps, parse_properties
from schedule import normalize_status
from sizes import ERROR_MESSAGE_LIMIT_BYTES, truncate_bytes

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

Response = dict[str, Any]
# A kind that cannot wait for a free slot tries this often, this far apart, before it fails (fewer when
# the function's time left is needed for the answer).
CREATE_RETRY_SECONDS = (5.0, 10.0, 20.0, 30.0)
# One call at its worst (every attempt timing out), and the calls a request may still make after a
# bounded step (a search by name, a create's retry, a Delete's wait) before it answers: this request's
# monitor looked up, the job's running monitors listed and one stopped, this request's monitor started,
# the old job's monitors listed and one stopped. A bounded step goes on only while they still fit.
CALL_SECONDS = call_worst_case_seconds()
ANSWER_CALLS = 6


class JobResourceError(Exception):
    """A failure CloudFormation shows to the user: the message says what happened and what to do."""


@dataclass(frozen=True)
class Request:
    """One CloudFormation request to a job resource, with the clients and a logger bound to it."""

    event: Mapping[str, Any]
    clients: Clients
    kind: JobKind
    log: Logger
    sleep: Callable[[float], None] | None = None  # default: time.sleep, looked up when sleeping
    remaining: Callable[[], float] | None = None  # seconds left in this invocation (default: a countdown)

    def may_call(self, calls: int = 1, seconds: float = 0.0) -> bool:
        """Whether ``calls`` more calls (and ``seconds`` of waiting) fit before the answer's calls."""
        return time_left(self.remaining) >= (calls + ANSWER_CALLS) * CALL_SECONDS + seconds

    @property
    def stack_id(self) -> str:
        return str(self.event["StackId"])

    @property
    def logical_id(self) -> str:
        return str(self.event["LogicalResourceId"])

    @property
    def physical_id(self) -> str:
        return str(self.event.get("PhysicalResourceId") or "")

    @property
    def request_id(self) -> str:
        return str(self.event.get("RequestId") or "")

    @property
    def state_machine_arn(self) -> str:
        return os.environ[contract.ENV_MONITOR_STATE_MACHINE_ARN]

    def props(self, key: str = "ResourceProperties") -> JobProps:
        return parse_properties(self.kind, self.event[key])


def on_event(event: dict[str, Any], context: Any) -> Response:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return handle_event(
        event,
        default_clients(),
        request_id_of(context),
        remaining=(lambda: remaining() / 1000) if callable(remaining) else None,
    )


def countdown(seconds: float = contract.ON_EVENT_TIMEOUT_SECONDS) -> Callable[[], float]:
    """Seconds left of ``seconds`` from now (without a Lambda context to ask)."""
    deadline = time.monotonic() + seconds
    return lambda: deadline - time.monotonic()


def time_left(remaining: Callable[[], float] | None) -> float:
    return remaining() if remaining is not None else float(contract.ON_EVENT_TIMEOUT_SECONDS)


def handle_event(
    event: Mapping[str, Any],
    clients: Clients,
    request_id: str | None,
    *,
    sleep: Callable[[float], None] | None = None,
    remaining: Callable[[], float] | None = None,
) -> Response:
    """Route on RequestType; every expected failure is raised as a short, readable JobResourceError.

    ``remaining``: seconds left in this invocation (the Lambda context's); bounded steps stop in time
    for the answer. Default: a countdown from the function's timeout.
    """
    remaining = remaining or countdown()
    request_type = event.get("RequestType")
    log = Logger(request_id, logicalId=event.get("LogicalResourceId"), resourceType=event.get("ResourceType"))
    if request_type == "Delete":
        return on_delete(event, clients, log, sleep=sleep, remaining=remaining)
    try:
        if request_type not in ("Create", "Update"):
            raise JobResourceError(f"Unknown RequestType {request_type!r}")
        kind = contract.kind_of(str(event.get("ResourceType")))
        request = Request(event, clients, kind, log, sleep, remaining)
        return on_create(request) if request_type == "Create" else on_update(request)
    except (JobResourceError, ValueError) as error:
        message = truncate_bytes(str(error), ERROR_MESSAGE_LIMIT_BYTES)
        log("fail", jobArn=event.get("PhysicalResourceId"), reason=message)
        raise JobResourceError(message) from error


# --- Create -------------------------------------------------------------------------------------------


def on_create(request: Request) -> Response:
    props = request.props()
    return already_done(request, props) or start_run(request, props, accept_failed=False)


def start_run(request: Request, props: JobProps, *, accept_failed: bool) -> Response:
    """Create, adopt or queue the job named for ``props``, then start its monitor.

    ``accept_failed``: an existing failed job of that name is adopted (in an Update: a rollback to the
    job this resource had; its monitor reports the failure), not refused.
    """
    kind = request.kind
    name = names.derive_job_name(props, request.stack_id, request.logical_id)
    arn = names.job_arn(kind, request.stack_id, name)
    create_request = definitions.build_create_request(props, name)
    found = _look_up(request, create_request, accept_failed=accept_failed) if arn is None else None
    outcome = found or _create(request, create_request, arn, accept_failed=accept_failed)
    request.log(outcome.kind, jobArn=outcome.arn, jobName=name, status=outcome.status, detail=outcome.detail)
    if outcome.kind == "mismatch":
        raise JobResourceError(outcome.detail)
    job_arn = outcome.arn or arn
    if job_arn is None:  # a kind whose ARN only the service gives could not be created
        raise JobResourceError(lifecycle.cannot_queue_error(kind.noun, name, outcome.detail))
    if arn is None:
        # Only now is the ARN known, and with it this request's monitor: a late copy of the request
        # (its create adopted the job by name) must not stop the monitors of the requests since.
        done = already_done(request, props, name, job_arn)
        if done is not None:
            return done
    queued = outcome.kind == "queued"
    state = _state(request, props, name, job_arn, outcome.status, create_request if queued else None)
    properties = request.event.get("ResourceProperties", {})
    if outcome.kind != "adopted" and str(properties.get(contract.RECORD_INPUT)).lower() == "true":
        # A new job only (an adopted one may have read other objects): the next scheduled run compares it.
        run_id = request.event["ResourceProperties"].get(contract.RUN_ID)
        state["recordInput"] = scheduled.input_to_record(kind, props, str(run_id) if run_id else None)
    if (
        accept_failed
        and outcome.kind == "adopted"
        and outcome.status in contract.ENDED
        and kind.rollback_note
    ):
        # An Update back to a job that has already ended: a rollback. Say what it cannot undo, here and
        # in the job's end event.
        request.log("rollback", jobArn=job_arn, jobName=name, status=outcome.status, note=kind.rollback_note)
        state["note"] = kind.rollback_note
    start_monitor(request, state)
    return response(props, name, job_arn, outcome.status)


def _look_up(
    request: Request, create_request: dict[str, Any], *, accept_failed: bool
) -> personalize_ops.CreateOutcome | None:
    """A kind whose ARN the service gives (a solution version) is looked up by name before it is
    created: a create delivered again, or a rollback to the resource's earlier job, finds that job, and
    never relies on Personalize refusing a second job of the same name (not documented: "a new version
    is created every time you call this operation"). None when not found (then created)."""
    kind = request.kind
    try:
        lookup = personalize_ops.find_by_name(
            request.clients.personalize,
            kind,
            create_request,
            may_call=lambda: request.may_call(2),  # this call, and the create that may follow
        )
    except AwsError as error:
        raise JobResourceError(
            f"Could not look up the {kind.noun} {create_request[kind.name_member]!r} before creating it: "
            f"{describe_error(error)}"
        ) from error
    request.log(
        "looked-up",
        jobName=create_request[kind.name_member],
        found=lookup.job is not None,
        complete=lookup.complete,
        calls=lookup.calls,
    )
    if lookup.job is None and lookup.timed_out:
        # Creating now could start a second training of this name: fail, and let the next try look again.
        raise JobResourceError(
            f"Could not finish looking for the {kind.noun} {create_request[kind.name_member]!r} before "
            "creating it: Personalize answered too slowly for the function's time. Nothing was created. "
            "Deploy again (a rollback: aws cloudformation continue-update-rollback)."
        )
    if lookup.job is None:
        return None
    return personalize_ops.adopt_or_refuse(kind, create_request, lookup.job, accept_failed=accept_failed)


def _create(
    request: Request, create_request: dict[str, Any], arn: str | None, *, accept_failed: bool
) -> personalize_ops.CreateOutcome:
    """create_or_adopt; a kind that cannot be queued tries again a few times (while the function's time
    allows) before it gives up."""
    kind = request.kind
    delays = () if kind.can_queue else CREATE_RETRY_SECONDS
    for delay in (*delays, None):
        try:
            outcome = personalize_ops.create_or_adopt(
                request.clients.personalize,
                kind,
                create_request,
                arn,
                accept_failed=accept_failed,
                may_call=request.may_call,
            )
        except (*AwsError, LookupError) as error:
            raise JobResourceError(
                f"Could not create the {kind.noun} {create_request[kind.name_member]!r}: "
                f"{describe_error(error) if isinstance(error, AwsError) else error}"
            ) from error
        if outcome.kind != "queued" or delay is None or not request.may_call(1, delay):
            return outcome
        request.log("create-retry", detail=outcome.detail, waitSeconds=delay)
        (request.sleep or time.sleep)(delay)
    raise AssertionError("unreachable")


# --- Update -------------------------------------------------------------------------------------------


def on_update(request: Request) -> Response:
    """A new run when a run-defining property changed and the new definition names another job; else
    keep the job (retag in place, and a new monitor when the wait handle or timeout changed, or the job
    is still queued).

    Only a defining change starts a run: a name rule that changes between library versions never does.
    """
    kind = request.kind
    old, new = request.props("OldResourceProperties"), request.props()
    plan = lifecycle.classify_update(old, new)
    physical_id = request.physical_id
    if not names.is_job_arn(kind, physical_id):
        request.log("recreate", jobArn=physical_id)
        return already_done(request, new) or start_run(request, new, accept_failed=True)
    current, job, looked_up = names.name_in_arn(kind, physical_id), None, False
    if current is None and kind.list_parent is not None:
        # A kind whose ARN the service gives (a solution version, solution/<name>/<id>): the job's own
        # name, never the one the old properties derive. In the rollback of a failed update those are
        # the failed update's properties, and the rollback (to this very job) would be taken for a
        # replacement. When the parent changed, the ARN tells whose job it is without a call: the
        # functions' policy may by then name only the other parent's jobs.
        parent, prop = physical_id.rsplit("/", 1)[0], kind.list_parent[0]
        if old.get(prop) != new.get(prop) and parent == new.get(prop):
            name = names.derive_job_name(new, request.stack_id, request.logical_id)
            return keep_own(request, new, plan, name, physical_id)
        if old.get(prop) != new.get(prop) and parent == old.get(prop):
            current = names.derive_job_name(old, request.stack_id, request.logical_id)
        else:
            job, looked_up = current_job(request, physical_id), True
            found = job.get(kind.name_member) if job else None
            current = (
                str(found) if found else names.derive_job_name(old, request.stack_id, request.logical_id)
            )
    if current is None:
        current = names.derive_job_name(old, request.stack_id, request.logical_id)
    if plan.changed:
        wanted = names.derive_job_name(new, request.stack_id, request.logical_id)
        if wanted != current:
            if new.wait_handle and new.wait_handle == old.wait_handle:
                raise JobResourceError(lifecycle.handle_reuse_error(kind.noun, current, plan.changed))
            done = already_done(request, new)
            if done is not None:
                return done
            request.log("replace", jobArn=physical_id, changed=plan.changed)
            answer = start_run(request, new, accept_failed=True)
            # Once the new run has started (a replacement that fails leaves the old job monitored), the
            # old job's monitor stops, not at the cleanup Delete: the functions' policy may already name
            # only the new job (a changed job_name), and a monitor it denies would report a failure its
            # job never had. A rollback starts a monitor of the old job again. A run that turned out to
            # be the resource's own job keeps the monitor this request has just started.
            if answer["PhysicalResourceId"] == physical_id:
                return answer
            stop_monitors(
                request.clients,
                physical_id,
                request.log.bind(jobArn=physical_id),
                "The resource moved on to a new job.",
            )
            return answer
    return keep(request, new, plan, current, physical_id, job, looked_up=looked_up)


def keep(
    request: Request,
    new: JobProps,
    plan: lifecycle.UpdatePlan,
    name: str,
    arn: str,
    described: dict[str, Any] | None = None,
    *,
    looked_up: bool = False,
) -> Response:
    """The new properties map to the resource's current job: keep it when its definition matches.

    ``described``, ``looked_up``: the job's description (None: not found) when the caller has already
    asked (never a create: a rollback to the resource's own job always lands here, whatever that job's
    state).
    """
    kind = request.kind
    done = already_done(request, new, name, arn)
    if done is not None:
        return done
    job = described if looked_up else current_job(request, arn)
    create_request = definitions.build_create_request(new, name)
    if job is None and not kind.can_queue:
        # A job whose ARN the service gave is never queued: gone (its source deleted under it). Never
        # create it again from here (a rollback must not train); a new monitor would report it missing.
        request.log("keep", jobArn=arn, status=None, detail=f"the {kind.noun} was not found")
        if plan.monitor_changed:
            start_monitor(request, _state(request, new, name, arn, contract.IN_PROGRESS, None))
        return response(new, name, arn, contract.CREATE_FAILED)
    if job is None:
        # Still queued: the new monitor carries the newest Create request (tags included).
        status = contract.QUEUED
    else:
        differences = definitions.definition_differences(kind, create_request, job)
        if differences:
            raise JobResourceError(lifecycle.fixed_name_error(kind.noun, name, differences))
        status = normalize_status(job.get("status"))
        name = str(job.get(kind.name_member) or name)
        if plan.retag:
            retag(request, arn, name, plan)
    request.log("keep", jobArn=arn, status=status, retagged=plan.retag, monitor=plan.monitor_changed)
    if plan.monitor_changed or job is None:
        start_monitor(request, _state(request, new, name, arn, status, None if job else create_request))
    return response(new, name, arn, status)


def keep_own(request: Request, new: JobProps, plan: lifecycle.UpdatePlan, name: str, arn: str) -> Response:
    """Back to the job under the physical id, whose parent is the new properties' (the rollback of an
    update whose parent, such as a replaced solution, changed): keep it, never create. Its description
    and tags are best effort: until the rollback reaches the functions' policy, it may name only the
    other parent's jobs, and a rollback must not fail for that."""
    kind = request.kind
    done = already_done(request, new, name, arn)
    if done is not None:
        return done
    status = contract.IN_PROGRESS  # when it cannot be described: treated as still running
    try:
        job = personalize_ops.find(request.clients.personalize, kind, arn)
        if job is not None:
            status = normalize_status(job.get("status"))
            name = str(job.get(kind.name_member) or name)
            if plan.retag:
                personalize_ops.apply_tag_changes(
                    request.clients.personalize, arn, plan.tags_to_set, plan.tag_keys_to_remove
                )
    except AwsError as error:
        request.log("keep-unchecked", jobArn=arn, detail=describe_error(error))
    request.log("keep", jobArn=arn, status=status, detail="back to the job under its own parent")
    if plan.monitor_changed:
        start_monitor(request, _state(request, new, name, arn, status, None))
    return response(new, name, arn, status)


def already_done(
    request: Request, props: JobProps, name: str | None = None, arn: str | None = None
) -> Response | None:
    """The answer again, without acting, when an earlier delivery of this same request started its
    monitor of the job and that monitor has ended (stopped by a later request, a rollback or a Delete,
    or done): CloudFormation has had its answer since, and acting again would create or retag a job the
    stack has moved on from. None for a first delivery (or when that cannot be told)."""
    if name is None:
        name = names.derive_job_name(props, request.stack_id, request.logical_id)
        arn = names.job_arn(request.kind, request.stack_id, name)
    if arn is None:  # a kind whose ARN only the service gives: its create is idempotent by name
        return None
    execution = names.execution_arn(request.state_machine_arn, names.execution_name(arn, request.request_id))
    state = monitor_ops.ended(request.clients.stepfunctions, execution)
    if state is None:
        return None
    request.log("duplicate-ignored", jobArn=arn, execution=execution, status=state.get("status"))
    return response(props, name, arn, str(state.get("status") or contract.QUEUED))


def current_job(request: Request, arn: str) -> dict[str, Any] | None:
    """The resource's job as Personalize describes it, None if it does not exist (yet)."""
    try:
        return personalize_ops.find(request.clients.personalize, request.kind, arn)
    except AwsError as error:
        raise JobResourceError(
            f"Could not describe the {request.kind.noun} {arn!r}: {describe_error(error)}"
        ) from error


def retag(request: Request, arn: str, name: str, plan: lifecycle.UpdatePlan) -> None:
    try:
        personalize_ops.apply_tag_changes(
            request.clients.personalize, arn, plan.tags_to_set, plan.tag_keys_to_remove
        )
    except AwsError as error:
        raise JobResourceError(
            f"Could not update the tags of the {request.kind.noun} {name!r}: {describe_error(error)}"
        ) from error
    request.log("retag", jobArn=arn, set=dict(plan.tags_to_set), removed=plan.tag_keys_to_remove)


# --- Delete -------------------------------------------------------------------------------------------


def on_delete(
    event: Mapping[str, Any],
    clients: Clients,
    log: Logger,
    *,
    sleep: Callable[[float], None] | None = None,
    remaining: Callable[[], float] | None = None,
) -> Response:
    """No API deletes a Personalize job, and its results stay in S3. Stop the job's monitor, so a job
    still queued is never created for a resource that is gone; stop training that still runs.

    A job that blocks the delete of what it is made from (a training its solution, an import its
    dataset: Personalize refuses DeleteSolution / DeleteDataset meanwhile, and CloudFormation deletes
    those right after, in a stack delete or a first deploy's rollback) is waited for, within the
    function's time: a stopped training until it leaves CREATE STOPPING, an import (which cannot be
    stopped) until it ends. Past that time the Delete still succeeds and says what will be refused.

    The resource's runs without a deploy (scheduled or chained, ``scheduled.py``) go with it: whether
    this is a stack delete, a rollback of its create or the cleanup of a replaced physical id, the runs
    of this logical resource are no longer wanted. Their monitors (named per resource) are stopped, a
    training one of them started is stopped, and an import one of them started is waited for as the
    job's own is (``stop_runs``), in the same listing of running monitors and within the same time.

    Reads only the physical id, the resource type and the stack and logical ids, and never fails:
    whatever the stored properties hold (an older or newer library may have written them), the resource
    can always be deleted. Touches the job itself only to stop it or see it end: a cleanup Delete runs
    under the new template's policy, which may not name the old job.
    """
    physical_id = str(event.get("PhysicalResourceId") or "")
    kind = contract.KINDS.get(str(event.get("ResourceType")))
    if kind is None or not names.is_job_arn(kind, physical_id):
        log("delete", jobArn=physical_id, detail="no job to stop")
        return {"PhysicalResourceId": physical_id}
    log = log.bind(jobArn=physical_id)
    clients = replace(clients, stepfunctions=cast("SFNClient", ListedOnce(clients.stepfunctions)))
    stop_monitors(clients, physical_id, log, "The job's CloudFormation resource was deleted.")
    runs = stop_runs(event, clients, kind, log, remaining)
    if kind.stop is None and kind.blocks_delete_of is None:
        # Personalize cannot stop it: if it still runs (it may have been created by a check that raced
        # with this Delete), it runs to its end, its results land under its output path, and nothing
        # waits for it.
        log("delete", detail=f"a {kind.noun} cannot be stopped; if it still runs, it runs to its end")
        return {"PhysicalResourceId": physical_id}
    status: str | None = None
    try:
        job = personalize_ops.find(clients.personalize, kind, physical_id)
        raw = str(job.get("status") or "") if job else ""
        status = normalize_status(raw) if job else None
        if status in contract.RUNNING and kind.stop is not None and not is_stopping(raw):
            personalize_ops.stop(clients.personalize, kind, physical_id)
            log("job-stopped", status=status)
        if status in contract.RUNNING and kind.blocks_delete_of is not None:
            status = wait_for_end(clients, kind, physical_id, log, sleep, remaining)
    except AwsError as error:
        log("job-not-checked", detail=describe_error(error))
    if runs:
        try:
            ends = wait_for_ends(clients, kind, runs, log, sleep, remaining)
        except AwsError as error:
            log("run-job-not-checked", detail=describe_error(error))
            ends = dict.fromkeys(runs, contract.IN_PROGRESS)
        for arn, ended in ends.items():
            if ended in contract.RUNNING:
                log("run-still-running", runJobArn=arn, status=ended, detail=still_running_detail(kind))
    if status in contract.RUNNING and kind.blocks_delete_of is not None:
        log("delete", status=status, detail=still_running_detail(kind))
    elif kind.stop is None:
        log("delete", status=status, detail=f"a {kind.noun} cannot be stopped; it has ended")
    else:
        log("delete", status=status)
    return {"PhysicalResourceId": physical_id}


class ListedOnce:
    """The Step Functions client of one Delete: the monitor's running executions are listed once, and
    the same pages serve the job's monitors (``stop_monitors``) and the resource's runs (``stop_runs``).
    Every other call goes to the client."""

    def __init__(self, client: SFNClient) -> None:
        self._client = client
        self._pages: dict[str, Any] = {}

    def list_executions(self, **arguments: Any) -> Any:
        key = names.canonical_json(arguments)
        if key not in self._pages:
            self._pages[key] = self._client.list_executions(**arguments)
        return self._pages[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


RUN_STOPPED_CAUSE = "The job's CloudFormation resource was deleted: its runs without a deploy stop with it."


def stop_runs(
    event: Mapping[str, Any],
    clients: Clients,
    kind: JobKind,
    log: Logger,
    remaining: Callable[[], float] | None,
) -> list[str]:
    """Stop the monitors of this resource's runs without a deploy, then look at the job each started:
    a training still running is stopped; the jobs that block the delete of what they are made from and
    still run (or stop) are returned, to be waited for. Bounded (``scheduled.MAX_DELETE_LIST_PAGES``,
    ``MAX_RUNS_SETTLED``) and within the function's time; errors are logged, never raised."""

    def fits(calls: int) -> bool:
        return time_left(remaining) >= (calls + 2) * CALL_SECONDS

    stack_id, logical_id = str(event.get("StackId") or ""), str(event.get("LogicalResourceId") or "")
    try:
        machine = os.environ[contract.ENV_MONITOR_STATE_MACHINE_ARN]
        executions = scheduled.running_runs(
            clients.stepfunctions, machine, stack_id, logical_id, may_call=lambda: fits(1)
        )
    except (*AwsError, KeyError) as error:
        detail = describe_error(error) if isinstance(error, AwsError) else str(error)
        log("runs-not-stopped", detail=detail)
        return []
    stopped: list[str] = []
    for execution in executions:
        if not fits(1):
            log("runs-not-stopped", execution=execution, detail="no time left in this Delete")
            break
        try:
            monitor_ops.stop(clients.stepfunctions, execution, RUN_STOPPED_CAUSE)
        except AwsError as error:
            log("run-monitor-not-stopped", execution=execution, detail=describe_error(error))
            continue
        log("run-monitor-stopped", execution=execution)
        stopped.append(execution)
    if kind.stop is None and kind.blocks_delete_of is None:
        return []  # nothing to stop or wait for: a run's job of this kind runs to its end, unwatched
    waiting: list[str] = []
    for execution in stopped[: scheduled.MAX_RUNS_SETTLED]:
        if not fits(3):
            log("run-job-not-checked", execution=execution, detail="no time left in this Delete")
            break
        try:
            described = clients.stepfunctions.describe_execution(executionArn=execution)
            state = json.loads(described.get("input") or "{}")
            found = scheduled.run_job(clients, kind, state, may_call=lambda: fits(2)) if state else None
            arn, job = found or ("", None)
            if job is None:
                log("run-job-none", execution=execution, detail="the run had not created its job")
                continue
            raw = str(job.get("status") or "")
            status = normalize_status(raw)
            if status in contract.RUNNING and kind.stop is not None and not is_stopping(raw):
                personalize_ops.stop(clients.personalize, kind, arn)
                log("run-job-stopped", execution=execution, runJobArn=arn, status=status)
            if status in contract.RUNNING and kind.blocks_delete_of is not None:
                waiting.append(arn)
        except (*AwsError, ValueError) as error:
            detail = describe_error(error) if isinstance(error, AwsError) else str(error)
            log("run-job-not-checked", execution=execution, detail=detail)
    return waiting


# How often a Delete looks whether a job it waits for has left running.
DELETE_POLL_SECONDS = 10.0


def is_stopping(raw_status: str) -> bool:
    """CREATE STOPPING (in either spelling): already stopped, not ended yet; stopping it again fails."""
    return raw_status.replace("_", " ").upper() == "CREATE STOPPING"


def wait_for_ends(
    clients: Clients,
    kind: JobKind,
    arns: list[str],
    log: Logger,
    sleep: Callable[[float], None] | None,
    remaining: Callable[[], float] | None,
) -> dict[str, str | None]:
    """``wait_for_end`` for several jobs at once (the runs' jobs): each is described every
    DELETE_POLL_SECONDS until it has left running, while a wait and a call for each still running one
    fit in the function's time; each one's last status."""
    statuses: dict[str, str | None] = dict.fromkeys(arns, contract.IN_PROGRESS)
    waited = 0.0
    while True:
        running = [arn for arn, status in statuses.items() if status in contract.RUNNING]
        if not running or time_left(remaining) < DELETE_POLL_SECONDS + (len(running) + 1) * CALL_SECONDS:
            return statuses
        (sleep or time.sleep)(DELETE_POLL_SECONDS)
        waited += DELETE_POLL_SECONDS
        for arn in running:
            job = personalize_ops.find(clients.personalize, kind, arn)
            statuses[arn] = normalize_status(job.get("status")) if job else None
            if statuses[arn] not in contract.RUNNING:
                log("run-job-ended", runJobArn=arn, status=statuses[arn], waitedSeconds=waited)


def wait_for_end(
    clients: Clients,
    kind: JobKind,
    arn: str,
    log: Logger,
    sleep: Callable[[float], None] | None,
    remaining: Callable[[], float] | None,
) -> str | None:
    """Describe the job every DELETE_POLL_SECONDS until it has left running, while a wait and a call
    still fit in the function's time (nothing follows but the answer); its last status."""
    status: str | None = contract.IN_PROGRESS
    waited = 0.0
    while time_left(remaining) >= DELETE_POLL_SECONDS + 2 * CALL_SECONDS:
        (sleep or time.sleep)(DELETE_POLL_SECONDS)
        waited += DELETE_POLL_SECONDS
        job = personalize_ops.find(clients.personalize, kind, arn)
        status = normalize_status(job.get("status")) if job else None
        if status not in contract.RUNNING:
            log("job-ended", status=status, waitedSeconds=waited)
            return status
    return status


def still_running_detail(kind: JobKind) -> str:
    what = "stopping" if kind.stop is not None else "running (it cannot be stopped)"
    return (
        f"the {kind.noun} is still {what} after the time this Delete can wait: Personalize refuses to "
        f"delete its {kind.blocks_delete_of} until it has ended, so CloudFormation's delete of the "
        f"{kind.blocks_delete_of} may fail (DELETE_FAILED); once the {kind.noun} has ended, delete the "
        "stack again (or continue the rollback)"
    )


def stop_monitors(clients: Clients, job_arn: str, log: Logger, cause: str) -> None:
    """Stop every running monitor of ``job_arn``; a failure is logged, never raised (the next request
    about the job stops them again)."""
    try:
        machine = os.environ[contract.ENV_MONITOR_STATE_MACHINE_ARN]
        for execution in monitor_ops.running_monitors(clients.stepfunctions, machine, job_arn):
            monitor_ops.stop(clients.stepfunctions, execution, cause)
            log("monitor-stopped", execution=execution)
    except (*AwsError, KeyError) as error:
        log(
            "monitor-not-stopped", detail=describe_error(error) if isinstance(error, AwsError) else str(error)
        )


# --- shared -------------------------------------------------------------------------------------------


def response(props: JobProps, name: str, arn: str, status: str) -> Response:
    kind = props.kind
    data: dict[str, Any] = {
        contract.ATTR_JOB_ARN: arn,
        contract.ATTR_JOB_NAME: name,
        contract.ATTR_STATUS: status,
    }
    if kind.arn_attribute:
        data[kind.arn_attribute] = arn
    if kind.output is not None:
        location = definitions.manifest_location(props)
        data[contract.ATTR_OUTPUT_S3_URI] = definitions.output_s3_uri(props, name)
        data[contract.ATTR_RESULTS_PREFIX_URI] = definitions.results_prefix_uri(props)
        data[contract.ATTR_MANIFEST_URI] = f"s3://{location[0]}/{location[1]}" if location else None
    return {"PhysicalResourceId": arn, "Data": data}


def _state(
    request: Request,
    props: JobProps,
    name: str,
    arn: str,
    status: str,
    create_request: dict[str, Any] | None,
) -> MonitorState:
    state = initial_state(
        props,
        job_name=name,
        job_arn=arn,
        status=status,
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        create_request=create_request,
    )
    state.update(deploy_run_fields(request.event))  # runId (and RecordInput), for latest.json
    return state


def start_monitor(request: Request, state: MonitorState) -> None:
    """Start this request's monitor of the job, after stopping any other monitor of it that still runs:
    one monitor per job polls, signals its newest wait handle and reports its end."""
    stepfunctions, machine = request.clients.stepfunctions, request.state_machine_arn
    job_arn = state["jobArn"]
    execution = names.execution_name(job_arn, request.request_id)
    log = request.log.bind(jobArn=job_arn, execution=execution)
    try:
        for other in monitor_ops.running_monitors(stepfunctions, machine, job_arn):
            if other != names.execution_arn(machine, execution):
                monitor_ops.stop(stepfunctions, other, "A newer request monitors the job.")
                log("monitor-replaced", replaced=other)
        started = monitor_ops.start(stepfunctions, machine, execution, state)
    except AwsError as error:
        raise JobResourceError(
            f"The {request.kind.noun} {state['jobName']!r} is {state['status']}, but its monitor could "
            f"not start: {describe_error(error)}"
        ) from error
    log(f"monitor-{started}", status=state["status"])
