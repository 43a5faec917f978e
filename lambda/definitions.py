"""The Create request a job resource makes, and how an existing job's description compares with it.

Both follow the kind's declaration (contract.JobKind): each field goes to its path in the request, and
the Describe answer echoes it at the same path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import contract
from props import JobProps


def output_s3_uri(props: JobProps, job_name: str) -> str | None:
    """``s3://{bucket}/{prefix}{job name}/``, where the job writes; None for kinds without output."""
    output = props.kind.output
    if output is None:
        return None
    return f"s3://{props.get(output.bucket_prop)}/{props.get(output.prefix_prop)}{job_name}/"


def results_prefix_uri(props: JobProps) -> str | None:
    """``s3://{bucket}/{prefix}``: where every run of the resource writes; the same for every run."""
    output = props.kind.output
    if output is None:
        return None
    return f"s3://{props.get(output.bucket_prop)}/{props.get(output.prefix_prop)}"


def manifest_location(props: JobProps) -> tuple[str, str] | None:
    """(bucket, key) of the manifest the monitor writes after each successful run."""
    output = props.kind.output
    if output is None:
        return None
    return str(props.get(output.bucket_prop)), f"{props.get(output.prefix_prop)}{contract.MANIFEST_NAME}"


def build_create_request(props: JobProps, job_name: str) -> dict[str, Any]:
    """The Create call's parameters for ``props`` under ``job_name``."""
    kind = props.kind
    request: dict[str, Any] = {kind.name_member: job_name}
    for spec in kind.fields:
        value = props.get(spec.prop)
        if value is not None:
            contract.put_at(request, spec.path, dict(value) if isinstance(value, tuple) else value)
    uri = output_s3_uri(props, job_name)
    if kind.output is not None and uri is not None:
        contract.put_at(request, kind.output.path, uri)
    if props.tags:
        request["tags"] = [{"tagKey": key, "tagValue": value} for key, value in props.tags]
    return request


def definition_differences(
    kind: contract.JobKind, request: Mapping[str, Any], job: Mapping[str, Any]
) -> list[str]:
    """Everything an existing job's description shows that differs from a Create request.

    Every declared field is compared, present in the request or not: a field the request leaves out
    must be absent from the job too, or hold the service's default. Paths compare exactly (``users``
    and ``users/`` are different inputs). An empty list: the job is this request's job.
    """
    differences: list[str] = []
    compared = [(spec.prop, spec.path, spec.omitted) for spec in kind.fields]
    if kind.output is not None:
        compared.append((kind.output.prefix_prop, kind.output.path, None))
    for prop, path, omitted in compared:
        wanted, found = contract.value_at(request, path), contract.value_at(job, path)
        if wanted is None:
            if omitted == contract.SERVICE_FILLS or found in (None, {}, omitted):
                continue
        elif _same(wanted, found) or (found is None and omitted is not None and _same(wanted, omitted)):
            # A description may leave out a field that holds the service's default.
            continue
        differences.append(f"{prop} ({'.'.join(path)}): wanted {wanted!r}, found {found!r}")
    return differences


def _same(wanted: Any, found: Any) -> bool:
    if isinstance(wanted, Mapping) and isinstance(found, Mapping):
        return {str(k): _number_or_text(v) for k, v in wanted.items()} == {
            str(k): _number_or_text(v) for k, v in found.items()
        }
    same: bool = _number_or_text(wanted) == _number_or_text(found)
    return same


def _number_or_text(value: Any) -> Any:
    """0.5 and 0.50 are one weight; "25" and 25 one count (answers may type numbers differently)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
