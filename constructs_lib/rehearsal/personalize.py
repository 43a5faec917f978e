"""A Personalize stand-in for batch inference jobs, speaking the real JSON 1.1 protocol.

Create/Describe/List batch inference jobs and Tag/Untag/ListTags. A job is PENDING, then IN PROGRESS,
then ACTIVE with its output written to S3 in Personalize's format, or CREATE FAILED with a reason, on
the simulated clock. At most `quota` jobs are PENDING or IN PROGRESS at once (`LimitExceededException`
otherwise), and `throttle=N` answers `ThrottlingException` to N requests out of every N + 1.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.s3 import OutputObject, S3Sandbox
from constructs_lib.rehearsal.server import Caller, ServiceError
from constructs_lib.rehearsal.timeline import Timeline

PENDING, IN_PROGRESS, ACTIVE, CREATE_FAILED = "PENDING", "IN PROGRESS", "ACTIVE", "CREATE FAILED"
RUNNING = (PENDING, IN_PROGRESS)
DEFAULT_NUM_RESULTS = 25
CATALOG_SIZE = 10_000
_JOB_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
_SOLUTION_VERSION_ARN = re.compile(r"^arn:([a-z\d-]+):personalize:.*:.*:.+$")
_ROLE_ARN = re.compile(r"^arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_S3_PATH = re.compile(r"^(s3|http|https)://.+$")
_THEMES = (
    "Cozy weekend picks",
    "Bold and adventurous",
    "Timeless classics",
    "Fresh arrivals worth a look",
    "Everyday essentials",
)


@dataclass
class StandInJob:
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


class PersonalizeStandIn:
    target_prefix = "AmazonPersonalize"
    content_type = "application/x-amz-json-1.1"

    def __init__(
        self,
        *,
        clock: SimClock,
        timeline: Timeline,
        s3: S3Sandbox,
        quota: int = 5,
        throttle: int = 0,
        pending_seconds: float = 240,
        run_seconds: float = 2700,
    ) -> None:
        self._clock = clock
        self._timeline = timeline
        self._s3 = s3
        self.quota = quota
        self.throttle = throttle
        self._pending_seconds = pending_seconds
        self._run_seconds = run_seconds
        self._jobs: dict[str, StandInJob] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.RLock()
        self._requests = 0
        self.calls: dict[str, int] = {}
        self.throttled = 0
        self.limit_exceeded = 0

    # ------------------------------------------------------------------ for the driver

    def fail(self, job_name: str, reason: str) -> None:
        """Make the job named `job_name` (now or once created) end CREATE FAILED with `reason`."""
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
            return self._jobs.get(name)

    # ------------------------------------------------------------------ the protocol

    def handle(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        operations = {
            "CreateBatchInferenceJob": self._create,
            "DescribeBatchInferenceJob": self._describe,
            "ListBatchInferenceJobs": self._list,
            "TagResource": self._tag,
            "UntagResource": self._untag,
            "ListTagsForResource": self._list_tags,
        }
        if operation not in operations:
            raise ServiceError("UnknownOperationException", f"The stand-in does not implement {operation}")
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            self._throttle(request)
            self.settle()
            return operations[operation](request, caller)

    def _throttle(self, request: dict[str, Any]) -> None:
        self._requests += 1
        if self.throttle <= 0 or self._requests % (self.throttle + 1) == 0:
            return
        self.throttled += 1
        name = request.get("jobName") or str(request.get("batchInferenceJobArn", "")).rpartition("/")[2]
        if name in self._jobs:
            self._jobs[name].throttled += 1
        raise ServiceError("ThrottlingException", "Rate exceeded")

    def _create(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _validate_create(request)
        name = request["jobName"]
        arn = f"arn:aws:personalize:{caller.region}:{caller.account}:batch-inference-job/{name}"
        if name in self._jobs:
            raise ServiceError(
                "ResourceAlreadyExistsException", f"Another resource with Arn {arn} already exists."
            )
        running = sum(1 for job in self._jobs.values() if job.status in RUNNING)
        if running >= self.quota:
            self.limit_exceeded += 1
            raise ServiceError(
                "LimitExceededException",
                f"The account has {running} batch inference jobs in CREATE PENDING or CREATE IN_PROGRESS "
                f"status; the limit is {self.quota}.",
            )
        now = self._clock.elapsed
        job = StandInJob(
            name=name,
            arn=arn,
            request=json.loads(json.dumps(request)),
            created_at=now,
            pending_until=now + self._pending_seconds,
            done_at=now + self._pending_seconds + self._run_seconds,
            updated_at=now,
            tags={tag["tagKey"]: tag.get("tagValue", "") for tag in request.get("tags", [])},
        )
        self._jobs[name] = job
        self._timeline.add(name, "status", f"job {name} created -> PENDING")
        return {"batchInferenceJobArn": arn}

    def _describe(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get("batchInferenceJobArn", ""))
        return {"batchInferenceJob": self._render(job)}

    def _list(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        wanted = request.get("solutionVersionArn")
        jobs = [job for job in self._jobs.values() if wanted in (None, job.request["solutionVersionArn"])]
        start = int(request.get("nextToken") or 0)
        size = int(request.get("maxResults") or 100)
        page = jobs[start : start + size]
        summaries = [
            {
                key: value
                for key, value in self._render(job).items()
                if key
                in (
                    "batchInferenceJobArn",
                    "jobName",
                    "status",
                    "creationDateTime",
                    "lastUpdatedDateTime",
                    "failureReason",
                    "solutionVersionArn",
                    "batchInferenceJobMode",
                )
            }
            for job in page
        ]
        answer: dict[str, Any] = {"batchInferenceJobs": summaries}
        if start + size < len(jobs):
            answer["nextToken"] = str(start + size)
        return answer

    def _tag(self, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        job = self._find(request.get("resourceArn", ""))
        job.tags.update({tag["tagKey"]: tag.get("tagValue", "") for tag in request.get("tags", [])})
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

    def _find(self, arn: str) -> StandInJob:
        for job in self._jobs.values():
            if job.arn == arn:
                return job
        raise ServiceError("ResourceNotFoundException", f"Could not find resource with ARN {arn}.")

    def _render(self, job: StandInJob) -> dict[str, Any]:
        request = job.request
        rendered: dict[str, Any] = {
            "jobName": job.name,
            "batchInferenceJobArn": job.arn,
            "solutionVersionArn": request["solutionVersionArn"],
            "numResults": request.get("numResults", DEFAULT_NUM_RESULTS),
            "jobInput": request["jobInput"],
            "jobOutput": request["jobOutput"],
            "roleArn": request["roleArn"],
            "batchInferenceJobMode": request.get("batchInferenceJobMode", "BATCH_INFERENCE"),
            "status": job.status,
            "creationDateTime": self._clock.epoch_seconds(job.created_at),
            "lastUpdatedDateTime": self._clock.epoch_seconds(job.updated_at),
        }
        for key in ("filterArn", "batchInferenceJobConfig", "themeGenerationConfig"):
            if key in request:
                rendered[key] = request[key]
        if job.failure_reason:
            rendered["failureReason"] = job.failure_reason
        return rendered

    # ------------------------------------------------------------------ running a job

    def _advance(self, job: StandInJob, now: float) -> None:
        if job.status == PENDING and now >= job.pending_until:
            job.status, job.updated_at = IN_PROGRESS, job.pending_until
            self._timeline.add(job.name, "status", "status IN PROGRESS", at=job.pending_until)
        if job.status == IN_PROGRESS and now >= job.done_at:
            self._finish(job)

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

    def _run(self, job: StandInJob) -> str | None:
        """Read the input, write `<output path><input file>.out`; a failure reason when it cannot."""
        input_path = job.request["jobInput"]["s3DataSource"]["path"]
        output_path = job.request["jobOutput"]["s3DataDestination"]["path"]
        files = self._s3.read_input(input_path)
        if not files:
            return f"Input data not found at {input_path}."
        mode = job.request.get("batchInferenceJobMode", "BATCH_INFERENCE")
        num_results = int(job.request.get("numResults", DEFAULT_NUM_RESULTS))
        prefix = output_path if output_path.endswith("/") else f"{output_path}/"
        for item in files:
            lines = [_output_line(line, mode, num_results) for line in item.lines if line.strip()]
            uri = f"{prefix}{item.key.rsplit('/', 1)[-1]}.out"
            self._s3.write(uri, "".join(line + "\n" for line in lines))
            job.outputs.append(OutputObject(uri, len(lines)))
        return None


def _validate_create(request: dict[str, Any]) -> None:
    """What the service checks synchronously (the handler's botocore already checked the shapes)."""
    problems: list[str] = []
    name = str(request.get("jobName", ""))
    if not (1 <= len(name) <= 63 and _JOB_NAME.match(name)):
        problems.append(f"jobName {name!r} must match {_JOB_NAME.pattern} within 63 characters")
    if not _SOLUTION_VERSION_ARN.match(str(request.get("solutionVersionArn", ""))):
        problems.append("solutionVersionArn is not a solution version ARN")
    if not _ROLE_ARN.match(str(request.get("roleArn", ""))):
        problems.append("roleArn is not an IAM role ARN")
    for side, source in (("jobInput", "s3DataSource"), ("jobOutput", "s3DataDestination")):
        path = str(request.get(side, {}).get(source, {}).get("path", ""))
        if not _S3_PATH.match(path):
            problems.append(f"{side}.{source}.path {path!r} is not an S3 path")
    mode = request.get("batchInferenceJobMode", "BATCH_INFERENCE")
    if mode == "THEME_GENERATION" and "themeGenerationConfig" not in request:
        problems.append("themeGenerationConfig is required when batchInferenceJobMode is THEME_GENERATION")
    if len(request.get("tags", [])) > 200:
        problems.append("at most 200 tags")
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


def _items(seed: int, count: int) -> list[str]:
    # 37 is coprime with the catalog size: `count` distinct items.
    return [f"item-{(seed + 37 * rank) % CATALOG_SIZE:04d}" for rank in range(count)]
