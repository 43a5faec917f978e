"""The Step Functions calls of the handler and the monitor: one running monitor per job.

A monitor execution is named per job and CloudFormation request (names.execution_name), so a request
delivered twice finds its own execution, and a later request never meets the closed execution of an
earlier one (Step Functions keeps closed names for 90 days). Starting a job's monitor stops every other
running monitor of that job: at most one polls it, signals and reports its end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

import names
from aws_clients import AwsError, error_code

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

StartResult = Literal["started", "exists"]


def running_executions(
    stepfunctions: SFNClient,
    state_machine_arn: str,
    prefixes: tuple[str, ...],
    *,
    max_pages: int | None = None,
    may_call: Callable[[], bool] = lambda: True,
) -> list[dict[str, Any]]:
    """The running executions of the monitor whose names start with one of ``prefixes`` (each as
    ListExecutions gives it: ``name``, ``executionArn``), page after page: at most ``max_pages`` of them
    (None: all), and none once ``may_call()`` is False."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while (max_pages is None or pages < max_pages) and may_call():
        arguments: dict[str, Any] = {
            "stateMachineArn": state_machine_arn,
            "statusFilter": "RUNNING",
            "maxResults": 1000,
        }
        if token:
            arguments["nextToken"] = token
        page = stepfunctions.list_executions(**arguments)
        pages += 1
        found += [dict(item) for item in page["executions"] if item["name"].startswith(prefixes)]
        token = page.get("nextToken")
        if not token:
            break
    return found


def running_monitors(stepfunctions: SFNClient, state_machine_arn: str, job_arn: str) -> list[str]:
    """ARNs of the running executions of the monitor for ``job_arn``."""
    prefixes = (names.execution_prefix(job_arn),)
    return [item["executionArn"] for item in running_executions(stepfunctions, state_machine_arn, prefixes)]


def stop(stepfunctions: SFNClient, execution_arn: str, cause: str) -> None:
    stepfunctions.stop_execution(executionArn=execution_arn, error="ResourceGone", cause=cause)


def start(
    stepfunctions: SFNClient, state_machine_arn: str, execution: str, state: Mapping[str, Any]
) -> StartResult:
    """StartExecution; "exists" when this request's execution was started before (a re-sent request)."""
    try:
        stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=execution, input=json.dumps(dict(state))
        )
    except stepfunctions.exceptions.ExecutionAlreadyExists:
        return "exists"
    return "started"


def ended(stepfunctions: SFNClient, execution_arn: str) -> dict[str, Any] | None:
    """The monitor state an execution ended with (its output, else its input), None while it runs, when
    it does not exist, or when that cannot be told (the caller goes on)."""
    try:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
    except AwsError:
        return None
    if described.get("status") in (None, "RUNNING"):
        return None
    try:
        state = json.loads(described.get("output") or described.get("input") or "{}")
    except json.JSONDecodeError:
        state = {}
    return state if isinstance(state, dict) else {}


def is_running(stepfunctions: SFNClient, execution_arn: str) -> bool:
    """Whether an execution still runs; True when that cannot be told (the caller goes on)."""
    try:
        return stepfunctions.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    except AwsError as error:
        return error_code(error) != "ExecutionDoesNotExist"


def stack_status(cloudformation: Any, stack_id: str | None) -> str | None:
    """The status of the job's stack (``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``, as CloudFormation spells
    it), from DescribeStacks on its StackId; None when there is no StackId or it cannot be told."""
    return stack_state(cloudformation, stack_id)[0]


def stack_state(cloudformation: Any, stack_id: str | None) -> tuple[str | None, datetime | None]:
    """``stack_status`` and, from the same DescribeStacks answer, the stack's ``LastUpdatedTime`` (when
    its last update, or rollback, began; CloudFormation omits it for a stack never updated): None when
    absent or when the stack cannot be told."""
    if not stack_id:
        return None, None
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_id).get("Stacks") or []
    except AwsError:
        return None, None
    status = stacks[0].get("StackStatus") if stacks else None
    updated = stacks[0].get("LastUpdatedTime") if stacks else None
    if isinstance(updated, datetime) and updated.tzinfo is None:
        updated = updated.replace(tzinfo=timezone.utc)
    return (str(status) if status else None), (updated if isinstance(updated, datetime) else None)
