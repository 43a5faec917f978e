"""The contract between the constructs (synth time) and the handlers (deploy time), written once.

The handlers import this module; ``constructs_lib`` and the rehearsal load this very file from the
packaged handler directory (``constructs_lib._contract``). Standard library only: it runs in Lambda,
at synth time and in the rehearsal with nothing installed beside it.

A job kind is one :class:`JobKind` declaration: its custom resource type, its properties and where each
goes in the Create request (and comes back in the Describe answer), which properties define a run, the
Personalize calls by name, its attributes, its IAM actions and its quota. The provider, the monitor and
the WaitCondition path are shared by every kind. See docs/handler-contract.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# --- environment of the two functions ----------------------------------------------------------------

ENV_MONITOR_STATE_MACHINE_ARN = "MONITOR_STATE_MACHINE_ARN"
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
ON_EVENT_HANDLER = "handler.on_event"
CHECK_HANDLER = "monitor.check"

# --- the end event -----------------------------------------------------------------------------------

EVENT_SOURCE = "constructs_lib.personalize"
# Tag set on a job once its end event was sent, so a monitor restarted for it never sends it again.
END_REPORTED_TAG = "constructs-lib:end-reported"

# --- properties every kind shares --------------------------------------------------------------------

JOB_NAME_PREFIX = "JobNamePrefix"
JOB_NAME = "JobName"
RUN_TOKEN = "RunToken"
RUN_ID = "RunId"
TAGS = "Tags"
WAIT_HANDLE = "WaitHandle"
TIMEOUT_SECONDS = "TimeoutSeconds"
# "true" on a scheduled batch job: its deploy runs record their input in latest.json as scheduled runs do.
RECORD_INPUT = "RecordInput"

# --- attributes of a job resource (``Fn::GetAtt``) --------------------------------------------------

ATTR_JOB_ARN = "JobArn"
ATTR_JOB_NAME = "JobName"
ATTR_STATUS = "Status"
# Kinds with results in S3: this run's results, every run's prefix, the newest successful run's manifest.
ATTR_OUTPUT_S3_URI = "OutputS3Uri"
ATTR_RESULTS_PREFIX_URI = "ResultsPrefixUri"
ATTR_MANIFEST_URI = "ManifestUri"
ATTR_SOLUTION_VERSION_ARN = "SolutionVersionArn"

# --- limits ------------------------------------------------------------------------------------------

# The longest a CloudFormation WaitCondition holds a deployment.
MAX_TIMEOUT_SECONDS = 43_200
# The monitor gives up this long (at most 10 % of the timeout) before the WaitCondition would, so that a
# job running too long fails the stack with the monitor's readable reason, not "timed out".
MONITOR_MARGIN_SECONDS = 120
# The monitor checks as the job starts (it is never done then), then a minute or more apart: a shorter
# wait could hardly see a job end.
MIN_TIMEOUT_SECONDS = 300
# Checks never further apart than this: a job's end is seen within two minutes.
MAX_CHECK_INTERVAL_SECONDS = 120
MIN_CHECK_INTERVAL_SECONDS = 60

# The functions' Lambda timeouts, and how long CloudFormation waits for a job resource's answer (its
# ServiceTimeout, instead of an hour): every invocation's worst case fits within them
# (tests/handlers/test_time_budget.py adds it up). A check may signal, count results and report.
# The on-event function gets as long as the Provider framework's own function (15 min) leaves it, with a
# minute for the framework to invoke it and send the answer: a Delete waits for an import that cannot be
# stopped (Personalize refuses to delete its dataset meanwhile) about 13 minutes.
ON_EVENT_TIMEOUT_SECONDS = 840
CHECK_TIMEOUT_SECONDS = 600
# The framework function's timeout: CloudFormation cannot get an answer later than that.
SERVICE_TIMEOUT_SECONDS = 900

MAX_ARN_LENGTH = 256
MAX_S3_PATH_LENGTH = 256
MAX_BUCKET_NAME_LENGTH = 63
MAX_JOB_NAME_LENGTH = 63
HASH_LENGTH = 12
# Room in a 63-character name for "-" and the 12-character hash the handler appends.
MAX_NAME_PREFIX_LENGTH = MAX_JOB_NAME_LENGTH - HASH_LENGTH - 1
DEFAULT_NAME_PREFIX = "personalize-job"
JOB_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$"
PERSONALIZE_ARN_PATTERN = r"^arn:([a-z\d-]+):personalize:.*:.*:.+$"
ROLE_ARN_PATTERN = r"^arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
# Personalize keeps at most 50 tags on a resource (its developer guide, "Tagging restrictions"; the API
# model lets a request carry 200). One of them is the library's END_REPORTED_TAG.
MAX_TAGS = 50
MAX_USER_TAGS = MAX_TAGS - 1
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
RESERVED_TAG_PREFIX = "aws:"
# CloudFormation's limits: a WaitCondition signal's body, a custom resource's response.
SIGNAL_LIMIT_BYTES = 4096
RESPONSE_LIMIT_BYTES = 4096
# The results manifest, under a batch job's output prefix: the newest successful run's results.
MANIFEST_NAME = "latest.json"


def sanitize_name_part(text: str, max_length: int) -> str:
    """Runs of characters outside ``[a-zA-Z0-9-_]`` become ``-``; leading ``-``/``_`` go; cut to
    ``max_length``. A part that is already valid is kept verbatim (deployed jobs' names depend on it)."""
    cleaned = re.sub(r"[^a-zA-Z0-9\-_]+", "-", text).lstrip("-_")
    return cleaned[:max_length]


def name_prefix(text: str) -> str:
    """The job name prefix for ``text`` (``<stack>-<id>``): valid characters, at most 50 of them."""
    return sanitize_name_part(text, MAX_NAME_PREFIX_LENGTH).rstrip("-_") or DEFAULT_NAME_PREFIX


def monitor_timeout_seconds(wait_timeout_seconds: int) -> int:
    """How long the monitor waits for a job whose WaitCondition waits ``wait_timeout_seconds``."""
    return wait_timeout_seconds - min(MONITOR_MARGIN_SECONDS, wait_timeout_seconds // 10)


# --- job kinds ---------------------------------------------------------------------------------------

FieldType = Literal["string", "integer", "boolean", "string_map", "number_map"]
# A request field the service fills in when it is left out: its value cannot be known beforehand.
SERVICE_FILLS = "<filled in by the service>"


@dataclass(frozen=True)
class Field:
    """A custom resource property and where it goes in the Create request.

    ``path`` is where the value sits in the request, and in the Describe answer, which echoes it.
    ``omitted`` is what the Describe answer shows when the request left the field out (None: nothing;
    SERVICE_FILLS: a value the service chooses).
    """

    prop: str
    path: tuple[str, ...]
    type: FieldType = "string"
    required: bool = False
    choices: tuple[str, ...] = ()
    omitted: Any = None


@dataclass(frozen=True)
class Output:
    """Where a kind writes its results: ``s3://{bucket}/{prefix}{job name}/``, put at ``path``."""

    bucket_prop: str
    prefix_prop: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class JobKind:
    """Everything about one kind of long-running Personalize job that differs from the others."""

    key: str
    noun: str  # "batch inference job": the words messages use
    resource_type: str  # the CloudFormation custom resource type
    detail_type: str  # the end event's detail-type
    create: str  # API operation names, as IAM and botocore's model spell them
    describe: str
    described: str  # the Describe answer's member holding the job
    arn_member: str  # the ARN, in the Create answer and the job's description
    name_member: str  # the name, in the Create request and the job's description
    fields: tuple[Field, ...]
    quota: int  # pending or in-progress jobs of this kind per region, by default (adjustable)
    arn_resource: str | None = None  # "batch-inference-job": ARN = ...:{arn_resource}/{name}
    output: Output | None = None
    role_prop: str | None = None  # the property passed as iam:PassRole, if the API takes a role
    # Looking a job up by name when its ARN is not derived from the name (solution versions).
    list_by_name: str | None = None
    list_member: str | None = None
    list_parent: tuple[str, str] | None = None  # (property, request parameter) the listing is scoped to
    stop: str | None = None  # called on Delete while the job still runs
    metrics: str | None = None  # called at the end; its answer goes into the end event
    metrics_member: str | None = None
    # While a job exists but its ARN is unknown (named, not created), its create cannot be queued.
    can_queue: bool = True
    # What Personalize refuses to delete while the job runs (CloudFormation deletes it right after the
    # job's resource, in a stack delete or a first deploy's rollback): Delete waits, within the on-event
    # function's time, for such a job to leave CREATE PENDING / IN PROGRESS / STOPPING. None: nothing.
    blocks_delete_of: str | None = None
    # What a rollback cannot undo, said in its log line and end event (None: a rollback undoes it all).
    rollback_note: str | None = None
    attributes: tuple[str, ...] = (ATTR_JOB_ARN, ATTR_JOB_NAME, ATTR_STATUS)
    arn_attribute: str | None = None  # another name under which the ARN is an attribute
    # Members of the ended job's description that go into the end event's ``metrics`` (a data deletion
    # job's numDeleted): figures known only at the end, so never attributes of the resource.
    end_figures: tuple[str, ...] = ()

    @property
    def defining(self) -> tuple[str, ...]:
        """Properties that define a run: a change starts a new job. Also what the job name's hash
        covers. Every property of the kind is one (its fields, where its results go), and the run token
        and an explicit name; tags, the wait handle and the timeout are not."""
        return (*self.own_props(), RUN_TOKEN, JOB_NAME)

    def own_props(self) -> tuple[str, ...]:
        """The kind's own properties: its fields, then where its results go."""
        output = (self.output.bucket_prop, self.output.prefix_prop) if self.output else ()
        return (*(field.prop for field in self.fields), *output)

    def properties(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The resource's kind-specific properties from ``values`` named after them in snake case
        (``solution_version_arn`` for ``SolutionVersionArn``), in their order; None values left out.
        The constructs write no property name of their own: a name the kind does not declare fails."""
        names = {snake_case(prop): prop for prop in self.own_props()}
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise KeyError(f"{self.key} declares no property for {', '.join(unknown)}")
        return {names[name]: value for name, value in values.items() if value is not None}

    def field(self, prop: str) -> Field:
        for candidate in self.fields:
            if candidate.prop == prop:
                return candidate
        raise KeyError(f"{self.key} has no property {prop}")

    def iam_actions(self) -> tuple[str, ...]:
        """Every Personalize action the functions call for this kind (``personalize:`` omitted)."""
        return tuple(
            dict.fromkeys(
                (
                    *self.on_event_actions(),
                    *self.check_actions(),
                    *self.source_actions(),
                    *self.list_actions(),
                )
            )
        )

    def on_event_actions(self) -> tuple[str, ...]:
        """What the on-event function calls on the kind's jobs: create or adopt, retag, stop on Delete."""
        calls = (self.create, self.describe, "TagResource", "UntagResource", self.stop)
        return tuple(call for call in calls if call)

    def check_actions(self) -> tuple[str, ...]:
        """What the check calls on the kind's jobs: create a queued one, describe, mark and read the
        end-reported tag, fetch the end figures."""
        calls = (self.create, self.describe, "TagResource", "ListTagsForResource", self.metrics)
        return tuple(call for call in calls if call)

    def source_actions(self) -> tuple[str, ...]:
        """Actions IAM also authorizes against the resource a job is made from (its solution version,
        solution or dataset), besides the job itself."""
        return (self.create,)

    def list_actions(self) -> tuple[str, ...]:
        """Finding a job by name (a re-sent create of a kind whose ARN the service gives): IAM knows no
        resource type for these listings, so only ``"Resource": "*"`` allows them."""
        return (self.list_by_name,) if self.list_by_name else ()

    def job_arn(self, partition: str, region: str, account: str, name: str) -> str | None:
        """The job's ARN, when the service derives it from the name; None otherwise."""
        if self.arn_resource is None:
            return None
        return f"arn:{partition}:personalize:{region}:{account}:{self.arn_resource}/{name}"


def value_at(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a field's ``path`` in a request or a Describe answer; None where it is absent."""
    value: Any = document
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def put_at(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set the value at a field's ``path``, creating the objects on the way."""
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


def snake_case(operation: str) -> str:
    """``CreateBatchInferenceJob`` -> ``create_batch_inference_job`` (the boto3 method)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


_ROLE = Field("RoleArn", ("roleArn",), required=True)
_BATCH_INPUT = (
    Field("SolutionVersionArn", ("solutionVersionArn",), required=True),
    Field("InputPath", ("jobInput", "s3DataSource", "path"), required=True),
    Field("InputKmsKeyArn", ("jobInput", "s3DataSource", "kmsKeyArn")),
    Field("OutputKmsKeyArn", ("jobOutput", "s3DataDestination", "kmsKeyArn")),
    _ROLE,
    Field("FilterArn", ("filterArn",)),
)
_BATCH_OUTPUT = Output("OutputBucket", "OutputPrefix", ("jobOutput", "s3DataDestination", "path"))
_OUTPUT_ATTRIBUTES = (ATTR_OUTPUT_S3_URI, ATTR_RESULTS_PREFIX_URI, ATTR_MANIFEST_URI)

BATCH_INFERENCE = JobKind(
    key="batch-inference",
    noun="batch inference job",
    resource_type="Custom::PersonalizeBatchInferenceJob",
    detail_type="Personalize Batch Inference Job State Change",
    create="CreateBatchInferenceJob",
    describe="DescribeBatchInferenceJob",
    described="batchInferenceJob",
    arn_member="batchInferenceJobArn",
    name_member="jobName",
    fields=(
        *_BATCH_INPUT,
        # Personalize returns 25 recommendations per record unless told otherwise.
        Field("NumResults", ("numResults",), type="integer", omitted=25),
        Field("ItemExplorationConfig", ("batchInferenceJobConfig", "itemExplorationConfig"), "string_map"),
        Field("RankingInfluence", ("batchInferenceJobConfig", "rankingInfluence"), "number_map"),
        Field(
            "Mode",
            ("batchInferenceJobMode",),
            choices=("BATCH_INFERENCE", "THEME_GENERATION"),
            omitted="BATCH_INFERENCE",
        ),
        Field("ThemeItemNameField", ("themeGenerationConfig", "fieldsForThemeGeneration", "itemName")),
    ),
    quota=5,
    arn_resource="batch-inference-job",
    output=_BATCH_OUTPUT,
    role_prop="RoleArn",
    attributes=(ATTR_JOB_ARN, ATTR_JOB_NAME, ATTR_STATUS, *_OUTPUT_ATTRIBUTES),
)

BATCH_SEGMENT = JobKind(
    key="batch-segment",
    noun="batch segment job",
    resource_type="Custom::PersonalizeBatchSegmentJob",
    detail_type="Personalize Batch Segment Job State Change",
    create="CreateBatchSegmentJob",
    describe="DescribeBatchSegmentJob",
    described="batchSegmentJob",
    arn_member="batchSegmentJobArn",
    name_member="jobName",
    fields=(*_BATCH_INPUT, Field("NumResults", ("numResults",), type="integer", omitted=SERVICE_FILLS)),
    quota=5,
    arn_resource="batch-segment-job",
    output=_BATCH_OUTPUT,
    role_prop="RoleArn",
    attributes=(ATTR_JOB_ARN, ATTR_JOB_NAME, ATTR_STATUS, *_OUTPUT_ATTRIBUTES),
)

DATASET_IMPORT = JobKind(
    key="dataset-import",
    noun="dataset import job",
    resource_type="Custom::PersonalizeDatasetImportJob",
    detail_type="Personalize Dataset Import Job State Change",
    create="CreateDatasetImportJob",
    describe="DescribeDatasetImportJob",
    described="datasetImportJob",
    arn_member="datasetImportJobArn",
    name_member="jobName",
    fields=(
        Field("DatasetArn", ("datasetArn",), required=True),
        Field("DataLocation", ("dataSource", "dataLocation"), required=True),
        _ROLE,
        Field("ImportMode", ("importMode",), choices=("FULL", "INCREMENTAL"), omitted="FULL"),
    ),
    quota=5,
    arn_resource="dataset-import-job",
    role_prop="RoleArn",
    blocks_delete_of="dataset",
    rollback_note=(
        "Imported data cannot be taken back: after this rollback the dataset still holds what the import "
        "it moves away from imported (a FULL import replaced the bulk data, an INCREMENTAL one added to "
        "it). To restore the earlier data, import it again: a FULL import under a new run_token."
    ),
)

SOLUTION_VERSION = JobKind(
    key="solution-version",
    noun="solution version",
    resource_type="Custom::PersonalizeSolutionVersion",
    detail_type="Personalize Solution Version State Change",
    create="CreateSolutionVersion",
    describe="DescribeSolutionVersion",
    described="solutionVersion",
    arn_member="solutionVersionArn",
    name_member="name",
    fields=(
        Field("SolutionArn", ("solutionArn",), required=True),
        Field("TrainingMode", ("trainingMode",), choices=("FULL", "UPDATE"), omitted="FULL"),
    ),
    quota=20,
    list_by_name="ListSolutionVersions",
    list_member="solutionVersions",
    list_parent=("SolutionArn", "solutionArn"),
    stop="StopSolutionVersionCreation",
    blocks_delete_of="solution",
    metrics="GetSolutionMetrics",
    metrics_member="metrics",
    can_queue=False,
    attributes=(ATTR_JOB_ARN, ATTR_JOB_NAME, ATTR_STATUS, ATTR_SOLUTION_VERSION_ARN),
    arn_attribute=ATTR_SOLUTION_VERSION_ARN,
)

DATA_DELETION = JobKind(
    key="data-deletion",
    noun="data deletion job",
    resource_type="Custom::PersonalizeDataDeletionJob",
    detail_type="Personalize Data Deletion Job State Change",
    create="CreateDataDeletionJob",
    describe="DescribeDataDeletionJob",
    described="dataDeletionJob",
    arn_member="dataDeletionJobArn",
    name_member="jobName",
    fields=(
        Field("DatasetGroupArn", ("datasetGroupArn",), required=True),
        # A CSV file (or prefix) with a USER_ID column: the users to erase from the dataset group.
        Field("DataLocation", ("dataSource", "dataLocation"), required=True),
        _ROLE,
    ),
    # The developer guide ("Deleting users"): at most 5 deletion jobs PENDING per dataset group.
    quota=5,
    arn_resource="data-deletion-job",
    role_prop="RoleArn",
    rollback_note=(
        "Deleted users cannot be restored: after this rollback the dataset group still lacks the users "
        "the deletion it moves away from erased. To restore them, import their data again."
    ),
    end_figures=("numDeleted",),
)

DATASET_EXPORT = JobKind(
    key="dataset-export",
    noun="dataset export job",
    resource_type="Custom::PersonalizeDatasetExportJob",
    detail_type="Personalize Dataset Export Job State Change",
    create="CreateDatasetExportJob",
    describe="DescribeDatasetExportJob",
    described="datasetExportJob",
    arn_member="datasetExportJobArn",
    name_member="jobName",
    fields=(
        Field("DatasetArn", ("datasetArn",), required=True),
        # The API's default is PUT (the incremental data only).
        Field("IngestionMode", ("ingestionMode",), choices=("BULK", "PUT", "ALL"), omitted="PUT"),
        _ROLE,
        Field("OutputKmsKeyArn", ("jobOutput", "s3DataDestination", "kmsKeyArn")),
    ),
    # Not in the quotas this project has on file: taken to be 5, like the other dataset jobs.
    quota=5,
    arn_resource="dataset-export-job",
    output=_BATCH_OUTPUT,
    role_prop="RoleArn",
    attributes=(ATTR_JOB_ARN, ATTR_JOB_NAME, ATTR_STATUS, *_OUTPUT_ATTRIBUTES),
)

KINDS: dict[str, JobKind] = {
    kind.resource_type: kind
    for kind in (
        BATCH_INFERENCE,
        BATCH_SEGMENT,
        DATASET_IMPORT,
        SOLUTION_VERSION,
        DATA_DELETION,
        DATASET_EXPORT,
    )
}


def kind_of(resource_type: str) -> JobKind:
    """The kind a custom resource type declares; ValueError for an unknown type."""
    try:
        return KINDS[resource_type]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"ResourceType {resource_type!r} is not one of {known}") from None


# --- statuses ----------------------------------------------------------------------------------------

PENDING, IN_PROGRESS, ACTIVE, CREATE_FAILED, CREATE_STOPPED, QUEUED = (
    "PENDING",
    "IN PROGRESS",
    "ACTIVE",
    "CREATE FAILED",
    "CREATE STOPPED",
    "QUEUED",
)
STATUS_ALIASES = {
    "PENDING": PENDING,
    "CREATE PENDING": PENDING,
    "IN PROGRESS": IN_PROGRESS,
    "CREATE IN PROGRESS": IN_PROGRESS,
    "ACTIVE": ACTIVE,
    "CREATE FAILED": CREATE_FAILED,
    "FAILED": CREATE_FAILED,
    "CREATE STOPPING": IN_PROGRESS,
    "CREATE STOPPED": CREATE_STOPPED,
    "COMPLETED": ACTIVE,  # a data deletion job's end (PENDING > IN_PROGRESS > COMPLETED or FAILED)
}
ENDED = frozenset({ACTIVE, CREATE_FAILED, CREATE_STOPPED})
RUNNING = frozenset({PENDING, IN_PROGRESS})
