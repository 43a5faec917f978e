"""The monitor's schedule and its decisions: when to look again, when a job has ended and how."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import contract
from sizes import Result, truncate_bytes

WAIT_FRACTION_OF_ELAPSED = 0.1
# Personalize keeps a failed job and the job's name follows its definition: the same definition finds
# the failed job again. What a failed run's reason tells the user to do next.
RUN_AGAIN = "To run it again, fix the cause, then deploy with a new run_token (or a new job_name)."
# Personalize's own reason is cut to this, so the advice after it always fits in a signal's reason.
FAILURE_REASON_LIMIT_BYTES = 1000
MAX_CONSECUTIVE_ERRORS = 5
# A run request denied MAX_CONSECUTIVE_ERRORS times on a settled stack asks CloudFormation whether the
# stack still holds its job in a check of its own, this long after (scheduled.while_denied).
MIN_SETTLE_WAIT_SECONDS = 1


def normalize_status(raw: str | None) -> str:
    """``"IN_PROGRESS"``, ``"CREATE IN_PROGRESS"`` -> ``"IN PROGRESS"``; unknown values kept (upper case)."""
    cleaned = re.sub(r"[\s_]+", " ", (raw or "").strip().upper())
    return contract.STATUS_ALIASES.get(cleaned, cleaned or "UNKNOWN")


def next_wait_seconds(elapsed_seconds: float, timeout_seconds: int) -> int:
    """10 % of the time since the first check, at least 60 s and at most 120 s, never past the
    deadline (at least 1 s): a job's end is seen within two minutes, however long it ran."""
    remaining = timeout_seconds - elapsed_seconds
    grown = math.ceil(WAIT_FRACTION_OF_ELAPSED * elapsed_seconds)
    wait = min(contract.MAX_CHECK_INTERVAL_SECONDS, max(contract.MIN_CHECK_INTERVAL_SECONDS, grown))
    return max(1, min(wait, math.ceil(remaining)))


@dataclass(frozen=True)
class Decision:
    """Either wait ``wait_seconds`` and check again, or end with ``result`` and ``reason``."""

    done: bool
    wait_seconds: int = 0
    result: Result | None = None
    reason: str = ""
    # A run request dropped on a settled stack: only once CloudFormation says the stack no longer holds
    # the request's resource (``decide_on_held_resource``); a stack that still holds it reports a FAILURE.
    ask_stack: bool = False

    @staticmethod
    def end(result: Result, reason: str) -> Decision:
        return Decision(done=True, result=result, reason=reason)


def _wait_or_time_out(
    noun: str, status: str, elapsed_seconds: float, timeout_seconds: int, note: str = ""
) -> Decision:
    if elapsed_seconds >= timeout_seconds:
        return Decision.end(
            "FAILURE",
            f"The {noun} did not finish within the timeout of {timeout_seconds} s; "
            f"its last status was {status}{note}.",
        )
    return Decision(done=False, wait_seconds=next_wait_seconds(elapsed_seconds, timeout_seconds))


def monitor_failure_reason(noun: str, caught: Mapping[str, Any] | None) -> str:
    """The reason for a job whose monitor stopped on an error (Step Functions' Catch: Error, Cause)."""
    caught = caught or {}
    error = str(caught.get("Error") or "unknown error")
    cause = truncate_bytes(str(caught.get("Cause") or ""), 1000)
    return f"The monitor of the {noun} stopped on {error}: {cause}".rstrip(": ")


def decide_on_status(
    noun: str, status: str, failure_reason: str | None, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """ACTIVE -> SUCCESS; CREATE FAILED or STOPPED -> FAILURE with the job's reason; past the timeout ->
    FAILURE."""
    if status == contract.ACTIVE:
        return Decision.end("SUCCESS", f"The {noun} is ACTIVE.")
    if status == contract.CREATE_FAILED:
        given = (failure_reason or "").strip().rstrip(".") or "no reason given"
        reason = truncate_bytes(given, FAILURE_REASON_LIMIT_BYTES)
        return Decision.end("FAILURE", f"The {noun} failed: {reason}. {RUN_AGAIN}")
    if status == contract.CREATE_STOPPED:
        return Decision.end("FAILURE", f"The {noun} was stopped before it finished.")
    return _wait_or_time_out(noun, status, elapsed_seconds, timeout_seconds)


def decide_while_queued(noun: str, elapsed_seconds: float, timeout_seconds: int, why: str = "") -> Decision:
    """No free slot yet (the quota of pending or in-progress jobs): try again later, within the timeout."""
    note = f" (waiting to be created: {why})" if why else " (waiting for a free slot under the quota)"
    return _wait_or_time_out(noun, contract.QUEUED, elapsed_seconds, timeout_seconds, note)


def decide_on_retryable_error(
    noun: str, consecutive_errors: int, error: str, status: str, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """Check again later, unless the errors keep coming or the timeout has passed."""
    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
        return Decision.end(
            "FAILURE", f"The {noun} could not be checked ({consecutive_errors} errors in a row): {error}"
        )
    return _wait_or_time_out(noun, status, elapsed_seconds, timeout_seconds, f" (last error: {error})")


# The stack statuses in which an update, its rollback or a delete may have taken a run's grants away (a
# shared policy loses a removed job's statements before the cleanup deletes the job's resource, or a
# rollback restores policies without a new job's statements). Not CREATE_IN_PROGRESS,
# REVIEW_IN_PROGRESS or IMPORT_*: no grant the run had can be taken away then, so a denial is real.
TRANSITIONAL_STACK_STATUSES = frozenset(
    {
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    }
)

# The statuses in which the stack waits for a run with a WaitCondition handle (wait=True): that run keeps
# the stack in progress, so its denials count as usual. In a rollback or a delete the stack no longer
# waits for it, and the rollback may take its statements before the cleanup stops its monitor.
STACK_WAITS_FOR_RUN = frozenset({"UPDATE_IN_PROGRESS"})

# The error codes of an access denied (a missing grant); not InvalidInputException about the user's own
# role, which no stack operation of this library takes away.
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


def is_access_denied(code_or_detail: str) -> bool:
    """Whether an error code (or a ``Code: message`` detail) is an access denied."""
    return code_or_detail.split(":", 1)[0].strip() in ACCESS_DENIED_CODES


def denial_is_transitional(stack_status: str | None, *, waits_for_run: bool = False) -> bool:
    """Whether an access denied meets a stack that is changing (TRANSITIONAL_STACK_STATUSES). Such a
    denial is not counted toward MAX_CONSECUTIVE_ERRORS. ``waits_for_run``: a run the stack waits for
    (wait=True), whose denials count while the stack waits for it (STACK_WAITS_FOR_RUN)."""
    if stack_status not in TRANSITIONAL_STACK_STATUSES:
        return False
    return not (waits_for_run and stack_status in STACK_WAITS_FOR_RUN)


def decide_while_stack_changes(
    noun: str, stack_status: str, error: str, status: str, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """A check denied while the stack changes: check again later, bounded by the run's timeout only."""
    note = f" (denied while its stack was {stack_status}: {error})"
    return _wait_or_time_out(noun, status, elapsed_seconds, timeout_seconds, note)


# A stack being deleted (or rolled back from its create) or gone: a run request denied then has nothing to
# run (its job resource's Delete stops the runs), whatever the stack's later status.
STACK_GOING_AWAY = frozenset(
    {"DELETE_IN_PROGRESS", "DELETE_COMPLETE", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"}
)


def decide_on_denied_run_request(
    stack_status: str | None, settled_denials: int, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """A run request (a delivery, a chain rule's request) whose first calls were denied.

    While its stack changes (``denial_is_transitional``) the update may have taken the runtime's grants
    for a schedule or job it removes before its cleanup deletes them: ask again later, not counted,
    within the run's timeout (a rollback gives the grants back; the run then goes on). Once the stack
    has settled (or its status cannot be read), up to MAX_CONSECUTIVE_ERRORS denials in a row are asked
    again (a policy just coming into effect); then it ends with ``ask_stack``: dropped if the stack no
    longer holds the request's resource (an update removed the job), else a FAILURE
    (``decide_on_held_resource``). A dropped request starts nothing and reports nothing (``done``
    without a result): no run, no event blaming the job, a log line. A stack being deleted or gone
    (STACK_GOING_AWAY) drops it at once."""
    if stack_status in STACK_GOING_AWAY:
        return Decision(done=True, reason=f"denied while its stack is {stack_status}: nothing left to run")
    if elapsed_seconds >= timeout_seconds:
        return Decision(
            done=True,
            reason=f"denied for {round(elapsed_seconds)} s, the run's timeout; its stack is "
            f"{stack_status or 'of unknown status'}",
        )
    if denial_is_transitional(stack_status) or settled_denials < MAX_CONSECUTIVE_ERRORS:
        return Decision(done=False, wait_seconds=next_wait_seconds(elapsed_seconds, timeout_seconds))
    return Decision(
        done=True,
        reason=f"denied {settled_denials} times in a row while its stack is "
        f"{stack_status or 'of unknown status'}: the stack no longer grants this run (an update removed "
        "its schedule or its job)",
        ask_stack=True,
    )


# What to check when a run request is denied on a settled stack that still holds its job.
CHECK_GRANTS = (
    "A settled stack that still holds the job grants this call to the check function: check its role's "
    "policies, a permissions boundary on that role, or a service control policy (SCP) of the account."
)
RUN_OF_TRIGGER = {"schedule": "scheduled", "chain": "chained"}


def decide_on_held_resource(
    dropped: Decision,
    *,
    noun: str,
    trigger: str,
    logical_id: str,
    stack_status: str | None,
    settled_denials: int,
    denial: str,
    resource_status: str | None,
    question_error: str | None = None,
    retry_seconds: int | None = None,
) -> Decision:
    """The end of a run request denied ``settled_denials`` times on a settled stack (``dropped``, from
    ``decide_on_denied_run_request`` with ``ask_stack``), once CloudFormation was asked whether the
    stack still holds the request's resource (DescribeStackResource).

    Gone (``resource_status`` None: CloudFormation's "does not exist", or a ``DELETE_*`` status): the
    update removed the job; dropped as before, no event. Present: the denial is not an update's doing
    (the stack has settled and keeps the job), so the run FAILS with an event naming the denied call and
    what to check. The question itself failing (``question_error``) fails the run too: a settled stack
    denying both is not an update's doing, and a FAILURE changes no stack; unless it failed for now
    (``retry_seconds``: throttled, a 5xx): then the request asks again in that many seconds, its
    denials not counted again (the run's timeout still bounds it)."""
    if question_error is None and (resource_status is None or resource_status.startswith("DELETE_")):
        return dropped
    if question_error is not None and retry_seconds is not None:
        return Decision(done=False, wait_seconds=retry_seconds)
    run = RUN_OF_TRIGGER.get(trigger, trigger)
    denied = truncate_bytes(denial.strip().rstrip("."), FAILURE_REASON_LIMIT_BYTES)
    status = stack_status or "of unknown status"
    if question_error is not None:
        asked = truncate_bytes(question_error.strip().rstrip("."), FAILURE_REASON_LIMIT_BYTES // 2)
        held = (
            f"and CloudFormation could not tell whether it still holds the job {logical_id} "
            f"(DescribeStackResource: {asked})"
        )
    else:
        held = f"and still holds the job {logical_id} ({resource_status})"
    return Decision.end(
        "FAILURE",
        f"The {run} run of the {noun} was denied {settled_denials} times in a row while its stack is "
        f"{status} {held}: {denied}. Nothing was started. {CHECK_GRANTS}",
    )


def parse_time(value: str) -> datetime:
    """ISO 8601 (Step Functions' ``$$.State.EnteredTime``, with ``Z``) -> an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
