"""Pure decisions for the batch inference job resource and its monitor.

No boto3 and no I/O here: every rule of the lifecycle (property parsing, job naming, the create
request, adoption, update classification, the polling schedule, the end of a job, truncation) is a
function of its arguments, so it is tested without stubs. See docs/handler-contract.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

# --- limits and constants -------------------------------------------------------------------------

MAX_JOB_NAME = 63
HASH_LENGTH = 12
DEFAULT_PREFIX = "batch-inference"
MAX_TIMEOUT_SECONDS = 43_200
MIN_WAIT_SECONDS = 60
WAIT_FRACTION_OF_ELAPSED = 0.1
MAX_CONSECUTIVE_ERRORS = 5
SIGNAL_LIMIT_BYTES = 4096
ERROR_MESSAGE_LIMIT_BYTES = 1500
EVENT_REASON_LIMIT_BYTES = 4096
TRUNCATION_MARK = " ...[truncated]"
EXECUTION_NAME_JOB_PART = 47

MODES = ("BATCH_INFERENCE", "THEME_GENERATION")
PENDING, IN_PROGRESS, ACTIVE, CREATE_FAILED, QUEUED = (
    "PENDING",
    "IN PROGRESS",
    "ACTIVE",
    "CREATE FAILED",
    "QUEUED",
)
_STATUS_ALIASES = {
    "PENDING": PENDING,
    "CREATE PENDING": PENDING,
    "IN PROGRESS": IN_PROGRESS,
    "CREATE IN PROGRESS": IN_PROGRESS,
    "ACTIVE": ACTIVE,
    "CREATE FAILED": CREATE_FAILED,
    "FAILED": CREATE_FAILED,
}

# Error codes that mean "no free slot or too many requests now": the create is retried later.
QUEUE_ERROR_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
# Error codes (besides any HTTP 5xx) after which the same call may well succeed on the next check.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

Result = Literal["SUCCESS", "FAILURE"]
ErrorKind = Literal["queue", "exists", "not_found", "transient", "fatal"]

# Property names of docs/handler-contract.md that define the job: any change means a new job.
JOB_DEFINING_PROPERTIES = (
    "SolutionVersionArn",
    "InputPath",
    "OutputBucket",
    "OutputPrefix",
    "RoleArn",
    "InputKmsKeyArn",
    "OutputKmsKeyArn",
    "NumResults",
    "FilterArn",
    "ItemExplorationConfig",
    "RankingInfluence",
    "Mode",
    "ThemeItemNameField",
    "RunToken",
    "JobName",
)


# --- CloudFormation properties ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobProps:
    """The custom resource's properties, converted from CloudFormation strings to typed values."""

    solution_version_arn: str
    input_path: str
    output_bucket: str
    output_prefix: str
    role_arn: str
    mode: str
    job_name_prefix: str
    timeout_seconds: int
    input_kms_key_arn: str | None = None
    output_kms_key_arn: str | None = None
    num_results: int | None = None
    filter_arn: str | None = None
    item_exploration: tuple[tuple[str, str], ...] | None = None
    ranking_influence: tuple[tuple[str, float], ...] | None = None
    theme_item_name_field: str | None = None
    run_token: str | None = None
    job_name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    wait_handle: str | None = None

    def job_defining(self) -> dict[str, Any]:
        """The job-defining properties that are set, keyed by their contract names."""
        values: dict[str, Any] = {
            "SolutionVersionArn": self.solution_version_arn,
            "InputPath": self.input_path,
            "OutputBucket": self.output_bucket,
            "OutputPrefix": self.output_prefix,
            "RoleArn": self.role_arn,
            "InputKmsKeyArn": self.input_kms_key_arn,
            "OutputKmsKeyArn": self.output_kms_key_arn,
            "NumResults": self.num_results,
            "FilterArn": self.filter_arn,
            "ItemExplorationConfig": dict(self.item_exploration) if self.item_exploration else None,
            "RankingInfluence": dict(self.ranking_influence) if self.ranking_influence else None,
            "Mode": self.mode,
            "ThemeItemNameField": self.theme_item_name_field,
            "RunToken": self.run_token,
            "JobName": self.job_name,
        }
        return {key: value for key, value in values.items() if value is not None}


def parse_int(name: str, value: Any) -> int:
    """`"25"` -> 25; a float string or anything else fails naming the property."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"{name}: {value!r} is not an integer")
    return int(text)


def parse_float(name: str, value: Any) -> float:
    """`"0.5"` -> 0.5; NaN, infinities and non-numbers fail naming the property."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return number


def parse_map(name: str, value: Any) -> dict[str, Any]:
    """A map given as an object or as its JSON text (`'{"a": "1"}'`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            raise ValueError(f"{name}: {value!r} is neither a map nor JSON text of a map") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: {value!r} is not a map")
    return {str(key): item for key, item in value.items()}


def parse_tags(value: Any) -> tuple[tuple[str, str], ...]:
    """`[{"Key": "k", "Value": "v"}]` (or its JSON text) -> (("k", "v"),); a later duplicate key wins."""
    if value is None:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            raise ValueError(f"Tags: {value!r} is not a list of {{Key, Value}}") from None
    if not isinstance(value, list):
        raise ValueError(f"Tags: {value!r} is not a list of {{Key, Value}}")
    tags: dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, Mapping) or "Key" not in entry:
            raise ValueError(f"Tags: {entry!r} has no Key")
        tags[str(entry["Key"])] = str(entry.get("Value", ""))
    return tuple(tags.items())


def _required(properties: Mapping[str, Any], name: str) -> str:
    value = properties.get(name)
    if value is None or value == "":
        raise ValueError(f"{name}: the property is required")
    return str(value)


def _optional(properties: Mapping[str, Any], name: str) -> str | None:
    value = properties.get(name)
    return None if value is None or value == "" else str(value)


def _optional_map(properties: Mapping[str, Any], name: str, convert: Callable[[str, Any], Any]) -> Any:
    raw = properties.get(name)
    if raw is None:
        return None
    parsed = parse_map(name, raw)
    return tuple((key, convert(f"{name}.{key}", item)) for key, item in sorted(parsed.items())) or None


def _str_value(name: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"{name}: {value!r} is not a string")
    return str(value)


def parse_properties(properties: Mapping[str, Any]) -> JobProps:
    """Convert the custom resource's string properties into `JobProps` (ValueError names the prop)."""
    mode = _optional(properties, "Mode") or "BATCH_INFERENCE"
    if mode not in MODES:
        raise ValueError(f"Mode: {mode!r} is not one of {', '.join(MODES)}")
    timeout = properties.get("TimeoutSeconds")
    timeout_seconds = MAX_TIMEOUT_SECONDS if timeout in (None, "") else parse_int("TimeoutSeconds", timeout)
    if not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"TimeoutSeconds: {timeout_seconds} is not within 1..{MAX_TIMEOUT_SECONDS}")
    num_results = properties.get("NumResults")
    return JobProps(
        solution_version_arn=_required(properties, "SolutionVersionArn"),
        input_path=_required(properties, "InputPath"),
        output_bucket=_required(properties, "OutputBucket"),
        output_prefix=str(properties.get("OutputPrefix") or ""),
        role_arn=_required(properties, "RoleArn"),
        mode=mode,
        job_name_prefix=_optional(properties, "JobNamePrefix") or DEFAULT_PREFIX,
        timeout_seconds=timeout_seconds,
        input_kms_key_arn=_optional(properties, "InputKmsKeyArn"),
        output_kms_key_arn=_optional(properties, "OutputKmsKeyArn"),
        num_results=None if num_results in (None, "") else parse_int("NumResults", num_results),
        filter_arn=_optional(properties, "FilterArn"),
        item_exploration=_optional_map(properties, "ItemExplorationConfig", _str_value),
        ranking_influence=_optional_map(properties, "RankingInfluence", parse_float),
        theme_item_name_field=_optional(properties, "ThemeItemNameField"),
        run_token=_optional(properties, "RunToken"),
        job_name=_optional(properties, "JobName"),
        tags=parse_tags(properties.get("Tags")),
        wait_handle=_optional(properties, "WaitHandle"),
    )


# --- names and ARNs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackArn:
    partition: str
    region: str
    account: str


def parse_stack_arn(stack_id: str) -> StackArn:
    """`arn:aws:cloudformation:us-east-1:123456789012:stack/name/id` -> its partition, region, account."""
    parts = stack_id.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:5]):
        raise ValueError(f"StackId: {stack_id!r} is not a CloudFormation stack ARN")
    return StackArn(partition=parts[1], region=parts[3], account=parts[4])


def sanitize_name_part(text: str, max_length: int) -> str:
    """Runs of characters outside `[a-zA-Z0-9-_]` become `-`; leading `-`/`_` go; cut to `max_length`.

    A part that is already valid and short enough is kept verbatim: the constructs grant IAM
    permissions on `{JobNamePrefix}-*`.
    """
    cleaned = re.sub(r"[^a-zA-Z0-9\-_]+", "-", text).lstrip("-_")
    return cleaned[:max_length]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def job_hash(props: JobProps, stack_id: str, logical_id: str) -> str:
    """12 hex digits over the stack instance, the logical id and the job-defining properties."""
    material = canonical_json({"stackId": stack_id, "logicalId": logical_id, "job": props.job_defining()})
    return hashlib.sha256(material.encode()).hexdigest()[:HASH_LENGTH]


def derive_job_name(props: JobProps, stack_id: str, logical_id: str) -> str:
    """The explicit `JobName`, else `{JobNamePrefix}-{hash12}` within 63 valid characters."""
    if props.job_name:
        return props.job_name
    prefix = sanitize_name_part(props.job_name_prefix, MAX_JOB_NAME - HASH_LENGTH - 1) or DEFAULT_PREFIX
    return f"{prefix}-{job_hash(props, stack_id, logical_id)}"


def job_arn(stack: StackArn, job_name: str) -> str:
    return f"arn:{stack.partition}:personalize:{stack.region}:{stack.account}:batch-inference-job/{job_name}"


def job_name_from_arn(arn: str) -> str | None:
    """The job name inside a batch inference job ARN, or None for any other physical id."""
    match = re.fullmatch(r"arn:[a-z\d-]+:personalize:[^:]*:[^:]*:batch-inference-job/(.+)", arn)
    return match.group(1) if match else None


def output_s3_uri(props: JobProps, job_name: str) -> str:
    return f"s3://{props.output_bucket}/{props.output_prefix}{job_name}/"


def execution_name(job_name: str, wait_handle: str | None, arn: str) -> str:
    """`{jobName[:47]}-{sha256(waitHandle or jobArn)[:16]}`: one monitor per job and wait handle."""
    digest = hashlib.sha256((wait_handle or arn).encode()).hexdigest()[:16]
    return f"{sanitize_name_part(job_name, EXECUTION_NAME_JOB_PART)}-{digest}"


# --- the CreateBatchInferenceJob request and adoption ------------------------------------------------


def build_create_request(props: JobProps, job_name: str) -> dict[str, Any]:
    """CreateBatchInferenceJob parameters for `props` under `job_name`."""
    job_input: dict[str, Any] = {"path": props.input_path}
    if props.input_kms_key_arn:
        job_input["kmsKeyArn"] = props.input_kms_key_arn
    job_output: dict[str, Any] = {"path": output_s3_uri(props, job_name)}
    if props.output_kms_key_arn:
        job_output["kmsKeyArn"] = props.output_kms_key_arn
    request: dict[str, Any] = {
        "jobName": job_name,
        "solutionVersionArn": props.solution_version_arn,
        "jobInput": {"s3DataSource": job_input},
        "jobOutput": {"s3DataDestination": job_output},
        "roleArn": props.role_arn,
        "batchInferenceJobMode": props.mode,
    }
    if props.num_results is not None:
        request["numResults"] = props.num_results
    if props.filter_arn:
        request["filterArn"] = props.filter_arn
    config: dict[str, Any] = {}
    if props.item_exploration:
        config["itemExplorationConfig"] = dict(props.item_exploration)
    if props.ranking_influence:
        config["rankingInfluence"] = dict(props.ranking_influence)
    if config:
        request["batchInferenceJobConfig"] = config
    if props.theme_item_name_field:
        request["themeGenerationConfig"] = {
            "fieldsForThemeGeneration": {"itemName": props.theme_item_name_field}
        }
    if props.tags:
        request["tags"] = [{"tagKey": key, "tagValue": value} for key, value in props.tags]
    return request


def _identity(job: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "solutionVersionArn": job.get("solutionVersionArn"),
        "jobInput": job.get("jobInput", {}).get("s3DataSource", {}).get("path"),
        "jobOutput": job.get("jobOutput", {}).get("s3DataDestination", {}).get("path"),
    }


def _same_path(wanted: str | None, found: str | None) -> bool:
    return (wanted or "").rstrip("/") == (found or "").rstrip("/")


def job_differences(wanted_request: Mapping[str, Any], existing_job: Mapping[str, Any]) -> list[str]:
    """What makes an existing job (a DescribeBatchInferenceJob `batchInferenceJob`) not ours.

    Ours means the same solution version, input path and output path; empty list -> adopt it.
    """
    wanted, found = _identity(wanted_request), _identity(existing_job)
    return [
        f"{field}: wanted {wanted[field]!r}, found {found[field]!r}"
        for field in wanted
        if not _same_path(wanted[field], found[field])
    ]


# Request fields DescribeBatchInferenceJob echoes back, beyond the identity fields above.
DEFINITION_FIELDS = (
    "roleArn",
    "numResults",
    "filterArn",
    "batchInferenceJobConfig",
    "batchInferenceJobMode",
    "themeGenerationConfig",
)


def definition_differences(wanted_request: Mapping[str, Any], existing_job: Mapping[str, Any]) -> list[str]:
    """Everything the existing job's description shows that differs from the request.

    Stricter than job_differences: used to tell a rollback to the job a resource already has from a
    change that would need a new job under the same (explicit) name. A default the service fills in
    (e.g. numResults) counts as equal when the request leaves the field out.
    """
    differences = job_differences(wanted_request, existing_job)
    for field in DEFINITION_FIELDS:
        wanted = wanted_request.get(field)
        if wanted is not None and wanted != existing_job.get(field):
            differences.append(f"{field}: wanted {wanted!r}, found {existing_job.get(field)!r}")
    return differences


# --- errors -------------------------------------------------------------------------------------------


def classify_error(code: str, http_status: int | None) -> ErrorKind:
    """What a Personalize error code means for the caller's next step."""
    if code in QUEUE_ERROR_CODES:
        return "queue"
    if code == "ResourceAlreadyExistsException":
        return "exists"
    if code == "ResourceNotFoundException":
        return "not_found"
    if code in TRANSIENT_ERROR_CODES or (http_status is not None and http_status >= 500):
        return "transient"
    return "fatal"


# --- updates ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdatePlan:
    """How an Update is carried out. `replace` wins over everything else."""

    changed_job_properties: tuple[str, ...]
    tags_to_set: tuple[tuple[str, str], ...]
    tag_keys_to_remove: tuple[str, ...]
    restart_monitor: bool

    @property
    def replace(self) -> bool:
        return bool(self.changed_job_properties)

    @property
    def retag(self) -> bool:
        return bool(self.tags_to_set or self.tag_keys_to_remove)


def tag_changes(
    old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(tags to set because they are new or changed, keys to remove)."""
    old_map, new_map = dict(old), dict(new)
    to_set = tuple((key, value) for key, value in new if old_map.get(key) != value)
    to_remove = tuple(key for key in old_map if key not in new_map)
    return to_set, to_remove


def classify_update(old: JobProps, new: JobProps) -> UpdatePlan:
    """Job-defining change -> replace; tags -> in place; wait handle or timeout -> new monitor."""
    old_defining, new_defining = old.job_defining(), new.job_defining()
    changed = tuple(
        name for name in JOB_DEFINING_PROPERTIES if old_defining.get(name) != new_defining.get(name)
    )
    to_set, to_remove = tag_changes(old.tags, new.tags)
    restart = (old.wait_handle, old.timeout_seconds) != (new.wait_handle, new.timeout_seconds)
    return UpdatePlan(changed, to_set, to_remove, restart)


def failed_before_error(job_name: str, failure_reason: str | None) -> str:
    return (
        f"Batch inference job {job_name!r}, with exactly this definition, already ran and failed: "
        f"{failure_reason or 'no reason given'}. Personalize keeps failed jobs and the job's name follows "
        "its definition, so the same definition cannot run again. Fix the cause, then set run_token to a "
        "new value (or change job_name) to start a new job."
    )


def handle_reuse_error(job_name: str, changed: tuple[str, ...]) -> str:
    return (
        f"Batch inference job {job_name!r} would be replaced ({', '.join(changed)} changed at deploy "
        "time, through a parameter, SSM value or import), but its WaitCondition stays the same because "
        "the synthesized template did not change, so the deployment could not wait for the new job. "
        "Change run_token together with such a value."
    )


def execution_arn(state_machine_arn: str, execution: str) -> str:
    """`arn:...:stateMachine:NAME` -> `arn:...:execution:NAME:EXECUTION`."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution}"


def fixed_name_replacement_error(job_name: str, changed: tuple[str, ...]) -> str:
    return (
        f"Batch inference job {job_name!r} has an explicit JobName, so it cannot be replaced: "
        f"{', '.join(changed)} changed, and a new job needs a new name (a job cannot be deleted or "
        "renamed). Remove job_name to let the construct name each job, or change it."
    )


# --- the monitor's schedule and decisions -------------------------------------------------------------


def normalize_status(raw: str | None) -> str:
    """`"IN_PROGRESS"`, `"in progress"` -> `"IN PROGRESS"`; unknown values are kept (upper case)."""
    cleaned = re.sub(r"[\s_]+", " ", (raw or "").strip().upper())
    return _STATUS_ALIASES.get(cleaned, cleaned or "UNKNOWN")


def next_wait_seconds(elapsed_seconds: float, timeout_seconds: int) -> int:
    """max(60 s, 10% of the time since the first check), never past the deadline (at least 1 s)."""
    remaining = timeout_seconds - elapsed_seconds
    wait = max(MIN_WAIT_SECONDS, math.ceil(WAIT_FRACTION_OF_ELAPSED * elapsed_seconds))
    return max(1, min(wait, math.ceil(remaining)))


@dataclass(frozen=True)
class Decision:
    """Either wait `wait_seconds` and check again, or end with `result` and `reason`."""

    done: bool
    wait_seconds: int = 0
    result: Result | None = None
    reason: str = ""

    @staticmethod
    def end(result: Result, reason: str) -> Decision:
        return Decision(done=True, result=result, reason=reason)


def _wait_or_time_out(status: str, elapsed_seconds: float, timeout_seconds: int, note: str = "") -> Decision:
    if elapsed_seconds >= timeout_seconds:
        return Decision.end(
            "FAILURE",
            f"The batch inference job did not finish within the timeout of {timeout_seconds} s; "
            f"its last status was {status}{note}.",
        )
    return Decision(done=False, wait_seconds=next_wait_seconds(elapsed_seconds, timeout_seconds))


def monitor_failure_reason(caught: Mapping[str, Any] | None) -> str:
    """The reason for a job whose monitor stopped on an error (Step Functions' Catch: Error, Cause)."""
    caught = caught or {}
    error = str(caught.get("Error") or "unknown error")
    cause = truncate_bytes(str(caught.get("Cause") or ""), 1000)
    return f"The monitor of the batch inference job stopped on {error}: {cause}".rstrip(": ")


def decide_on_status(
    status: str, failure_reason: str | None, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """ACTIVE -> SUCCESS; CREATE FAILED -> FAILURE with the job's reason; past the timeout -> FAILURE."""
    if status == ACTIVE:
        return Decision.end("SUCCESS", "The batch inference job is ACTIVE.")
    if status == CREATE_FAILED:
        return Decision.end(
            "FAILURE", f"The batch inference job failed: {failure_reason or 'no reason given'}"
        )
    return _wait_or_time_out(status, elapsed_seconds, timeout_seconds)


def decide_while_queued(elapsed_seconds: float, timeout_seconds: int) -> Decision:
    """No free slot yet (quota of pending or in-progress jobs): try again later, within the timeout."""
    note = " (waiting for a free slot under the quota of pending or in-progress batch inference jobs)"
    return _wait_or_time_out(QUEUED, elapsed_seconds, timeout_seconds, note)


def decide_on_retryable_error(
    consecutive_errors: int, error: str, status: str, elapsed_seconds: float, timeout_seconds: int
) -> Decision:
    """Check again later, unless the errors keep coming or the timeout has passed."""
    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
        return Decision.end(
            "FAILURE",
            f"The batch inference job could not be checked ({consecutive_errors} errors in a row): {error}",
        )
    return _wait_or_time_out(status, elapsed_seconds, timeout_seconds, f" (last error: {error})")


# --- time ---------------------------------------------------------------------------------------------


def parse_time(value: str) -> datetime:
    """ISO 8601 (Step Functions' `$$.State.EnteredTime`, with `Z`) -> an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- sizes --------------------------------------------------------------------------------------------


def fit_text(text: str, render: Callable[[str], bytes], limit_bytes: int) -> str:
    """The longest prefix of `text` (marked as truncated) whose rendering stays under `limit_bytes`."""
    if len(render(text)) < limit_bytes:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(text[:middle] + TRUNCATION_MARK)) < limit_bytes:
            low = middle
        else:
            high = middle - 1
    return text[:low] + TRUNCATION_MARK


def truncate_bytes(text: str, limit_bytes: int) -> str:
    """`text` cut (and marked) so that its UTF-8 encoding stays under `limit_bytes`."""
    return fit_text(text, lambda candidate: candidate.encode(), limit_bytes)


def signal_body(result: Result, reason: str, job_name: str, data: Mapping[str, Any]) -> bytes:
    """The WaitCondition signal document, under 4,096 bytes whatever the reason's length."""
    data_text = json.dumps(dict(data))

    def render(candidate: str) -> bytes:
        document = {"Status": result, "Reason": candidate, "UniqueId": job_name, "Data": data_text}
        return json.dumps(document).encode()

    return render(fit_text(reason, render, SIGNAL_LIMIT_BYTES))
