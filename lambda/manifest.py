"""The results manifest: ``<output prefix>latest.json`` names the results of the resource's current run
(after a success), or says that run has none (after a failure), so that other stacks can import one
stable location instead of a run's own prefix, and never read a run the stack has moved away from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Counting records reads the output; past these budgets the counts are left out (null), not guessed.
COUNT_BYTES_BUDGET = 512 * 1024 * 1024
COUNT_SECONDS_BUDGET = 60.0
CHUNK_BYTES = 8 * 1024 * 1024


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ("bucket", "a/b")."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _count_records(
    s3: S3Client, bucket: str, key: str, budget: list[float], clock: Callable[[], float]
) -> int | None:
    """Lines of one object; None once the byte or time budget (shared: [bytes, deadline]) is spent."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    records, last = 0, b""
    for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
        budget[0] -= len(chunk)
        if budget[0] < 0 or clock() > budget[1]:
            body.close()
            return None
        records += chunk.count(b"\n")
        last = chunk[-1:]
    return records + (1 if last not in (b"", b"\n") else 0)


def build(
    s3: S3Client,
    *,
    output_uri: str,
    identity: dict[str, Any],
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The manifest document for the results under ``output_uri``."""
    bucket, prefix = split_uri(output_uri)
    budget = [float(COUNT_BYTES_BUDGET), clock() + COUNT_SECONDS_BUDGET]
    objects: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            records = _count_records(s3, bucket, key, budget, clock) if key.endswith(".out") else None
            objects.append({"uri": f"s3://{bucket}/{key}", "bytes": item.get("Size"), "records": records})
    counted = [item["records"] for item in objects if item["uri"].endswith(".out")]
    total = sum(counted) if counted and None not in counted else None
    return {"version": 1, **identity, "outputS3Uri": output_uri, "objects": objects, "records": total}


def no_results(*, identity: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """The manifest for a run that ended without results (failed, stopped, timed out): no output to
    read, and why."""
    return {"version": 1, **identity, "outputS3Uri": None, "objects": [], "records": None, "reason": reason}


def write(s3: S3Client, bucket: str, key: str, document: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=1, sort_keys=True).encode(),
        ContentType="application/json",
    )


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset) as an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def solution_of(version_arn: str) -> str:
    """The solution a solution version belongs to: its ARN is the solution's ARN plus ``/<version id>``
    (``arn:aws:personalize:<region>:<account>:solution/<name>/<id>``, as the developer guide's examples
    show it; the handler finds a training's job by the same shape)."""
    return version_arn.rsplit("/", 1)[0] if version_arn.count("/") >= 2 else version_arn


def keep_reason(
    current: Mapping[str, Any] | None,
    *,
    job_name: str,
    run_id: str | None,
    deploy_run: bool,
    started_at: str | None,
    finished_at: str | None,
    source_version_arn: str | None = None,
) -> str | None:
    """Why the ``latest.json`` in place (``current``) must stay rather than be overwritten by the end of
    this run (job ``job_name`` of the definition ``run_id``), or None to write as usual. Only for a
    resource that has runs without a deploy: another of its runs may have written the manifest since.

    - a deploy run (``deploy_run``): kept when the manifest names a run without a deploy (its
      ``trigger``) of the same definition (``runId``) that finished later than this run
      (``finished_at``), whatever its result: this monitor was restarted (a new wait handle) after a
      newer scheduled or chained run of the definition, the resource's current run (a failed one says it
      has no results), made from a newer version of the same solution (a chained run follows each new
      training of the upstream the stack holds). Not when both runs record their source version
      (``sourceVersionArn``) and the versions belong to different solutions: a chained run made from an
      upstream the stack abandoned (a replaced solution) has the same ``RunId``, and a rollback's
      restored run must not keep its results. Another deploy run's job is written
      over, even of the same ``runId`` (a rollback from a job whose upstream was replaced keeps the
      ``RunId`` but not the job), as is another definition (a rollback, a replacement): latest.json
      follows the stack.
    - a run without a deploy: kept when the manifest names another job whose run started later
      (``runStartedAt`` after ``started_at``) of another definition: the stack moved away from this
      run's definition meanwhile, and that newer run is the current one. Of the same definition too
      when both runs record their source version (``sourceVersionArn``) and the versions belong to
      different solutions: an update replacing the upstream solution keeps the downstream's ``RunId``,
      and a chained run made from the replaced solution, started before the update and ended after the
      new deploy run wrote, must not name the abandoned solution's results.
    Anything missing or unreadable: None (written, as before these fields existed).
    """
    if not isinstance(current, Mapping) or current.get("jobName") in (None, job_name):
        return None
    other_run_id = current.get("runId")
    if deploy_run:
        if run_id is None or other_run_id != run_id or current.get("trigger") in (None, "deploy"):
            return None
        other_source = current.get("sourceVersionArn")
        if (
            source_version_arn
            and other_source
            and solution_of(str(other_source)) != solution_of(source_version_arn)
        ):
            return None
        theirs, ours = _moment(current.get("finishedAt")), _moment(finished_at)
        if theirs is None or ours is None or theirs <= ours:
            return None
        return (
            f"latest.json names {current['jobName']}, a run of the same definition that ended later "
            f"({current.get('finishedAt')}) than this one ({finished_at})"
        )
    theirs, ours = _moment(current.get("runStartedAt")), _moment(started_at)
    if theirs is None or ours is None or theirs <= ours:
        return None
    if other_run_id != run_id:
        return (
            f"latest.json names {current['jobName']}, a run of the stack's newer definition that started "
            f"({current.get('runStartedAt')}) after this one ({started_at})"
        )
    other_source = current.get("sourceVersionArn")
    if (
        source_version_arn
        and other_source
        and solution_of(str(other_source)) != solution_of(source_version_arn)
    ):
        return (
            f"latest.json names {current['jobName']}, a run made from another solution "
            f"({solution_of(str(other_source))}) that started ({current.get('runStartedAt')}) after this "
            f"one ({started_at}, made from {solution_of(source_version_arn)}): the upstream was replaced"
        )
    return None


def read(s3: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    """The manifest in place; None when there is none or it is not a JSON object (errors are raised)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
