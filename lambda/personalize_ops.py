"""The Personalize calls shared by the custom resource handler and the monitor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import job_logic
from aws_clients import error_code, error_kind
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_personalize import PersonalizeClient

CreateKind = Literal["created", "adopted", "queued", "mismatch"]


@dataclass(frozen=True)
class CreateOutcome:
    """What became of a CreateBatchInferenceJob request.

    created: the job was started. adopted: a job of that name existed and is ours. queued: no free
    slot (or too many requests); try again later. mismatch: a job of that name exists and is not ours,
    or is ours but already failed (it cannot run again under the same name).
    """

    kind: CreateKind
    status: str
    failure_reason: str | None = None
    detail: str = ""


def describe_job(personalize: PersonalizeClient, arn: str) -> dict[str, Any]:
    """The `batchInferenceJob` of DescribeBatchInferenceJob."""
    job: dict[str, Any] = dict(
        personalize.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]
    )
    return job


def find_job(personalize: PersonalizeClient, arn: str) -> dict[str, Any] | None:
    """Like describe_job, but None when no such job exists (yet)."""
    try:
        return describe_job(personalize, arn)
    except ClientError as error:
        if error_kind(error) == "not_found":
            return None
        raise


def adopt_or_refuse(personalize: PersonalizeClient, request: dict[str, Any], arn: str) -> CreateOutcome:
    """A job named like ours exists: adopt it when it is ours, else say what differs."""
    job = describe_job(personalize, arn)
    status = job_logic.normalize_status(job.get("status"))
    differences = job_logic.job_differences(request, job)
    if not differences and status == job_logic.CREATE_FAILED:
        # Names follow the definition and Personalize keeps failed jobs: the same definition would
        # adopt the same failure forever. Say how to run it again.
        return CreateOutcome(
            "mismatch",
            status,
            job.get("failureReason"),
            job_logic.failed_before_error(request["jobName"], job.get("failureReason")),
        )
    if differences:
        detail = (
            f"A batch inference job named {request['jobName']!r} already exists and is not this resource's "
            f"job: {'; '.join(differences)}. Choose another job_name."
        )
        return CreateOutcome("mismatch", job_logic.normalize_status(job.get("status")), detail=detail)
    return CreateOutcome("adopted", job_logic.normalize_status(job.get("status")), job.get("failureReason"))


def create_or_adopt(personalize: PersonalizeClient, request: dict[str, Any], arn: str) -> CreateOutcome:
    """CreateBatchInferenceJob; an existing job of the same name is adopted or refused.

    Errors other than "already exists" and "limit exceeded / throttled" propagate.
    """
    try:
        personalize.create_batch_inference_job(**request)
    except ClientError as error:
        kind = error_kind(error)
        if kind == "exists":
            return adopt_or_refuse(personalize, request, arn)
        if kind == "queue":
            message = error.response.get("Error", {}).get("Message", "")
            return CreateOutcome("queued", job_logic.QUEUED, detail=f"{error_code(error)}: {message}")
        raise
    return CreateOutcome("created", job_logic.PENDING)


def apply_tag_changes(
    personalize: PersonalizeClient,
    arn: str,
    to_set: tuple[tuple[str, str], ...],
    to_remove: tuple[str, ...],
) -> None:
    if to_set:
        personalize.tag_resource(
            resourceArn=arn, tags=[{"tagKey": key, "tagValue": value} for key, value in to_set]
        )
    if to_remove:
        personalize.untag_resource(resourceArn=arn, tagKeys=list(to_remove))
