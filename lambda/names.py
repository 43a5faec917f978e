"""Names and ARNs: the deterministic job name, the job's ARN, the monitor executions' names."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import contract
from contract import JobKind
from props import JobProps

# A monitor execution's name: `{label}-{job digest}-{request digest}`, within Step Functions' 80.
EXECUTION_LABEL_LENGTH = 40
EXECUTION_JOB_DIGEST = 8
EXECUTION_REQUEST_DIGEST = 12


@dataclass(frozen=True)
class StackArn:
    partition: str
    region: str
    account: str


def parse_stack_arn(stack_id: str) -> StackArn:
    """``arn:aws:cloudformation:us-east-1:123456789012:stack/name/id`` -> partition, region, account."""
    parts = stack_id.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:5]):
        raise ValueError(f"StackId: {stack_id!r} is not a CloudFormation stack ARN")
    return StackArn(partition=parts[1], region=parts[3], account=parts[4])


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def job_hash(props: JobProps, stack_id: str, logical_id: str) -> str:
    """12 hex digits over the stack instance, the logical id and the run-defining properties."""
    material = canonical_json({"stackId": stack_id, "logicalId": logical_id, "job": props.job_defining()})
    return hashlib.sha256(material.encode()).hexdigest()[: contract.HASH_LENGTH]


def derive_job_name(props: JobProps, stack_id: str, logical_id: str) -> str:
    """The explicit ``JobName``, else ``{JobNamePrefix}-{hash12}`` within 63 valid characters."""
    if props.job_name:
        return props.job_name
    prefix = contract.sanitize_name_part(props.job_name_prefix, contract.MAX_NAME_PREFIX_LENGTH)
    return f"{prefix or contract.DEFAULT_NAME_PREFIX}-{job_hash(props, stack_id, logical_id)}"


def job_arn(kind: JobKind, stack_id: str, name: str) -> str | None:
    """The ARN Personalize gives the job named ``name`` in the stack's account and region; None for a
    kind whose ARN the service assigns (solution versions)."""
    stack = parse_stack_arn(stack_id)
    return kind.job_arn(stack.partition, stack.region, stack.account, name)


def is_job_arn(kind: JobKind, physical_id: str) -> bool:
    """Whether a physical id is an ARN of this kind's jobs (not the Provider's CREATE_FAILED marker)."""
    # A job the service names lives under its source: a solution version is solution/<name>/<id>.
    path = f"{kind.arn_resource}/.+" if kind.arn_resource else "solution/[^/]+/.+"
    return re.fullmatch(rf"arn:[a-z\d-]+:personalize:[^:]*:[^:]*:{path}", physical_id) is not None


def name_in_arn(kind: JobKind, arn: str) -> str | None:
    """The job name inside a job ARN, for kinds whose ARN ends with the name."""
    if kind.arn_resource is None or not is_job_arn(kind, arn):
        return None
    return arn.rsplit(f":{kind.arn_resource}/", 1)[1]


def execution_prefix(job_arn: str) -> str:
    """What every monitor execution of one job is named with: a readable label and a digest."""
    resource = job_arn.split(":", 5)[-1].partition("/")[2]
    label = contract.sanitize_name_part(resource, EXECUTION_LABEL_LENGTH) or "job"
    digest = hashlib.sha256(job_arn.encode()).hexdigest()[:EXECUTION_JOB_DIGEST]
    return f"{label}-{digest}-"


def execution_name(job_arn: str, request_id: str) -> str:
    """One monitor execution per job and CloudFormation request: a request delivered twice finds the
    execution its first delivery started, and no later request meets a closed execution's name."""
    digest = hashlib.sha256(f"{job_arn}|{request_id}".encode()).hexdigest()[:EXECUTION_REQUEST_DIGEST]
    return f"{execution_prefix(job_arn)}{digest}"


def execution_arn(state_machine_arn: str, execution: str) -> str:
    """``arn:...:stateMachine:NAME`` -> ``arn:...:execution:NAME:EXECUTION``."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution}"
