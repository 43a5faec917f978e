"""Runs without a deploy: a monitor execution started by EventBridge Scheduler (``trigger: schedule``) or
by a chain rule on an upstream job's end event (``trigger: chain``).

Such an execution's input is a *run request*, not a monitor state: the job's deployed definition (the
properties its custom resource has, without the WaitHandle), its stack and logical id, and what names the
run (the scheduled time, or the upstream run's job ARN). The first check turns it into a run:

1. The run's job is named from its definition and that key (``run_job_name``): a delivery the scheduler
   repeats derives the same name, and Personalize's own name uniqueness finds the same job.
2. Overlap: while another monitor of this resource runs (a scheduled or chained run, or the deploy run of
   the same definition), the run is skipped with a reason, never queued behind it.
3. Unchanged input (``skipUnchanged``, the default): a batch run whose input objects (keys and ETags) and
   solution version equal those the last successful run recorded in ``latest.json``; an import whose
   objects were all last modified before the dataset's last successful import started; a training with no
   import of its dataset group finished since its solution's last ACTIVE version was created. A skipped
   run puts a ``SKIPPED`` end event and calls no Personalize create. It first takes the name its run's
   monitor would have had (``claim_skip``: an execution that ends at its first check), so a repeated
   delivery meets ``ExecutionAlreadyExists`` as it would after a run, and sends no second event.
4. Otherwise it starts the run's own monitor execution, named per resource and key
   (``run_execution_name``): a repeated delivery meets ``ExecutionAlreadyExists`` and does nothing. That
   monitor creates the job (it starts QUEUED, so the quota is shared with deploy runs), watches it like a
   deploy run without a WaitCondition, rewrites ``latest.json`` (with the input it compared) after a
   success, and puts the end event with ``trigger`` and ``scheduledTime``. A failure is that event: a run
   without a deploy never touches the stack.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import contract
import definitions
import monitor_ops
import names
import personalize_ops
import schedule
from aws_clients import AwsError, Clients, describe_error, error_code, error_kind, error_message
from jsonlog import Logger
from monitor_state import MonitorState, initial_state
from props import JobProps, parse_properties

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TRIGGER_SCHEDULE = "schedule"
TRIGGER_CHAIN = "chain"
TRIGGER_DEPLOY = "deploy"
TRIGGERS = frozenset({TRIGGER_SCHEDULE, TRIGGER_CHAIN})
SKIPPED = "SKIPPED"
# In the input of the execution a skipped run's name is taken with (``claim_skip``): what was skipped.
SKIP_CLAIM = "skipClaim"
INPUT_PATH = "InputPath"
# In a run request denied the start of its run (``while_denied``): the last denial, as the service said it.
DENIED_CALL = "deniedCall"
# ... and whether one of its denials met its stack changing (an update, a rollback, a delete).
DENIED_WHILE_CHANGING = "deniedWhileChanging"
# What a batch run's skip check compares with the last successful run's recorded input.
COMPARED_INPUT = ("path", "fingerprint", "sourceVersionArn", "runId")
# On an import started without a deploy: the fingerprint of the objects it reads.
INPUT_TAG = "constructs-lib:input"
RUN_EXECUTION_LABEL_LENGTH = 36
# What the skip checks call besides the kinds' own calls (their IAM actions, in the trimmed model too).
SKIP_CHECK_ACTIONS = ("ListDatasetImportJobs", "ListDatasets", "DescribeSolution")
# An input path with more objects than this is not compared (it is run): at most 10 listing pages.
MAX_COMPARED_OBJECTS = 1_000  # Personalize reads at most 1,000 input files per job: one listing page
# Pages of 100 a skip check reads of each Personalize listing (imports, versions) and of a group's
# datasets; past them the check does not skip (it runs). The heaviest check, a training's, then makes
# at most 1 + 2 + 1 + 1 + 2 x 5 datasets + 1 = 16 calls besides its listing of running monitors: within
# the check function's 600 s at 32 s a call (tests/handlers/test_schedule_runs.py).
MAX_LIST_PAGES = 2
MAX_DATASETS = 5  # a dataset group holds at most one dataset of each of Personalize's 5 types
# A Delete of the job resource stops its runs (lambda/handler.py): it reads at most this many pages of the
# monitor's running executions (1,000 each), and looks at the jobs of at most this many runs (a run never
# starts while another of the same resource runs: one, or a few delivered at once).
MAX_DELETE_LIST_PAGES = 5
MAX_RUNS_SETTLED = 5


def is_run_request(state: Mapping[str, Any]) -> bool:
    """Whether a monitor execution's input asks for a run (not yet the state of one)."""
    return state.get("trigger") in TRIGGERS and "jobName" not in state


def run_key(request: Mapping[str, Any]) -> str:
    """What names one run: the scheduled time, or the upstream job's ARN for a chained run."""
    if request.get("trigger") == TRIGGER_CHAIN:
        return f"after:{request.get('upstreamArn') or ''}"
    return f"at:{request.get('scheduledTime') or ''}"


def run_job_name(props: JobProps, stack_id: str, logical_id: str, key: str) -> str:
    """``{JobNamePrefix}-{hash12}`` over the stack, the resource, its definition and the run's key: the
    same shape (and IAM pattern) as a deploy run's name, another name for every scheduled time."""
    prefix = contract.sanitize_name_part(props.job_name_prefix, contract.MAX_NAME_PREFIX_LENGTH)
    material = names.canonical_json(
        {"stackId": stack_id, "logicalId": logical_id, "job": props.job_defining(), "run": key}
    )
    digest = hashlib.sha256(material.encode()).hexdigest()[: contract.HASH_LENGTH]
    return f"{prefix or contract.DEFAULT_NAME_PREFIX}-{digest}"


def run_execution_prefix(stack_id: str, logical_id: str) -> str:
    """What every run execution of one resource is named with (never a deploy monitor's prefix)."""
    label = contract.sanitize_name_part(f"run-{logical_id}", RUN_EXECUTION_LABEL_LENGTH) or "run"
    digest = hashlib.sha256(f"{stack_id}|{logical_id}".encode()).hexdigest()[: names.EXECUTION_JOB_DIGEST]
    return f"{label}-{digest}-"


def run_execution_name(stack_id: str, logical_id: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[: names.EXECUTION_REQUEST_DIGEST]
    return f"{run_execution_prefix(stack_id, logical_id)}{digest}"


def state_machine_of(execution_arn: str) -> str:
    """``arn:...:execution:MACHINE:NAME`` -> ``arn:...:stateMachine:MACHINE``."""
    head, _, _ = execution_arn.rpartition(":")
    return head.replace(":execution:", ":stateMachine:", 1)


def run_props(kind: contract.JobKind, request: Mapping[str, Any]) -> JobProps:
    """The run's definition: the deployed one, with a chained run's new source put in its place."""
    properties = {
        key: value
        for key, value in dict(request.get("properties") or {}).items()
        if key not in (contract.WAIT_HANDLE, "ServiceToken")
    }
    source_prop = request.get("sourceProp")
    if request.get("trigger") == TRIGGER_CHAIN and source_prop and request.get("upstreamArn"):
        properties[str(source_prop)] = request["upstreamArn"]
    return parse_properties(kind, properties)


def begin(event: Mapping[str, Any], clients: Clients, request_id: str | None) -> MonitorState:
    """The first check of a run request: skip it, or start the run's own monitor. This execution ends."""
    request = dict(event["state"])
    kind = contract.kind_of(str(request["resourceType"]))
    stack_id, logical_id = str(request["stackId"]), str(request["logicalId"])
    key = run_key(request)
    fields = event_fields(request)
    log = Logger(request_id, logicalId=logical_id, resourceType=kind.resource_type, **fields)
    ended: MonitorState = {"done": True, "waitSeconds": 0, **fields}  # type: ignore[typeddict-item]
    if isinstance(request.get(SKIP_CLAIM), dict):  # the execution holding a skipped run's name: ends
        claim = request[SKIP_CLAIM]
        log("run-skip-claimed", reason=claim.get("reason"), claimedBy=claim.get("by"))
        ended.update({"result": SKIPPED, "reason": str(claim.get("reason") or "")})
        return ended
    machine = state_machine_of(str(event.get("execution") or ""))
    own = run_execution_name(stack_id, logical_id, key)
    claim_of = Claim(machine, own, str(event.get("execution") or request_id or ""))
    try:
        props = run_props(kind, request)
    except ValueError as error:
        reason = f"The run's definition is not valid: {error}"
        return _skip(clients, kind, request, log, ended, None, reason, claim=claim_of)
    name = run_job_name(props, stack_id, logical_id, key)
    arn = names.job_arn(kind, stack_id, name)
    log = log.bind(jobName=name, jobArn=arn)
    if settles_denial(request):
        denial = str(request.get(DENIED_CALL) or "an access denied")
        return while_denied(event, clients, props, log, ended, denial, settling=True)
    try:
        others = _other_runs(clients, kind, props, stack_id, logical_id, machine, own)
    except AwsError as error:
        if error_kind(error) == "propagation":
            return while_denied(event, clients, props, log, ended, describe_error(error))
        log("run-overlap-unknown", detail=describe_error(error))
        others = []
    if own in others:
        log("run-duplicate", execution=own, detail="this run's monitor already runs (a repeated delivery)")
        return ended
    skip_unchanged = request.get("skipUnchanged", True) not in (False, "false", "False")
    waits = bool(others) and request.get("trigger") == TRIGGER_CHAIN and kind is contract.SOLUTION_VERSION
    if others and not waits:
        reason = (
            f"Another run of this {kind.noun} is in progress ({others[0]}); a run never starts while "
            "another run of the same job runs. The next scheduled run will look again."
        )
        return _skip(clients, kind, request, log, ended, name, reason, claim=claim_of)
    compared: dict[str, Any] | None = None
    if waits:
        # A training chained after an import that ended while another run of it trains: that run misses
        # the import's data. This run waits for it (within its timeout), then checks again (``waited``).
        log("run-waits", detail=f"waits for {', '.join(others)} to end")
    elif skip_unchanged:
        unchanged_reason: str | None = None
        try:
            unchanged_reason, compared = unchanged(clients, kind, props, run_id_of(request))
        except AwsError as error:
            log("unchanged-unknown", detail=describe_error(error))
        if unchanged_reason is not None:
            return _skip(clients, kind, request, log, ended, name, unchanged_reason, claim=claim_of)
    else:
        try:
            compared = recorded_input(clients, kind, props, run_id_of(request))
        except AwsError as error:
            log("unchanged-unknown", detail=describe_error(error))
    create_request = definitions.build_create_request(props, name)
    if kind is contract.DATASET_IMPORT and compared is not None:
        # Where the next run finds what this one read (an import has no results manifest).
        tags = [tag for tag in create_request.get("tags", []) if tag["tagKey"] != INPUT_TAG]
        create_request["tags"] = [*tags, {"tagKey": INPUT_TAG, "tagValue": compared["fingerprint"]}]
    state = initial_state(
        props,
        job_name=name,
        job_arn=arn or "",
        status=contract.QUEUED,
        stack_id=stack_id,
        logical_id=logical_id,
        create_request=create_request,
    )
    state.update(fields)  # type: ignore[typeddict-item]
    state["runId"] = run_id_of(request)  # the definition this run makes, for latest.json
    if compared is not None:
        state["input"] = compared
    if waits:
        state["after"] = others
        state["skipUnchanged"] = skip_unchanged
    try:
        started = monitor_ops.start(clients.stepfunctions, machine, own, state)
    except AwsError as error:
        if error_kind(error) == "propagation":
            return while_denied(event, clients, props, log, ended, describe_error(error))
        reason = f"The run's monitor could not start: {describe_error(error)}"
        return _skip(clients, kind, request, log, ended, name, reason, result="FAILURE")
    log(f"run-{started}", execution=own)
    return ended


def while_denied(
    event: Mapping[str, Any],
    clients: Clients,
    props: JobProps,
    log: Logger,
    ended: MonitorState,
    denial: str,
    *,
    settling: bool = False,
) -> MonitorState:
    """A run request denied the calls that start its run (the monitor's listing, StartExecution): an
    update removing its schedule or its job takes the runtime's grants before its cleanup deletes them.
    While the stack changes, the request asks again later (``schedule.decide_on_denied_run_request``,
    within the run's timeout), so that a rollback lets it run. Once the stack has settled and it is still
    denied MAX_CONSECUTIVE_ERRORS times, a check of its own (``settling``: this one may have spent most
    of the function's time on a skip check) ends it. A request one of whose denials met the stack
    changing (``deniedWhileChanging``: an update removed its schedule, and the runtime's grant to start
    runs with the last one, or its job) is dropped. Otherwise CloudFormation is asked whether the stack
    still holds the request's job (``held_resource``): gone, the stack no longer has what the delivery
    was for: dropped. Dropped: a log line, nothing started, no event (it blames no job). Still held (or
    the question fails too), the denial is a real one (a policy, a permissions boundary, an SCP): a
    FAILURE end event says so, nothing started."""
    request = dict(event["state"])
    now = str(event.get("now") or "")
    since = str(request.get("deniedSince") or now)
    elapsed = (schedule.parse_time(now) - schedule.parse_time(since)).total_seconds() if now else 0.0
    stack_status, last_updated = monitor_ops.stack_state(clients.cloudformation, request.get("stackId"))
    transitional = schedule.denial_is_transitional(stack_status)
    counted = int(request.get("deniedChecks") or 0)
    settled = 0 if transitional else counted if settling else counted + 1
    # Whether any of its denials met the stack changing: then an update took the grants it was denied.
    # A request the previous release left waiting (no DENIED_CALL) keeps that release's rule: dropped.
    met_change = transitional or bool(request.get(DENIED_WHILE_CHANGING)) or left_by_previous_release(request)
    # ... or the stack was updated after the request was due (a late or retried delivery meets only the
    # settled stack of an update that removed its last schedule): the update's doing too.
    met_change = met_change or updated_since(last_updated, request_moment(request, since))
    timeout = props.timeout_seconds  # the run's monitor's own bound (initial_state)
    decision = schedule.decide_on_denied_run_request(stack_status, settled, elapsed, timeout)
    if decision.done and decision.ask_stack and not settling:
        decision = schedule.Decision(done=False, wait_seconds=schedule.MIN_SETTLE_WAIT_SECONDS)
    elif decision.done and decision.ask_stack and met_change:
        log("run-denied-after-change", stackStatus=stack_status)
    elif decision.done and decision.ask_stack:
        logical_id = str(request.get("logicalId"))
        resource_status, question_error, transient = held_resource(
            clients.cloudformation, request.get("stackId"), logical_id
        )
        decision = schedule.decide_on_held_resource(
            decision,
            noun=props.kind.noun,
            trigger=str(request.get("trigger") or TRIGGER_SCHEDULE),
            logical_id=logical_id,
            stack_status=stack_status,
            settled_denials=settled,
            denial=denial,
            resource_status=resource_status,
            question_error=question_error,
            retry_seconds=schedule.next_wait_seconds(elapsed, timeout) if transient else None,
        )
        if not decision.done:  # the question failed for now (throttled, a 5xx): asked again, not counted
            log("run-denied-question-retry", stackStatus=stack_status, detail=question_error)
        elif decision.result == "FAILURE":
            log("run-denied-failed", stackStatus=stack_status, resourceStatus=resource_status, detail=denial)
            name = run_job_name(props, str(request.get("stackId")), logical_id, run_key(request))
            return _skip(clients, props.kind, request, log, ended, name, decision.reason, result="FAILURE")
        else:
            log("run-resource-gone", stackStatus=stack_status, resourceStatus=resource_status)
    if decision.done:
        log("run-dropped", stackStatus=stack_status, detail=denial, reason=decision.reason)
        ended["reason"] = decision.reason
        return ended
    log(
        "denied-while-stack-changes" if transitional else "run-denied",
        stackStatus=stack_status,
        detail=denial,
        waitSeconds=decision.wait_seconds,
    )
    waiting: dict[str, Any] = {
        **request,
        "deniedSince": since,
        "deniedChecks": settled,
        DENIED_CALL: denial,
        DENIED_WHILE_CHANGING: met_change,
        "waitSeconds": decision.wait_seconds,
        "done": False,
    }
    return waiting  # type: ignore[return-value]


def request_moment(request: Mapping[str, Any], denied_since: str) -> str:
    """When the request was due: a scheduled run's ``scheduledTime``; a chained run's request carries
    no time (its rule's input has only the upstream job's ARN), so its first denial (``deniedSince``)."""
    return str(request.get("scheduledTime") or denied_since)


def updated_since(last_updated: datetime | None, moment: str) -> bool:
    """Whether the stack's last update (or rollback) began after ``moment`` (ISO 8601); False when
    either is unknown (a stack never updated has no LastUpdatedTime)."""
    if last_updated is None or not moment:
        return False
    try:
        return last_updated > schedule.parse_time(moment)
    except ValueError:
        return False


def left_by_previous_release(request: Mapping[str, Any]) -> bool:
    """A request denied before, by the previous release: it waits (``deniedSince``) without DENIED_CALL,
    and whether its denials met the stack changing was not recorded. That release dropped it once the
    stack had settled, asking nothing: so does this one (an upgrade must not turn it into a FAILURE)."""
    return "deniedSince" in request and DENIED_CALL not in request


def settles_denial(request: Mapping[str, Any]) -> bool:
    """Whether this check of a run request only settles its denial (``while_denied`` with ``settling``):
    denied MAX_CONSECUTIVE_ERRORS times on a settled stack, it calls nothing it was denied again."""
    return int(request.get("deniedChecks") or 0) >= schedule.MAX_CONSECUTIVE_ERRORS


# CloudFormation's answer to DescribeStackResource for a resource its stack does not hold (any more):
# "Resource <LogicalId> does not exist for stack <name>"; for a stack it does not know: "Stack with id
# <id> does not exist". Both are ValidationError.
GONE_ERROR_CODE = "ValidationError"
GONE_MESSAGE = "does not exist"


# CloudFormation's throttling code (HTTP 400, so not ``transient`` by its status), besides error_kind's.
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded"})


class Held(NamedTuple):
    """CloudFormation's answer on the request's job resource (``held_resource``)."""

    status: str | None  # ResourceStatus as CloudFormation spells it; None: no such stack or resource
    error: str | None = None  # the question itself failed
    transient: bool = False  # ... for now (throttled, a 5xx, no answer): to be asked again


def held_resource(cloudformation: Any, stack_id: Any, logical_id: str) -> Held:
    """Whether the request's stack still holds its job resource: its ``ResourceStatus`` as
    CloudFormation spells it (a deleted stack's resources are ``DELETE_COMPLETE``), None when the stack
    or the resource does not exist, or the error when the question itself failed: ``transient``
    (throttled, a 5xx, no answer: the caller asks again later) or not (denied: the caller fails the
    run, it does not guess)."""
    if not stack_id:
        return Held(None, "the request names no stack")
    try:
        answer = cloudformation.describe_stack_resource(StackName=str(stack_id), LogicalResourceId=logical_id)
    except AwsError as error:
        if error_code(error) == GONE_ERROR_CODE and GONE_MESSAGE in error_message(error):
            return Held(None)
        transient = error_kind(error) in ("transient", "queue") or error_code(error) in THROTTLING_CODES
        return Held(None, describe_error(error), transient)
    detail = answer.get("StackResourceDetail") or {}
    status = detail.get("ResourceStatus")
    return Held(str(status)) if status else Held(None, "the answer has no ResourceStatus")


def aborted(event: Mapping[str, Any], clients: Clients, request_id: str | None) -> MonitorState:
    """A run request whose first check failed (the state machine caught the error): a FAILURE end event
    with the error, never a new attempt at the run."""
    request = dict(event["state"])
    fields = event_fields(request)
    ended: MonitorState = {"done": True, "waitSeconds": 0, **fields}  # type: ignore[typeddict-item]
    if isinstance(request.get(SKIP_CLAIM), dict):  # a skip's claim: its SKIPPED event was sent already
        Logger(request_id, **fields)("run-skip-claimed", reason=str(event.get("abort")), eventSent=False)
        ended.update({"result": SKIPPED, "reason": str(request[SKIP_CLAIM].get("reason") or "")})
        return ended
    try:
        kind = contract.kind_of(str(request.get("resourceType")))
    except ValueError:  # no kind to report it under: the log says it
        Logger(request_id, **fields)("run-failed", reason=str(event.get("abort")), eventSent=False)
        ended.update({"result": "FAILURE", "reason": str(event.get("abort"))})
        return ended
    log = Logger(request_id, logicalId=request.get("logicalId"), resourceType=kind.resource_type, **fields)
    abort = event.get("abort")
    reason = schedule.monitor_failure_reason(kind.noun, abort if isinstance(abort, Mapping) else None)
    return _skip(clients, kind, request, log, ended, None, reason, result="FAILURE")


def event_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the end event (and the logs) add for a run: its trigger and scheduled time."""
    fields: dict[str, Any] = {"trigger": state.get("trigger") or TRIGGER_DEPLOY}
    if state.get("scheduledTime"):
        fields["scheduledTime"] = state["scheduledTime"]
    if state.get("upstreamArn"):
        fields["upstreamArn"] = state["upstreamArn"]
    return fields


def _other_runs(
    clients: Clients,
    kind: contract.JobKind,
    props: JobProps,
    stack_id: str,
    logical_id: str,
    machine: str,
    own: str,
) -> list[str]:
    """Names of the running monitors of this resource: its runs, and the deploy run of this definition."""
    prefixes = [run_execution_prefix(stack_id, logical_id)]
    deploy_arn = names.job_arn(kind, stack_id, names.derive_job_name(props, stack_id, logical_id))
    if deploy_arn is not None:
        prefixes.append(names.execution_prefix(deploy_arn))
    executions = monitor_ops.running_executions(clients.stepfunctions, machine, tuple(prefixes))
    found = [item["name"] for item in executions]
    return sorted(found, key=lambda name: name != own)


def waited(clients: Clients, execution: str | None, state: MonitorState, log: Logger) -> str | None:
    """A chained training's run that waits for the runs of its resource in progress when it was asked
    for (``after``): the name of one still running (it waits on), or None once they have all ended. Then,
    with skipUnchanged, it is skipped (a SKIPPED event, ``state["reason"]``) when a run that ended
    meanwhile already trained on every import; the caller creates nothing then."""
    after = list(state.get("after") or [])
    if after and execution:
        page = clients.stepfunctions.list_executions(
            stateMachineArn=state_machine_of(execution), statusFilter="RUNNING", maxResults=1000
        )
        running = {item["name"] for item in page["executions"]}
        still = [name for name in after if name in running]
        if still:
            return still[0]
    state.pop("after", None)
    request = state.get("createRequest") or {}
    if state.pop("skipUnchanged", True) and request.get("solutionArn"):
        try:
            reason = _training_unchanged(clients, str(request["solutionArn"]))
        except (*AwsError, Incomplete) as error:
            log("unchanged-unknown", detail=str(error))
            reason = None
        if reason is not None:
            ended: MonitorState = {"done": True, "waitSeconds": 0}
            _skip(clients, contract.SOLUTION_VERSION, state, log, ended, state.get("jobName"), reason)
            state["reason"] = reason
    return None


# --- a Delete stops its resource's runs (lambda/handler.py on_delete) ---------------------------------


def running_runs(
    stepfunctions: SFNClient,
    machine: str,
    stack_id: str,
    logical_id: str,
    *,
    may_call: Callable[[], bool] = lambda: True,
) -> list[str]:
    """ARNs of the running monitors of one resource's runs without a deploy (``run_execution_prefix``).

    The same listing calls as ``monitor_ops.running_monitors`` (a Delete lists once and reads both in the
    same pages), at most MAX_DELETE_LIST_PAGES pages, and none once ``may_call()`` is False."""
    prefixes = (run_execution_prefix(stack_id, logical_id),)
    executions = monitor_ops.running_executions(
        stepfunctions, machine, prefixes, max_pages=MAX_DELETE_LIST_PAGES, may_call=may_call
    )
    return [item["executionArn"] for item in executions]


def run_job(
    clients: Clients,
    kind: contract.JobKind,
    state: Mapping[str, Any],
    *,
    may_call: Callable[[], bool] = lambda: True,
) -> tuple[str, dict[str, Any] | None] | None:
    """The job a run's monitor watches, from the monitor's input, and its description (None: not
    created). A kind whose ARN the service gives (a training: its input has no ARN) is found by the
    run's name among its solution's versions, within ``may_call`` (``personalize_ops.find_by_name``);
    None when it was not found."""
    arn = str(state.get("jobArn") or "")
    if arn:
        return arn, personalize_ops.find(clients.personalize, kind, arn)
    request = state.get("createRequest")
    if not isinstance(request, dict) or kind.list_by_name is None:
        return None
    lookup = personalize_ops.find_by_name(clients.personalize, kind, request, may_call=may_call)
    if lookup.job is None:
        return None
    return str(lookup.job.get(kind.arn_member)), lookup.job


# --- is anything new? -------------------------------------------------------------------------------


def run_id_of(request: Mapping[str, Any]) -> str | None:
    """The deployed definition's ``RunId`` (it changes exactly when the definition does)."""
    value = dict(request.get("properties") or {}).get(contract.RUN_ID)
    return str(value) if value else None


def has_input_path(kind: contract.JobKind) -> bool:
    """Whether a batch ``kind`` reads an input path the skip check can list (an export reads none)."""
    return any(spec.prop == INPUT_PATH for spec in kind.fields)


def unchanged(
    clients: Clients, kind: contract.JobKind, props: JobProps, run_id: str | None = None
) -> tuple[str | None, dict[str, Any] | None]:
    """(why the run would change nothing, or None; the input a batch run compares and records)."""
    try:
        if kind.output is not None:
            if not has_input_path(kind):
                return None, None  # nothing to compare: it runs
            return _batch_unchanged(clients, kind, props, run_id)
        if kind is contract.DATASET_IMPORT:
            return _import_unchanged(clients, props)
        if kind is contract.SOLUTION_VERSION:
            return _training_unchanged(clients, str(props.get("SolutionArn"))), None
    except Incomplete:  # a training's listings too long to read: it runs
        return None, None
    return None, None


def recorded_input(
    clients: Clients, kind: contract.JobKind, props: JobProps, run_id: str | None = None
) -> dict[str, Any] | None:
    """What a forced run records of its input (batch runs and imports), for the next run to compare."""
    if kind.output is not None:
        return _batch_input(clients, kind, props, run_id) if has_input_path(kind) else None
    if kind is contract.DATASET_IMPORT:
        found = _import_input(clients, props)
        return found[0] if found else None
    return None


def _objects(clients: Clients, uri: str) -> list[dict[str, Any]] | None:
    """Keys, ETags and times under an ``s3://`` path (a key or a prefix); None past MAX_COMPARED_OBJECTS."""
    bucket, prefix = _split(uri)
    found: list[dict[str, Any]] = []
    pages = clients.s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"MaxItems": MAX_COMPARED_OBJECTS + 1}
    )
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):
                continue
            found.append({"key": item["Key"], "etag": item.get("ETag"), "modified": item.get("LastModified")})
            if len(found) > MAX_COMPARED_OBJECTS:
                return None
    return sorted(found, key=lambda item: item["key"])


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def input_fingerprint(objects: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over the sorted (key, ETag) pairs: what a batch run read."""
    pairs = sorted([str(item["key"]), str(item.get("etag") or "")] for item in objects)
    return hashlib.sha256(names.canonical_json(pairs).encode()).hexdigest()


def _batch_input(
    clients: Clients, kind: contract.JobKind, props: JobProps, run_id: str | None
) -> dict[str, Any] | None:
    path = str(props.get(kind.field(INPUT_PATH).prop))
    objects = _objects(clients, path)
    if objects is None:
        return None
    return {
        "path": path,
        "objects": len(objects),
        "fingerprint": input_fingerprint(objects),
        "sourceVersionArn": props.get("SolutionVersionArn"),
        "runId": run_id,
    }


def input_to_record(kind: contract.JobKind, props: JobProps, run_id: str | None) -> dict[str, Any] | None:
    """What the deploy run of a scheduled batch job (its resource has ``RecordInput``) records of its
    input: its monitor lists the path at its first check (``deploy_input``) and latest.json keeps it like
    a scheduled run's, so that the first scheduled run after the deploy skips when nothing changed (a
    rate schedule fires as soon as it is created). None for a kind without an input path."""
    if kind.output is None or not has_input_path(kind):
        return None
    return {
        "path": str(props.get(INPUT_PATH)),
        "sourceVersionArn": props.get("SolutionVersionArn"),
        "runId": run_id,
    }


def deploy_input(clients: Clients, wanted: Mapping[str, Any]) -> dict[str, Any] | None:
    """The input a deploy run reads, as ``_batch_input`` records it; None past MAX_COMPARED_OBJECTS."""
    objects = _objects(clients, str(wanted["path"]))
    if objects is None:
        return None
    return {
        "path": wanted["path"],
        "objects": len(objects),
        "fingerprint": input_fingerprint(objects),
        "sourceVersionArn": wanted.get("sourceVersionArn"),
        "runId": wanted.get("runId"),
    }


def _batch_unchanged(
    clients: Clients, kind: contract.JobKind, props: JobProps, run_id: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    compared = _batch_input(clients, kind, props, run_id)
    if compared is None or not compared["objects"]:
        return None, compared  # too many to compare, or nothing to read: run (and fail, saying so)
    location = definitions.manifest_location(props)
    if location is None:
        return None, compared
    try:
        body = clients.s3.get_object(Bucket=location[0], Key=location[1])["Body"].read()
        last = json.loads(body)
    except AwsError as error:
        if error_kind(error) == "not_found" or error_code(error) in ("NoSuchKey", "404"):
            return None, compared
        raise
    except ValueError:
        return None, compared
    recorded = last.get("input") if isinstance(last, dict) else None
    if last.get("result") != "SUCCESS" or not isinstance(recorded, dict):
        return None, compared
    # The definition too (its RunId): an input recorded without one does not count as the same.
    same = all(recorded.get(key) == compared[key] for key in COMPARED_INPUT)
    if not same:
        return None, compared
    return (
        f"Unchanged: the {compared['objects']} input object(s) under {compared['path']}, the solution "
        f"version and the job's definition are those the last successful run {last.get('jobName')} read "
        f"(finished {last.get('finishedAt')}); its results in latest.json stand. skip_unchanged=False "
        "forces a run.",
        compared,
    )


def _import_input(clients: Clients, props: JobProps) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    path = str(props.get("DataLocation"))
    objects = _objects(clients, path)
    if objects is None:
        return None
    return {"path": path, "objects": len(objects), "fingerprint": input_fingerprint(objects)}, objects


def _import_unchanged(clients: Clients, props: JobProps) -> tuple[str | None, dict[str, Any] | None]:
    """The dataset's last successful import read these very objects: its INPUT_TAG (set by a run
    without a deploy) holds their fingerprint; an import without it (a deploy's) read them when every
    object was last modified before it started."""
    found = _import_input(clients, props)
    if found is None or not found[1]:
        return None, found[0] if found else None
    compared, objects = found
    try:
        listed = _listed(
            clients, "list_dataset_import_jobs", "datasetImportJobs", datasetArn=props.get("DatasetArn")
        )
    except Incomplete:
        return None, compared
    # Only this resource's own imports (deploy and scheduled runs are all named ``{JobNamePrefix}-...``):
    # another job's import into the same dataset says nothing of what this one read.
    own = f"{contract.sanitize_name_part(props.job_name_prefix, contract.MAX_NAME_PREFIX_LENGTH)}-"
    mine = [job for job in listed if str(job.get("jobName") or "").startswith(own)]
    last = _newest(mine, "creationDateTime")
    if last is None:
        return None, compared
    arn = str(last.get(contract.DATASET_IMPORT.arn_member) or "")
    tags = clients.personalize.list_tags_for_resource(resourceArn=arn).get("tags", []) if arn else []
    recorded = next((tag.get("tagValue") for tag in tags if tag.get("tagKey") == INPUT_TAG), None)
    started = last["creationDateTime"]
    if recorded is not None:
        if recorded != compared["fingerprint"]:
            return None, compared
        why = "are those it read (keys and ETags)"
    elif all(isinstance(item["modified"], datetime) and item["modified"] < started for item in objects):
        why = "were all last modified before it began"
    else:
        return None, compared
    return (
        f"Unchanged: the {len(objects)} object(s) under {compared['path']} {why}: the last successful "
        f"import of the dataset, {last.get('jobName')} (started {started.isoformat()}). "
        "skip_unchanged=False forces a run.",
        compared,
    )


def _training_unchanged(clients: Clients, solution: str) -> str | None:
    """No import into the solution's dataset group has finished since its last ACTIVE version began."""
    kind = contract.SOLUTION_VERSION
    assert kind.list_by_name is not None and kind.list_member is not None
    versions = _listed(
        clients, contract.snake_case(kind.list_by_name), kind.list_member, solutionArn=solution
    )
    last = _newest(versions, "creationDateTime")
    if last is None:
        return None
    group = clients.personalize.describe_solution(solutionArn=solution)["solution"]["datasetGroupArn"]
    ends = [
        job["lastUpdatedDateTime"]
        for dataset in _listed(clients, "list_datasets", "datasets", datasetGroupArn=group)
        for job in _listed(
            clients, "list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset["datasetArn"]
        )
        if _active(job) and isinstance(job.get("lastUpdatedDateTime"), datetime)
    ]
    since = last["creationDateTime"]
    if any(end >= since for end in ends):
        return None
    return (
        f"Unchanged: no import into the dataset group has finished since the solution's last version "
        f"{last.get(kind.arn_member)} began training ({since.isoformat()}). skip_unchanged=False "
        "forces a run."
    )


class Incomplete(Exception):
    """A listing longer than a skip check reads: the check does not skip."""


def _listed(clients: Clients, operation: str, member: str, **arguments: Any) -> list[dict[str, Any]]:
    """The items of a Personalize listing; Incomplete past MAX_LIST_PAGES pages of 100."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    call = getattr(clients.personalize, operation)
    for _ in range(MAX_LIST_PAGES):
        page = call(**arguments, maxResults=100, **({"nextToken": token} if token else {}))
        items += list(page.get(member, []))
        token = page.get("nextToken")
        if not token:
            return items
    raise Incomplete(f"{operation} has more than {MAX_LIST_PAGES * 100} items")


def _active(item: Mapping[str, Any]) -> bool:
    return str(item.get("status") or "").replace("_", " ").upper() == contract.ACTIVE


def _newest(items: list[dict[str, Any]], at: str) -> dict[str, Any] | None:
    done = [item for item in items if _active(item) and isinstance(item.get(at), datetime)]
    return max(done, key=lambda item: item[at]) if done else None


# --- the skip event --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What makes a skip's event sent once per run key: the run's own execution name (``own``) on the
    monitor (``machine``), taken by the delivery ``by`` (its execution's ARN)."""

    machine: str
    own: str
    by: str


def claim_skip(
    clients: Clients, claim: Claim, request: Mapping[str, Any], name: str | None, reason: str
) -> monitor_ops.StartResult:
    """Start the run's own execution (``run_execution_name``) as a skip's claim, as a run starts it:
    "exists" when a delivery of the same scheduled time (or upstream run) already started it, skipped or
    run; then this delivery sends nothing. The claim's input names the delivery (``by``): Step Functions
    answers a StartExecution whose name and input equal a running execution's as a success, never when
    the input differs. Its first check ends it at once (``begin``); a Delete meets no job in it."""
    state = {
        key: request[key]
        for key in ("trigger", "scheduledTime", "upstreamArn", "resourceType", "stackId", "logicalId")
        if request.get(key) is not None
    }
    state[SKIP_CLAIM] = {"result": SKIPPED, "jobName": name, "reason": reason, "by": claim.by}
    return monitor_ops.start(clients.stepfunctions, claim.machine, claim.own, state)


def _skip(
    clients: Clients,
    kind: contract.JobKind,
    request: Mapping[str, Any],
    log: Logger,
    ended: MonitorState,
    name: str | None,
    reason: str,
    *,
    result: str = SKIPPED,
    claim: Claim | None = None,
) -> MonitorState:
    """No job: log why and put the kind's end event with ``result`` SKIPPED (or FAILURE).

    With ``claim`` (a run request's skip), the run's own execution name is taken first, so that a
    delivery the scheduler (or a chain rule) repeats sends no second SKIPPED event: the name is the one
    a run would have started, so one scheduled time gives one run or one skip. When the claim cannot be
    made (an error other than the name taken), the event is still sent: a skip reported twice is
    better than a skip never reported."""
    if claim is not None:
        try:
            taken = claim_skip(clients, claim, request, name, reason)
        except AwsError as error:
            log("skip-unclaimed", execution=claim.own, detail=describe_error(error))
            taken = "started"
        if taken == "exists":
            log("run-duplicate", execution=claim.own, detail="this run was skipped or run already")
            return ended
    detail: dict[str, Any] = {
        "kind": kind.key,
        "jobArn": None,
        "jobName": name,
        "status": result,
        "result": result,
        "failureReason": reason if result != SKIPPED else None,
        "reason": reason,
        "outputS3Uri": None,
        "durationSeconds": 0,
        "stackId": request.get("stackId"),
        "logicalId": request.get("logicalId"),
        **event_fields(request),
    }
    entry: dict[str, Any] = {
        "Source": contract.EVENT_SOURCE,
        "DetailType": kind.detail_type,
        "Detail": json.dumps(detail),
        "EventBusName": os.environ.get(contract.ENV_EVENT_BUS_NAME, "default"),
    }
    try:
        answer = clients.events.put_events(Entries=[entry])  # type: ignore[list-item]
        sent = not answer.get("FailedEntryCount")
    except AwsError as error:
        sent = False
        log("event-failed", detail=describe_error(error))
    log("run-skipped" if result == SKIPPED else "run-failed", reason=reason, eventSent=sent)
    ended.update({"result": result, "reason": reason})
    return ended
