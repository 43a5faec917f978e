"""A Personalize stand-in for every job kind the library runs, speaking the real JSON 1.1 protocol.

The kinds come from the handlers' contract (``lambda/contract.py``): each kind's Create, Describe (and
list-by-name, stop, metrics) calls, and Tag/Untag/ListTagsForResource. A job is PENDING, then IN
PROGRESS, then ACTIVE (a batch job with its output written to S3 in Personalize's format; a dataset
import having read its data; a solution version trained), or CREATE FAILED with a reason, on the
simulated clock. At most ``quota`` jobs of a kind are pending or in progress at once
(``LimitExceededException`` otherwise), and ``throttle=N`` answers ``ThrottlingException`` to N requests
out of every N + 1.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.s3 import OutputObject, S3Sandbox
from constructs_lib.rehearsal.server import Caller, ServiceError
from constructs_lib.rehearsal.timeline import Timeline

PENDING, IN_PROGRESS, ACTIVE, CREATE_FAILED = "PENDING", "IN PROGRESS", "ACTIVE", "CREATE FAILED"
STOPPING, STOPPED = "CREATE STOPPING", "CREATE STOPPED"
RUNNING = (PENDING, IN_PROGRESS)
ENDED = (ACTIVE, CREATE_FAILED, STOPPED)
DEFAULT_NUM_RESULTS = 25
CATALOG_SIZE = 10_000
STOP_SECONDS = 60
# What one batch job reads (PDG, "Preparing input data for batch recommendations"; themes: "Batch
# recommendations with themes from Content Generator").
MAX_INPUT_FILES = 1000
MAX_INPUT_BYTES = 1024**3
THEME_ITEMS_PER_FILE = 100
# How each kind spells its statuses in a Describe answer (batch jobs drop the CREATE).
_SPELLING = {
    PENDING: "CREATE PENDING",
    IN_PROGRESS: "CREATE IN_PROGRESS",
    ACTIVE: "ACTIVE",
    CREATE_FAILED: "CREATE FAILED",
    STOPPING: "CREATE STOPPING",
    STOPPED: "CREATE STOPPED",
}
_BATCH_KINDS = (contract.BATCH_INFERENCE.key, contract.BATCH_SEGMENT.key)
# A data deletion job spells its statuses its own way (API_DescribeDataDeletionJob: PENDING >
# IN_PROGRESS > COMPLETED or FAILED).
_DELETION_SPELLING = {
    PENDING: "PENDING",
    IN_PROGRESS: "IN_PROGRESS",
    ACTIVE: "COMPLETED",
    CREATE_FAILED: "FAILED",
}
# What a data deletion job reads (PDG, "Deleting users"): one CSV with a USER_ID column, at most 100 MB in
# all.
DELETION_COLUMN = "USER_ID"
MAX_DELETION_INPUT_BYTES = 100 * 1024**2
# The file a dataset export writes under its output path (its name is the rehearsal's own).
EXPORT_FILE = "part-00000.csv"
_THEMES = (
    "Cozy weekend picks",
    "Bold and adventurous",
    "Timeless classics",
    "Fresh arrivals worth a look",
    "Everyday essentials",
)

# A check the stand-in makes as the job's role before it reads or writes S3 (IAM, in the rehearsal):
# (role ARN, action, resource ARN, key ARN or None) -> a denial's reason, or None when allowed.
AccessCheck = Callable[[str, str, str, "str | None"], "str | None"]


@dataclass(frozen=True)
class Durations:
    """Simulated seconds a job of a kind stays PENDING, then IN PROGRESS."""

    pending: float
    running: float


DEFAULT_DURATIONS = {
    contract.BATCH_INFERENCE.key: Durations(240, 2700),
    contract.BATCH_SEGMENT.key: Durations(240, 2700),
    contract.DATASET_IMPORT.key: Durations(120, 1200),
    contract.SOLUTION_VERSION.key: Durations(300, 7200),
    contract.DATA_DELETION.key: Durations(300, 3600),
    contract.DATASET_EXPORT.key: Durations(120, 900),
}


# The resources CloudFormation creates natively (AWS::Personalize::*) that the stand-in keeps track of:
# what Personalize refuses to delete depends on them and on the jobs made from them.
DATASET_GROUP, DATASET, SCHEMA, SOLUTION = (
    "AWS::Personalize::DatasetGroup",
    "AWS::Personalize::Dataset",
    "AWS::Personalize::Schema",
    "AWS::Personalize::Solution",
)
NATIVE_TYPES = frozenset({DATASET_GROUP, DATASET, SCHEMA, SOLUTION})
# Statuses in which a job blocks the delete of what it is made from (DeleteSolution, DeleteDataset).
_BLOCKING = (PENDING, IN_PROGRESS, STOPPING)


@dataclass
class NativeResource:
    """A dataset group, dataset, schema or solution a stack created."""

    type: str
    arn: str
    dataset_group: str = ""  # a dataset's or solution's DatasetGroupArn
    schema: str = ""  # a dataset's SchemaArn


@dataclass
class StandInJob:
    kind: contract.JobKind
    name: str
    arn: str
    request: dict[str, Any]
    created_at: float
    pending_until: float
    done_at: float
    status: str = PENDING
    failure_reason: str | None = None
    updated_at: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    outputs: list[OutputObject] = field(default_factory=list)
    throttled: int = 0
    num_deleted: int | None = None  # a data deletion job's records deleted, once COMPLETED


class PersonalizeStandIn:
    target_prefix = "AmazonPersonalize"
    content_type = "application/x-amz-json-1.1"

    def __init__(
        self,
        *,
        clock: SimClock,
        timeline: Timeline,
        s3: S3Sandbox,
        quota: int | None = None,
        throttle: int = 0,
        durations: Mapping[str, Durations] | None = None,
    ) -> None:
        self._clock = clock
        self._timeline = timeline
        self._s3 = s3
        self.quota = quota
        self.throttle = throttle
        self.durations = {**DEFAULT_DURATIONS, **(durations or {})}
        self._jobs: dict[str, StandInJob] = {}  # by ARN
        self._failures: dict[str, str] = {}  # by job name
        self._lock = threading.RLock()
        self._requests = 0
        self.calls: dict[str, int] = {}
        self.throttled = 0
        self.limit_exceeded = 0
        self.occupied: dict[str, int] = {}  # slots taken by jobs outside the rehearsal, per kind
        self.access_check: AccessCheck | None = None
        self.denials: list[str] = []
        self._operations = self._operation_table()
        self.natives: dict[str, NativeResource] = {}  # by ARN
        self.deleted_natives: set[str] = set()  # ARNs of native resources CloudFormation deleted
        self.deleted_users: dict[str, set[str]] = {}  # by dataset group ARN: users a deletion job erased

    # ------------------------------------------------------------------ native resources (CloudFormation's)

    def register_native(self, kind: str, arn: str, properties: Mapping[str, Any]) -> None:
        """CloudFormation created a native Personalize resource (again, under an ARN deleted before)."""
        with self._lock:
            self.deleted_natives.discard(arn)
            self.natives[arn] = NativeResource(
                kind,
                arn,
                dataset_group=str(properties.get("DatasetGroupArn") or ""),
                schema=str(properties.get("SchemaArn") or ""),
            )

    def delete_native(self, kind: str, arn: str) -> str | None:
        """CloudFormation deletes a native resource: None once deleted, or Personalize's refusal.

        DeleteSolution is refused while a version of the solution is CREATE PENDING, IN PROGRESS or
        STOPPING; DeleteDataset while an import into it, or a training in its dataset group, is pending or
        in progress; DeleteDatasetGroup while a dataset or solution of the group exists, or a job in it
        runs; DeleteSchema while a dataset uses the schema (docs/rehearsal-fidelity.md).
        """
        with self._lock:
            self.settle()
            refusal = self._delete_refusal(kind, arn)
            if refusal is None:
                self.natives.pop(arn, None)
                self.deleted_natives.add(arn)
            return refusal

    def _delete_refusal(self, kind: str, arn: str) -> str | None:
        if kind == SOLUTION:
            training = self._blocking(
                lambda job: job.kind is contract.SOLUTION_VERSION and job.request.get("solutionArn") == arn
            )
            if training is not None:
                return (
                    f"ResourceInUseException: Cannot delete solution {arn}: its solution version "
                    f"{training.arn} is {_SPELLING[training.status]}"
                )
        elif kind == DATASET:
            dataset = self.natives.get(arn)
            group = dataset.dataset_group if dataset is not None else ""
            job = self._blocking(
                lambda job: (
                    (job.kind is contract.DATASET_IMPORT and job.request.get("datasetArn") == arn)
                    or (
                        bool(group)
                        and job.kind is contract.SOLUTION_VERSION
                        and job.status in RUNNING
                        and self._group_of_solution(str(job.request.get("solutionArn"))) == group
                    )
                )
            )
            if job is not None:
                return (
                    f"ResourceInUseException: Cannot delete dataset {arn}: the {job.kind.noun} {job.arn} "
                    f"is {_SPELLING[job.status]}"
                )
        elif kind == DATASET_GROUP:
            members = sorted(
                native.arn
                for native in self.natives.values()
                if native.dataset_group == arn and native.type in (DATASET, SOLUTION)
            )
            if members:
                return (
                    f"ResourceInUseException: Cannot delete dataset group {arn}: delete its datasets and "
                    f"solutions first ({', '.join(members)})"
                )
        elif kind == SCHEMA:
            users = sorted(native.arn for native in self.natives.values() if native.schema == arn)
            if users:
                return f"ResourceInUseException: Cannot delete schema {arn}: used by {', '.join(users)}"
        return None

    def _blocking(self, made_from: Callable[[StandInJob], bool]) -> StandInJob | None:
        return next((job for job in self._jobs.values() if job.status in _BLOCKING and made_from(job)), None)

    def _group_of_solution(self, solution_arn: str) -> str:
        native = self.natives.get(solution_arn)
        return native.dataset_group if native is not None else ""

    # ------------------------------------------------------------------ for the driver

    def fail(self, job_name: str, reason: str) -> None:
        """Make the job named ``job_name`` (now or once created) end CREATE FAILED with ``reason``."""
        with self._lock:
            self._failures[job_name] = reason

    def settle(self) -> None:
        """Apply every status transition due by now (writing outputs of jobs that become ACTIVE)."""
        with self._lock:
            now = self._clock.elapsed
            for job in self._jobs.values():
                self._advance(job, now)

    def jobs(self) -> list[StandInJob]:
        with self._lock:
            return list(self._jobs.values())

    def job(self, name: str) -> StandInJob | None:
        with self._lock:
            return next((job for job in self._jobs.values() if job.name == name), None)

    def quota_of(self, kind: contract.JobKind) -> int:
        return int(self.quota if self.quota is not None else kind.quota)

    # ------------------------------------------------------------------ the protocol

    def _operation_table(self) -> dict[str, Callable[[dict[str, Any], Caller], dict[str, Any]]]:
        table: dict[str, Callable[[dict[str, Any], Caller], dict[str, Any]]] = {
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
        }
        for kind in contract.KINDS.values():
            table[kind.create] = functools.partial(self._create, kind)
            table[kind.describe] = functools.partial(self._describe, kind)
            if kind.list_by_name:
                table[kind.list_by_name] = functools.partial(self._list, kind)
            if kind.stop:
                table[kind.stop] = functools.partial(self._stop, kind)
            if kind.metrics:
                table[kind.metrics] = functools.partial(self._metrics, kind)
        from constructs_lib.rehearsal.recurring import listings  # what the scheduled runs' skip checks read

        table.update(listings(self))
        return table

    def handle(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if operation not in self._operations:
            raise ServiceError("UnknownOperationException", f"The stand-in does not implement {operation}")
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            self._throttle(request)
            self.settle()
            return self._operations[operation](request, caller)

    def _throttle(self, request: dict[str, Any]) -> None:
        self._requests += 1
        if self.throttle <= 0 or self._requests % (self.throttle + 1) == 0:
            return
        self.throttled += 1
        named = str(request.get("jobName") or request.get("name") or "")
        for job in self._jobs.values():
            if job.name == named or job.arn in request.values():
                job.throttled += 1
        raise ServiceError("ThrottlingException", "Rate exceeded")

    def _create(self, kind: contract.JobKind, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _validate_create(kind, request)
        for member in ("datasetGroupArn", "datasetArn"):
            gone = request.get(member)
            if gone and gone in self.deleted_natives:
                raise ServiceError("ResourceNotFoundException", f"Could not find resource with ARN {gone}.")
        name = str(request[kind.name_member])
        existing = [job for job in self._jobs.values() if job.kind is kind and job.name == name]
        if kind is contract.SOLUTION_VERSION:
            existing = [job for job in existing if job.request["solutionArn"] == request["solutionArn"]]
        arn = existing[0].arn if existing else self._arn(kind, request, name, caller)
        if existing:
            raise ServiceError(
                "ResourceAlreadyExistsException", f"Another resource with Arn {arn} already exists."
            )
        running = sum(1 for job in self._jobs.values() if job.kind is kind and job.status in RUNNING)
        running += self.occupied.get(kind.key, 0)
        if running >= self.quota_of(kind):
            self.limit_exceeded += 1
            raise ServiceError(
                "LimitExceededException",
                f"The account has {running} {kind.noun}s in CREATE PENDING or CREATE IN_PROGRESS status; "
                f"the limit is {self.quota_of(kind)}.",
            )
        now = self._clock.elapsed
        durations = self.durations[kind.key]
        job = StandInJob(
            kind=kind,
            name=name,
            arn=arn,
            request=json.loads(json.dumps(request)),
            created_at=now,
            pending_until=now + durations.pending,
            done_at=now + durations.pending + durations.running,
            updated_at=now,
            tags={tag["tagKey"]: tag.get("tagValue", "") for tag in request.get("tags", [])},
        )
        self._jobs[arn] = job
        self._timeline.add(name, "status", f"{kind.noun} {name} created -> PENDING")
        return {kind.arn_member: arn}

    @staticmethod
    def _arn(kind: contract.JobKind, request: dict[str, Any], name: str, caller: Caller) -> str:
        derived = kind.job_arn("aws", caller.region, caller.account, name)
        if derived is not None:
            return str(derived)
        # A solution version: the service names it inside its solution.
        version = hashlib.sha256(f"{request['solutionArn']}|{name}".encode()).hexdigest()[:8]
        return f"{request['solutionArn']}/{version}"

    def _describe(self, kind: contract.JobKind, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get(kind.arn_member, ""), kind)
        return {kind.described: self._render(job)}

    def _list(self, kind: contract.JobKind, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        assert kind.list_parent is not None and kind.list_member is not None
        _, parameter = kind.list_parent
        parent = request.get(parameter)
        jobs = [
            job for job in self._jobs.values() if job.kind is kind and job.request.get(parameter) == parent
        ]
        start = int(request.get("nextToken") or 0)
        size = int(request.get("maxResults") or 100)
        page = jobs[start : start + size]
        answer: dict[str, Any] = {
            kind.list_member: [
                {kind.arn_member: job.arn, "status": _SPELLING[job.status], **self._times(job)}
                for job in page
            ]
        }
        if start + size < len(jobs):
            answer["nextToken"] = str(start + size)
        return answer

    def _stop(self, kind: contract.JobKind, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get(kind.arn_member, ""), kind)
        if job.status not in RUNNING:
            raise ServiceError("ResourceInUseException", f"{job.arn} is {job.status}: nothing to stop")
        job.status, job.updated_at = STOPPING, self._clock.elapsed
        job.done_at = self._clock.elapsed + STOP_SECONDS
        self._timeline.add(job.name, "status", f"status {STOPPING} (stop requested)")
        return {}

    def _metrics(self, kind: contract.JobKind, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get(kind.arn_member, ""), kind)
        if job.status != ACTIVE:
            raise ServiceError("ResourceInUseException", f"{job.arn} is {job.status}, not ACTIVE")
        seed = int(hashlib.sha256(job.arn.encode()).hexdigest()[:6], 16)
        return {
            kind.arn_member: job.arn,
            "metrics": {
                "coverage": round(0.2 + (seed % 300) / 1000, 4),
                "mean_reciprocal_rank_at_25": round(0.05 + (seed % 97) / 1000, 4),
                "normalized_discounted_cumulative_gain_at_10": round(0.08 + (seed % 89) / 1000, 4),
                "precision_at_25": round(0.01 + (seed % 53) / 1000, 4),
            },
        }

    def _tag(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get("resourceArn", ""))
        job.tags.update({tag["tagKey"]: tag.get("tagValue", "") for tag in request.get("tags", [])})
        if len(job.tags) > contract.MAX_TAGS:
            raise ServiceError("TooManyTagsException", f"{job.arn} would carry {len(job.tags)} tags")
        self._timeline.add(job.name, "note", f"tags set: {sorted(job.tags.items())}")
        return {}

    def _untag(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get("resourceArn", ""))
        for key in request.get("tagKeys", []):
            job.tags.pop(key, None)
        self._timeline.add(job.name, "note", f"tags removed: {request.get('tagKeys', [])}")
        return {}

    def _list_tags(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get("resourceArn", ""))
        return {"tags": [{"tagKey": key, "tagValue": value} for key, value in sorted(job.tags.items())]}

    def _find(self, arn: str, kind: contract.JobKind | None = None) -> StandInJob:
        job = self._jobs.get(arn)
        if job is None or (kind is not None and job.kind is not kind):
            raise ServiceError("ResourceNotFoundException", f"Could not find resource with ARN {arn}.")
        return job

    def _times(self, job: StandInJob) -> dict[str, Any]:
        return {
            "creationDateTime": self._clock.epoch_seconds(job.created_at),
            "lastUpdatedDateTime": self._clock.epoch_seconds(job.updated_at),
        }

    def _render(self, job: StandInJob) -> dict[str, Any]:
        """The Describe answer: the request as the service echoes it (with its defaults), the status."""
        kind = job.kind
        rendered: dict[str, Any] = {key: value for key, value in job.request.items() if key != "tags"}
        for spec in kind.fields:
            if (
                spec.omitted not in (None, contract.SERVICE_FILLS)
                and contract.value_at(rendered, spec.path) is None
            ):
                contract.put_at(rendered, spec.path, spec.omitted)
        if kind.key in _BATCH_KINDS:
            rendered.setdefault("numResults", DEFAULT_NUM_RESULTS)
        rendered[kind.arn_member] = job.arn
        batch = kind.key in _BATCH_KINDS
        if kind is contract.DATA_DELETION:
            rendered["status"] = _DELETION_SPELLING[job.status]
            if job.num_deleted is not None:
                rendered["numDeleted"] = job.num_deleted
        else:
            rendered["status"] = job.status if batch or job.status == ACTIVE else _SPELLING[job.status]
        rendered.update(self._times(job))
        if job.failure_reason:
            rendered["failureReason"] = job.failure_reason
        return rendered

    # ------------------------------------------------------------------ running a job

    def _advance(self, job: StandInJob, now: float) -> None:
        if job.status == PENDING and now >= job.pending_until:
            refusal = self._cannot_start(job)
            if refusal is not None:
                job.status, job.failure_reason, job.updated_at = CREATE_FAILED, refusal, job.pending_until
                job.done_at = job.pending_until
                self._timeline.add(
                    job.name, "status", f"status CREATE FAILED: {refusal}", at=job.pending_until
                )
                return
            job.status, job.updated_at = IN_PROGRESS, job.pending_until
            self._timeline.add(job.name, "status", "status IN PROGRESS", at=job.pending_until)
        if job.status == STOPPING and now >= job.done_at:
            job.status, job.updated_at = STOPPED, job.done_at
            self._timeline.add(job.name, "status", f"status {STOPPED}", at=job.done_at)
        if job.status == IN_PROGRESS and now >= job.done_at:
            self._finish(job)

    def _cannot_start(self, job: StandInJob) -> str | None:
        """Why Personalize fails the job as it leaves PENDING, from what it is made of (None: it runs).

        A batch inference or segment job needs an ACTIVE solution version; a training needs data imported
        into its solution's dataset group. Only what the stand-in knows is checked: a solution version it
        did not train, or a solution a stack did not create, is taken to be ready.
        """
        if job.kind.key in _BATCH_KINDS:
            arn = str(job.request.get("solutionVersionArn", ""))
            version = self._jobs.get(arn)
            if version is not None and version.kind is contract.SOLUTION_VERSION and version.status != ACTIVE:
                return (
                    f"The solution version {arn} is {_SPELLING[version.status]}, not ACTIVE: a "
                    f"{job.kind.noun} needs an ACTIVE solution version."
                )
        elif job.kind is contract.SOLUTION_VERSION:
            solution = self.natives.get(str(job.request.get("solutionArn", "")))
            group = solution.dataset_group if solution is not None else ""
            if group:
                datasets = {
                    native.arn
                    for native in self.natives.values()
                    if native.type == DATASET and native.dataset_group == group
                }
                imported = any(
                    other.kind is contract.DATASET_IMPORT
                    and other.status == ACTIVE
                    and other.request.get("datasetArn") in datasets
                    for other in self._jobs.values()
                )
                if not imported:
                    return (
                        f"No data in dataset group {group}: import data into its datasets before "
                        "training a solution version."
                    )
        return None

    def _finish(self, job: StandInJob) -> None:
        job.updated_at = job.done_at
        reason = self._failures.get(job.name) or self._run(job)
        if reason:
            job.status, job.failure_reason = CREATE_FAILED, reason
            self._timeline.add(job.name, "status", f"status CREATE FAILED: {reason}", at=job.done_at)
            return
        job.status = ACTIVE
        self._timeline.add(job.name, "status", "status ACTIVE", at=job.done_at)
        for output in job.outputs:
            self._timeline.add(
                job.name, "output", f"output {output.uri} ({output.records} records)", at=job.done_at
            )
        if job.num_deleted is not None:
            self._timeline.add(job.name, "output", f"{job.num_deleted} records deleted", at=job.done_at)

    def _denied(self, job: StandInJob, action: str, resource: str, key: str | None) -> str | None:
        role = job.request.get("roleArn")
        if self.access_check is None or not role:
            return None
        reason = self.access_check(str(role), action, resource, key)
        if reason is not None:
            self.denials.append(reason)
        return reason

    def _run(self, job: StandInJob) -> str | None:
        """What the job does at its end; a failure reason when it cannot."""
        kind = job.kind
        if kind is contract.SOLUTION_VERSION:
            return None
        if kind is contract.DATA_DELETION:
            return self._delete_users(job)
        if kind is contract.DATASET_EXPORT:
            return self._export(job)
        if kind is contract.DATASET_IMPORT:
            location = str(job.request["dataSource"]["dataLocation"])
            if self._denied(job, "s3:ListBucket", _bucket_arn(location), None):
                return f"Insufficient privileges for accessing data in {location}."
            files = self._s3.read_input(location)
            if not files:
                return f"Input data not found at {location}."
            return None
        input_source = job.request["jobInput"]["s3DataSource"]
        output_destination = job.request["jobOutput"]["s3DataDestination"]
        input_path, output_path = str(input_source["path"]), str(output_destination["path"])
        for action, resource, key in (
            ("s3:ListBucket", _bucket_arn(input_path), None),
            ("s3:GetObject", _object_arn(input_path, "*"), input_source.get("kmsKeyArn")),
            ("s3:PutObject", _object_arn(output_path, "*"), output_destination.get("kmsKeyArn")),
        ):
            if self._denied(job, action, resource, key):
                where = output_path if action == "s3:PutObject" else input_path
                return f"Insufficient privileges for accessing data in {where}."
        files = self._s3.read_input(input_path)
        if not files:
            return f"Input data not found at {input_path}."
        mode = job.request.get("batchInferenceJobMode", "BATCH_INFERENCE")
        over = (
            _input_over_limits(files, input_path, theme=mode == "THEME_GENERATION")
            if kind is contract.BATCH_INFERENCE
            else None
        )
        if over is not None:
            return over
        num_results = int(job.request.get("numResults", DEFAULT_NUM_RESULTS))
        prefix = output_path if output_path.endswith("/") else f"{output_path}/"
        for item in files:
            make = _segment_line if kind is contract.BATCH_SEGMENT else _output_line
            lines = [make(line, mode, num_results) for line in item.lines if line.strip()]
            uri = f"{prefix}{item.key.rsplit('/', 1)[-1]}.out"
            self._s3.write(uri, "".join(line + "\n" for line in lines))
            job.outputs.append(OutputObject(uri, len(lines)))
        return None

    def _delete_users(self, job: StandInJob) -> str | None:
        """A data deletion job: reads the CSV of user ids at its data location (as its role), erases
        those users from the dataset group, and counts the records it deleted: the rows of the group's
        imported data that name one of them (PDG, "Deleting users and their data")."""
        group = str(job.request["datasetGroupArn"])
        if group in self.deleted_natives:
            return f"The dataset group {group} does not exist."
        location = str(job.request["dataSource"]["dataLocation"])
        if self._denied(job, "s3:ListBucket", _bucket_arn(location), None) or self._denied(
            job, "s3:GetObject", _object_arn(location, "*"), None
        ):
            return f"Insufficient privileges for accessing data in {location}."
        files = self._s3.read_input(location)
        if not files:
            return f"Input data not found at {location}."
        size = sum(len(line.encode()) + 1 for item in files for line in item.lines)
        if size > MAX_DELETION_INPUT_BYTES:
            return f"The input at {location} is {size:,} bytes; a data deletion job reads at most 100 MB."
        users: set[str] = set()
        for item in files:
            rows = list(csv.reader(line for line in item.lines if line.strip()))
            header = [column.strip().upper() for column in rows[0]] if rows else []
            if DELETION_COLUMN not in header:
                return f"The input file {item.key} has no {DELETION_COLUMN} column."
            column = header.index(DELETION_COLUMN)
            users.update(row[column] for row in rows[1:] if len(row) > column and row[column])
        erased = self.deleted_users.setdefault(group, set())
        job.num_deleted = sum(
            1
            for dataset in self._datasets_of(group)
            for row in self._rows(dataset)
            if row.get("USER_ID") in users - erased
        )
        erased.update(users)
        return None

    def _export(self, job: StandInJob) -> str | None:
        """A dataset export job: writes the dataset's data as CSV under its output path (as its role).
        BULK is what the dataset's ACTIVE imports read, less the users a deletion erased; the rehearsal
        has no incremental (PUT) data, so PUT exports the header only."""
        dataset = str(job.request["datasetArn"])
        if dataset in self.deleted_natives:
            return f"The dataset {dataset} does not exist."
        destination = job.request["jobOutput"]["s3DataDestination"]
        path = str(destination["path"])
        if self._denied(job, "s3:PutObject", _object_arn(path, "*"), destination.get("kmsKeyArn")):
            return f"Insufficient privileges for accessing data in {path}."
        mode = str(job.request.get("ingestionMode") or "PUT")
        rows = self._rows(dataset) if mode in ("BULK", "ALL") else []
        header = list(rows[0]) if rows else ["USER_ID", "ITEM_ID", "TIMESTAMP"]
        lines = [",".join(header), *(",".join(row.get(column, "") for column in header) for row in rows)]
        uri = f"{path if path.endswith('/') else path + '/'}{EXPORT_FILE}"
        self._s3.write(uri, "".join(line + "\n" for line in lines))
        job.outputs.append(OutputObject(uri, len(rows)))
        return None

    def _datasets_of(self, group: str) -> list[str]:
        """The datasets of a dataset group the stand-in knows (made by a rehearsed stack)."""
        return [
            native.arn
            for native in self.natives.values()
            if native.type == DATASET and native.dataset_group == group
        ]

    def _rows(self, dataset: str) -> list[dict[str, str]]:
        """The rows the dataset holds: what its ACTIVE imports read (a FULL import replaces what came
        before it), less the users erased from its dataset group."""
        imports = sorted(
            (
                job
                for job in self._jobs.values()
                if job.kind is contract.DATASET_IMPORT
                and job.status == ACTIVE
                and job.request.get("datasetArn") == dataset
            ),
            key=lambda job: job.done_at,
        )
        rows: list[dict[str, str]] = []
        for job in imports:
            if job.request.get("importMode", "FULL") == "FULL":
                rows = []
            for item in self._s3.read_input(str(job.request["dataSource"]["dataLocation"])):
                rows.extend(csv.DictReader(line for line in item.lines if line.strip()))
        native = self.natives.get(dataset)
        erased = self.deleted_users.get(native.dataset_group, set()) if native is not None else set()
        return [row for row in rows if row.get("USER_ID") not in erased]


def _input_over_limits(files: list[Any], input_path: str, *, theme: bool) -> str | None:
    """A batch job's input beyond what Personalize reads (the job fails; the wording is the rehearsal's):
    at most MAX_INPUT_FILES files and MAX_INPUT_BYTES in all, and for theme generation at most
    THEME_ITEMS_PER_FILE items in each file."""
    if len(files) > MAX_INPUT_FILES:
        return (
            f"The input at {input_path} is {len(files)} files; a batch job reads at most "
            f"{MAX_INPUT_FILES:,} files."
        )
    size = sum(len(line.encode()) + 1 for item in files for line in item.lines)
    if size > MAX_INPUT_BYTES:
        return f"The input at {input_path} is {size:,} bytes; a batch job reads at most 1 GB."
    if theme:
        for item in files:
            items = sum(1 for line in item.lines if line.strip())
            if items > THEME_ITEMS_PER_FILE:
                return (
                    f"The input file {item.key} holds {items} items; theme generation reads at most "
                    f"{THEME_ITEMS_PER_FILE} items per input file."
                )
    return None


def _bucket_arn(uri: str) -> str:
    return f"arn:aws:s3:::{uri.removeprefix('s3://').partition('/')[0]}"


def _object_arn(uri: str, suffix: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    prefix = key if key.endswith("/") or not key else key.rsplit("/", 1)[0] + "/"
    return f"arn:aws:s3:::{bucket}/{prefix}{suffix}"


def _validate_create(kind: contract.JobKind, request: dict[str, Any]) -> None:
    """What the service checks synchronously (the handler's botocore already checked the shapes)."""
    problems: list[str] = []
    name = str(request.get(kind.name_member, ""))
    if not (1 <= len(name) <= contract.MAX_JOB_NAME_LENGTH and re.match(contract.JOB_NAME_PATTERN, name)):
        problems.append(
            f"{kind.name_member} {name!r} must match {contract.JOB_NAME_PATTERN} within 63 characters"
        )
    for spec in kind.fields:
        value = contract.value_at(request, spec.path)
        if spec.required and value in (None, ""):
            problems.append(f"{'.'.join(spec.path)} is required")
        elif isinstance(value, str) and spec.prop.endswith("Arn") and "Kms" not in spec.prop:
            pattern = (
                contract.ROLE_ARN_PATTERN if spec.prop == "RoleArn" else contract.PERSONALIZE_ARN_PATTERN
            )
            if not re.match(pattern, value):
                problems.append(f"{'.'.join(spec.path)} {value!r} is not a valid ARN")
        elif (
            isinstance(value, str)
            and spec.path[-1] in ("path", "dataLocation")
            and (not re.match(r"^(s3|http|https)://.+$", value) or len(value) > contract.MAX_S3_PATH_LENGTH)
        ):
            problems.append(f"{'.'.join(spec.path)} {value!r} is not an S3 path of at most 256 characters")
    if kind.output is not None:
        path = str(contract.value_at(request, kind.output.path) or "")
        if len(path) > contract.MAX_S3_PATH_LENGTH:
            problems.append(f"{'.'.join(kind.output.path)} is {len(path)} characters; at most 256")
    if request.get("batchInferenceJobMode") == "THEME_GENERATION" and "themeGenerationConfig" not in request:
        problems.append("themeGenerationConfig is required when batchInferenceJobMode is THEME_GENERATION")
    if len(request.get("tags", [])) > contract.MAX_TAGS:
        problems.append(f"at most {contract.MAX_TAGS} tags")
    if problems:
        raise ServiceError("InvalidInputException", "; ".join(problems))


def _output_line(line: str, mode: str, num_results: int) -> str:
    """One output record in Personalize's format for one input record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return json.dumps({"input": line, "output": None, "error": "The input record is not valid JSON."})
    seed = int(hashlib.sha256(line.encode()).hexdigest()[:8], 16)
    excluded = str(record.get("itemId", "")) if isinstance(record, dict) else ""
    items = [item for item in _items(seed, num_results + 1) if item != excluded][:num_results]
    scores = [round(0.2 * 0.85**rank, 6) for rank in range(len(items))]
    output: dict[str, Any] = {"recommendedItems": items}
    if mode == "THEME_GENERATION":
        output["theme"] = _THEMES[seed % len(_THEMES)]
        output["itemsThemeRelevanceScores"] = scores
    else:
        output["scores"] = scores
    return json.dumps({"input": record, "output": output, "error": None})


def _segment_line(line: str, mode: str, num_results: int) -> str:
    """One batch segment record: the users most likely to interact with the input's item(s)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return json.dumps({"input": line, "output": None, "error": "The input record is not valid JSON."})
    seed = int(hashlib.sha256(line.encode()).hexdigest()[:8], 16)
    users = [f"user-{(seed + 41 * rank) % CATALOG_SIZE:04d}" for rank in range(num_results)]
    return json.dumps({"input": record, "output": {"usersList": users}, "error": None})


def _items(seed: int, count: int) -> list[str]:
    # 37 is coprime with the catalog size: `count` distinct items.
    return [f"item-{(seed + 37 * rank) % CATALOG_SIZE:04d}" for rank in range(count)]
