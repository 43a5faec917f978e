"""The results manifest: ``<output prefix>latest.json`` names the results of the resource's current run
(after a success), or says that run has none (after a failure), so that other stacks can import one
stable location instead of a run's own prefix, and never read a run the stack has moved away from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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
