"""The Personalize calls of the handler and the monitor, for every kind, by the kind's declaration.

No operation is named here: each comes from the kind (contract.JobKind), so a new kind needs no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import contract
import definitions
import lifecycle
from aws_clients import error_code, error_kind, error_message
from botocore.exceptions import ClientError
from contract import JobKind
from schedule import normalize_status

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

CreateKind = Literal["created", "adopted", "queued", "mismatch"]
Job = dict[str, Any]

# Finding a job by name (a kind whose ARN the service gives): at most this many listing pages (of 100)
# and descriptions of candidates, whatever the number of the parent's jobs.
MAX_LIST_PAGES = 10
MAX_NAME_DESCRIBES = 20


@dataclass(frozen=True)
class CreateOutcome:
    """What became of a Create request.

    created: the job was started. adopted: a job of that name existed and is this request's job.
    queued: no free slot (or too many requests, or a role not in effect yet); try again later.
    mismatch: a job of that name exists and is not this request's job, or already failed.
    """

    kind: CreateKind
    status: str
    arn: str | None
    failure_reason: str | None = None
    detail: str = ""
    error_kind: str = ""


def _call(personalize: PersonalizeClient, operation: str) -> Callable[..., Any]:
    method: Callable[..., Any] = getattr(personalize, contract.snake_case(operation))
    return method


def describe(personalize: PersonalizeClient, kind: JobKind, arn: str) -> Job:
    """The job's description (the Describe answer's job member)."""
    answer = _call(personalize, kind.describe)(**{kind.arn_member: arn})
    return dict(answer[kind.described])


def find(personalize: PersonalizeClient, kind: JobKind, arn: str) -> Job | None:
    """Like describe, but None when no such job exists (yet)."""
    try:
        return describe(personalize, kind, arn)
    except ClientError as error:
        if error_kind(error) == "not_found":
            return None
        raise


@dataclass(frozen=True)
class Lookup:
    """What a search by name found: the job (None: not found), and whether every candidate was seen."""

    job: Job | None
    complete: bool
    calls: int
    timed_out: bool = False  # stopped because the time left was needed, not at the bounds


def find_by_name(
    personalize: PersonalizeClient,
    kind: JobKind,
    request: dict[str, Any],
    *,
    may_call: Callable[[], bool] = lambda: True,
) -> Lookup:
    """A job whose ARN the service chose, found by its name among its parent's jobs.

    The listing shows no names, so candidates are described one by one: only those whose listed fields
    (a version's training mode) match the request, newest first (a re-sent create's version is among the
    newest). At most MAX_LIST_PAGES pages and MAX_NAME_DESCRIBES descriptions, and no call once
    ``may_call()`` says the time left is needed for what follows: a solution with hundreds of versions is
    searched within the function's time. ``complete`` is False when the search stopped before the end.
    """
    if kind.list_by_name is None or kind.list_member is None or kind.list_parent is None:
        return Lookup(None, True, 0)
    prop, parameter = kind.list_parent
    parent = _request_value(kind, request, prop)
    summaries: list[dict[str, Any]] = []
    token: str | None = None
    calls, complete = 0, True
    for _ in range(MAX_LIST_PAGES):
        if not may_call():
            return Lookup(None, False, calls, timed_out=True)
        arguments: dict[str, Any] = {parameter: parent, "maxResults": 100}
        if token:
            arguments["nextToken"] = token
        page = _call(personalize, kind.list_by_name)(**arguments)
        calls += 1
        summaries += [item for item in page.get(kind.list_member, []) if _may_be(kind, request, item)]
        token = page.get("nextToken")
        if not token:
            break
    else:
        complete = False
    summaries.sort(key=lambda item: _epoch(item.get("creationDateTime")), reverse=True)
    for index, summary in enumerate(summaries):
        if index >= MAX_NAME_DESCRIBES:
            return Lookup(None, False, calls)
        if not may_call():
            return Lookup(None, False, calls, timed_out=True)
        job = describe(personalize, kind, summary[kind.arn_member])
        calls += 1
        if job.get(kind.name_member) == request[kind.name_member]:
            return Lookup(job, complete, calls)
    return Lookup(None, complete, calls)


def _may_be(kind: JobKind, request: dict[str, Any], summary: dict[str, Any]) -> bool:
    """Whether a listed job may be the request's: every field the listing shows holds the request's
    value (or, for a field the request leaves out, the service's default)."""
    for spec in kind.fields:
        if len(spec.path) != 1 or spec.path[0] not in summary:
            continue
        wanted = request.get(spec.path[0], spec.omitted)
        if wanted is not None and wanted != contract.SERVICE_FILLS and summary[spec.path[0]] != wanted:
            return False
    return True


def _epoch(value: Any) -> float:
    """A listed time as seconds (botocore gives datetimes); unknown times sort last."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return float("-inf")


def _request_value(kind: JobKind, request: dict[str, Any], prop: str) -> Any:
    value: Any = request
    for key in kind.field(prop).path:
        value = value[key]
    return value


def create_or_adopt(
    personalize: PersonalizeClient,
    kind: JobKind,
    request: dict[str, Any],
    arn: str | None,
    *,
    accept_failed: bool,
    may_call: Callable[[], bool] = lambda: True,
) -> CreateOutcome:
    """Create the job; a job of the same name is adopted when it is this request's job.

    ``accept_failed``: adopt such a job even when it already failed (a rollback to the job the resource
    had, whose failure the monitor then reports). Errors other than "exists", "queue" and "propagation"
    propagate. ``may_call``: whether a search by name may make another call (see find_by_name).
    """
    try:
        answer = _call(personalize, kind.create)(**request)
    except ClientError as error:
        found = error_kind(error)
        if found == "exists":
            return _adopt_or_refuse(
                personalize, kind, request, arn, accept_failed=accept_failed, may_call=may_call
            )
        if found in ("queue", "propagation"):
            detail = f"{error_code(error)}: {error_message(error)}"
            return CreateOutcome("queued", contract.QUEUED, arn, detail=detail, error_kind=found)
        raise
    return CreateOutcome("created", contract.PENDING, str(answer[kind.arn_member]))


def _adopt_or_refuse(
    personalize: PersonalizeClient,
    kind: JobKind,
    request: dict[str, Any],
    arn: str | None,
    *,
    accept_failed: bool,
    may_call: Callable[[], bool],
) -> CreateOutcome:
    if arn:
        job = describe(personalize, kind, arn)
        return adopt_or_refuse(kind, request, job, accept_failed=accept_failed, arn=arn)
    lookup = find_by_name(personalize, kind, request, may_call=may_call)
    if lookup.job is None:
        where = "by its name" if lookup.complete else "among the newest candidates, within the time given"
        raise LookupError(f"{kind.noun} {request[kind.name_member]!r} exists, but could not be found {where}")
    return adopt_or_refuse(kind, request, lookup.job, accept_failed=accept_failed)


def adopt_or_refuse(
    kind: JobKind, request: dict[str, Any], job: Job, *, accept_failed: bool, arn: str | None = None
) -> CreateOutcome:
    """A job of the request's name exists: adopted when it is the request's job (``accept_failed``:
    even when it failed or was stopped), else a mismatch that says why."""
    name = request[kind.name_member]
    found_arn = str(job.get(kind.arn_member) or arn)
    status = normalize_status(job.get("status"))
    reason = job.get("failureReason")
    differences = definitions.definition_differences(kind, request, job)
    if differences:
        return CreateOutcome(
            "mismatch", status, found_arn, reason, lifecycle.not_ours_error(kind.noun, name, differences)
        )
    if status in (contract.CREATE_FAILED, contract.CREATE_STOPPED) and not accept_failed:
        # Names follow the definition and Personalize keeps failed (and stopped) jobs: say how to run
        # it again. A job is stopped when the resource that started it was replaced or deleted.
        why = reason if status == contract.CREATE_FAILED else (reason or "it was stopped before it finished")
        detail = lifecycle.failed_before_error(kind.noun, name, why)
        return CreateOutcome("mismatch", status, found_arn, reason, detail)
    return CreateOutcome("adopted", status, found_arn, reason)


def apply_tag_changes(
    personalize: PersonalizeClient, arn: str, to_set: tuple[tuple[str, str], ...], to_remove: tuple[str, ...]
) -> None:
    if to_set:
        personalize.tag_resource(
            resourceArn=arn, tags=[{"tagKey": key, "tagValue": value} for key, value in to_set]
        )
    if to_remove:
        personalize.untag_resource(resourceArn=arn, tagKeys=list(to_remove))


def end_reported(personalize: PersonalizeClient, arn: str) -> str | None:
    """The result an earlier monitor reported for this job (its END_REPORTED_TAG), None if none did."""
    tags = personalize.list_tags_for_resource(resourceArn=arn).get("tags", [])
    for tag in tags:
        if tag.get("tagKey") == contract.END_REPORTED_TAG:
            return str(tag.get("tagValue") or "")
    return None


def mark_end_reported(personalize: PersonalizeClient, arn: str, result: str) -> None:
    personalize.tag_resource(
        resourceArn=arn, tags=[{"tagKey": contract.END_REPORTED_TAG, "tagValue": result}]
    )


def stop(personalize: PersonalizeClient, kind: JobKind, arn: str) -> None:
    """Stop a job that still runs, for kinds that can be stopped (training)."""
    if kind.stop is not None:
        _call(personalize, kind.stop)(**{kind.arn_member: arn})


def metrics(personalize: PersonalizeClient, kind: JobKind, arn: str) -> dict[str, Any] | None:
    """The kind's end-of-job figures (a solution version's offline metrics, a data deletion job's
    ``end_figures`` from its description), None for other kinds."""
    if kind.end_figures:
        job = describe(personalize, kind, arn)
        return {member: job.get(member) for member in kind.end_figures}
    if kind.metrics is None or kind.metrics_member is None:
        return None
    answer = _call(personalize, kind.metrics)(**{kind.arn_member: arn})
    found: dict[str, Any] = dict(answer.get(kind.metrics_member) or {})
    return found
