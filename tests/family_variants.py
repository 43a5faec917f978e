"""Versions of one chain app (every job kind, native Personalize resources), synthesized to cloud
assemblies, for fuzzing the job family (tests/fuzz/family.py).

The app is examples/end_to_end.py's chain in one stack: a dataset group, a schema and a dataset, a
dataset import, two ``CfnSolution``s each trained by a ``SolutionVersion``, a batch inference job made
from one version and a batch segment job made from the other; plus a native solution created only once
a training has ended (a native resource depending on a job) and a queue every version changes (a
sibling created or changed once the training has started: its failure rolls a deploy back while the
training runs).

A version changes what users change between deploys: a new import or training (run tokens), the import
and training modes, ``wait`` on or off per kind, a renamed or re-recipe'd (replaced) ``CfnSolution``,
the segment chain or the late native solution added or removed, a second stack (``FamilyConsumer``)
joined to the first by weak references: its job is made from the first stack's training (it runs again
after each new training) and it reads the stable ``manifest_uri`` of the first stack's batch job. Versions
synth refuses (a job made from
the result of a job that does not wait) are not versions: a job whose source does not wait is made from
a literal ARN instead. Every version shares stack and construct ids, so deploying one after another is
an update of the same stack, as CloudFormation sees it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ACCOUNT, REGION = "123456789012", "us-east-1"
STACK = "Family"
CONSUMER_STACK = "FamilyConsumer"
# A version trained outside the app: what a job is made from when the app's own training does not wait.
OUTSIDE_VERSION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/outside/1a2b3c4d"
OUTSIDE_SEGMENT_VERSION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/outside-segments/5e6f7a8b"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
USER_PERSONALIZATION_V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "examples" / "data" / "end_to_end"
SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}

# The construct ids of the jobs, by kind (what faults and invariants address).
IMPORT, TRAINING, SEGMENT_TRAINING = "Import", "Training", "SegmentTraining"
INFERENCE, SEGMENTS = "Recommendations", "Audiences"
SIBLING = "Sibling"
CONSUMER = "Followers"  # the consumer stack's job, made from the first stack's training
DELETION, EXPORT = "EraseUsers", "ExportInteractions"  # the data lifecycle kinds' jobs
ERASE_REQUESTS = Path(__file__).resolve().parent.parent / "examples" / "data" / "data_lifecycle"
REQUESTS_BUCKET = "family-privacy-requests"


@dataclass(frozen=True)
class FamilyVersion:
    """One version of the chain app."""

    import_token: str | None = None
    import_mode: str = "FULL"
    import_wait: bool = True
    training_token: str | None = None
    training_mode: str = "FULL"
    training_wait: bool = True
    solution_name: str = "recs"
    recipe: str = USER_PERSONALIZATION
    inference_wait: bool = True
    segments: bool = True
    segment_token: str | None = None
    segment_wait: bool = True
    late_native: bool = False
    consumer: bool = False
    # The data lifecycle kinds (issue 21): a DataDeletionJob after the import (erasing the users listed in
    # a privacy team's file, on a run token) and a DatasetExportJob of the interactions after it.
    deletion: bool = False
    deletion_token: str | None = None
    deletion_wait: bool = True
    export: bool = False
    export_token: str | None = None
    export_wait: bool = True
    # The import on an EventBridge Scheduler expression (issue 22): it drives the chain import -> trainings
    # -> batch jobs without a deploy; ``schedule_enabled=False`` pauses it.
    schedule: str | None = None
    schedule_enabled: bool = True
    # Schedules on the other kinds directly (issue 22): the training, the batch inference job and the batch
    # segment job each on an expression of its own (``schedule_enabled`` and ``skip_unchanged`` apply to
    # every schedule of the version); the inference job's number of results (a change of its definition).
    training_schedule: str | None = None
    inference_schedule: str | None = None
    segment_schedule: str | None = None
    skip_unchanged: bool = True
    inference_results: int | None = None

    def label(self) -> str:
        changed = {key: value for key, value in asdict(self).items() if value != getattr(BASE, key)}
        return (
            ",".join(f"{key}={str(value).rpartition('/')[2]}" for key, value in sorted(changed.items()))
            or "base"
        )

    def schedules(self) -> dict[str, str]:
        """Each scheduled job's expression, by construct id (paused or not: ``schedule_enabled``)."""
        found = {
            IMPORT: self.schedule,
            TRAINING: self.training_schedule,
            INFERENCE: self.inference_schedule,
            SEGMENTS: self.segment_schedule if self.segments else None,
        }
        return {construct: expression for construct, expression in found.items() if expression}

    def chained(self) -> dict[str, str]:
        """Each job made from another job's result in this version: construct id -> its source's id."""
        found = {}
        if self.training_wait:
            found[INFERENCE] = TRAINING
        if self.segments and self.segment_wait:
            found[SEGMENTS] = SEGMENT_TRAINING
        if self.consumer and self.training_wait:
            found[CONSUMER] = TRAINING
        return found

    def waits(self) -> dict[str, bool]:
        """Each job's ``wait``, by construct id."""
        found = {
            IMPORT: self.import_wait,
            TRAINING: self.training_wait,
            INFERENCE: self.inference_wait,
        }
        if self.segments:
            found.update({SEGMENT_TRAINING: self.segment_wait, SEGMENTS: self.segment_wait})
        return found


BASE = FamilyVersion()

# What the fuzzing walks between: each differs from the base in one or two ways.
VERSIONS: tuple[FamilyVersion, ...] = (
    BASE,
    replace(BASE, training_token="2"),  # a new training: the inference job runs again
    replace(BASE, import_token="2", import_mode="INCREMENTAL"),  # new data, the trainings stay
    replace(BASE, training_token="3", training_mode="UPDATE"),  # an incremental training
    # The CfnSolution replaced (renamed): the version trains again on it, the inference job runs again.
    replace(BASE, solution_name="recs-b"),
    # Replaced by another recipe, with a new run_token: a new training, then a new inference job.
    replace(BASE, recipe=USER_PERSONALIZATION_V2, training_token="5"),
    replace(BASE, inference_wait=False, segment_token="2"),
    # Trained in the background (the job is made from an outside version): the deploy ends as it starts.
    replace(BASE, training_wait=False, training_token="4", segments=False),
    replace(BASE, import_wait=False, import_token="3"),  # the trainings no longer wait for the import
    replace(BASE, segments=False),  # the segment chain removed
    replace(BASE, late_native=True),  # a native solution created after a training ended
    replace(BASE, late_native=True, training_token="2", segment_wait=False),
)
# The two-stack versions: the scenarios draw them apart (tests/fuzz/family.py), so adding them changed
# none of the earlier sequences.
TWO_STACK_VERSIONS: tuple[FamilyVersion, ...] = (
    replace(BASE, consumer=True),
    replace(BASE, consumer=True, training_token="2"),  # a new training: the consumer's job runs again
    replace(BASE, consumer=True, import_token="2", import_mode="INCREMENTAL"),  # the training stays
)
# The scheduled versions (issue 22), drawn apart too (tests/fuzz/family.py): the daily import drives the
# chain; paused; and scheduled with a new training (an update that changes what the next runs chain to).
DAILY = "rate(1 day)"
SCHEDULE_VERSIONS: tuple[FamilyVersion, ...] = (
    replace(BASE, schedule=DAILY),
    replace(BASE, schedule=DAILY, schedule_enabled=False),
    replace(BASE, schedule=DAILY, training_token="2"),
)
# Schedules on each kind directly (issue 22), drawn apart too: the training daily (its chain follows each
# new version); the batch jobs daily, forced (``skip_unchanged=False``: every delivery is a new job) or
# comparing their input; paused; and the batch jobs forced with another schedule and another
# definition of the inference job (an update whose rollback restores the daily schedule).
TWICE_A_DAY = "rate(12 hours)"
KIND_SCHEDULE_VERSIONS: tuple[FamilyVersion, ...] = (
    replace(BASE, training_schedule=DAILY, skip_unchanged=False),
    replace(BASE, inference_schedule=DAILY, segment_schedule=DAILY, skip_unchanged=False),
    replace(BASE, inference_schedule=DAILY, segment_schedule=DAILY),
    replace(BASE, inference_schedule=DAILY, segment_schedule=DAILY, schedule_enabled=False),
    replace(
        BASE,
        inference_schedule=TWICE_A_DAY,
        segment_schedule=DAILY,
        skip_unchanged=False,
        inference_results=50,
    ),
)
# The data lifecycle versions (issue 21), drawn apart too: a deletion after the import and an export after
# the deletion, each with ``wait`` on and off; a new deletion with a new export; the export removed.
LIFECYCLE_VERSIONS: tuple[FamilyVersion, ...] = (
    replace(BASE, deletion=True, deletion_token="1", export=True),
    replace(BASE, deletion=True, deletion_token="2", export=True, export_token="2"),
    replace(BASE, deletion=True, deletion_token="2", deletion_wait=False, export=True),
    replace(BASE, deletion=True, deletion_token="1", export=True, export_token="3", export_wait=False),
    replace(BASE, deletion=True, deletion_token="3"),
)
ALL_VERSIONS: tuple[FamilyVersion, ...] = (
    VERSIONS + TWO_STACK_VERSIONS + SCHEDULE_VERSIONS + KIND_SCHEDULE_VERSIONS + LIFECYCLE_VERSIONS
)


def build(app: object, version: FamilyVersion) -> None:
    """The app of ``version``: one stack holding the whole chain (and the consumer stack)."""
    import aws_cdk as cdk
    from aws_cdk import aws_personalize as personalize
    from aws_cdk import aws_s3_deployment as s3deploy
    from aws_cdk import aws_scheduler as scheduler
    from aws_cdk import aws_sqs as sqs

    from constructs_lib import (
        BatchInferenceJob,
        BatchInferenceStorage,
        BatchSegmentJob,
        DatasetImportJob,
        SolutionVersion,
    )

    assert isinstance(app, cdk.App)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    group = personalize.CfnDatasetGroup(stack, "DatasetGroup", name="family-shop")
    schema = personalize.CfnSchema(stack, "Schema", name="family-interactions", schema=json.dumps(SCHEMA))
    dataset = personalize.CfnDataset(
        stack,
        "Interactions",
        dataset_group_arn=group.attr_dataset_group_arn,
        dataset_type="Interactions",
        name="family-interactions",
        schema_arn=schema.attr_schema_arn,
    )
    storage = BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)
    storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])

    def scheduled_on(expression: str | None) -> dict[str, Any]:
        if expression is None:
            return {}
        found: dict[str, Any] = {
            "schedule": scheduler.ScheduleExpression.expression(expression),
            "schedule_enabled": version.schedule_enabled,
        }
        if not version.skip_unchanged:
            found["skip_unchanged"] = False
        return found

    scheduled = scheduled_on(version.schedule)
    load = DatasetImportJob(
        stack,
        IMPORT,
        dataset_arn=dataset.attr_dataset_arn,
        data_path="interactions/",
        storage=storage,
        import_mode=version.import_mode,
        run_token=version.import_token,
        wait=version.import_wait,
        **scheduled,
    )

    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name=f"family-{version.solution_name}",
        recipe_arn=version.recipe,
    )
    solution.node.add_dependency(dataset)
    training = SolutionVersion(
        stack,
        TRAINING,
        solution_arn=solution.attr_solution_arn,
        training_mode=version.training_mode,
        run_token=version.training_token,
        wait=version.training_wait,
        **scheduled_on(version.training_schedule),
    )
    if version.import_wait:
        training.node.add_dependency(load)
    recommendations = BatchInferenceJob(
        stack,
        INFERENCE,
        solution_version_arn=training.solution_version_arn if version.training_wait else OUTSIDE_VERSION_ARN,
        input_path="users/",
        storage=storage,
        wait=version.inference_wait,
        num_results=version.inference_results,
        **scheduled_on(version.inference_schedule),
    )

    if version.segments:
        segmentation = personalize.CfnSolution(
            stack,
            "Segmentation",
            dataset_group_arn=group.attr_dataset_group_arn,
            name="family-segmentation",
            recipe_arn=ITEM_AFFINITY,
        )
        segmentation.node.add_dependency(dataset)
        segment_training = SolutionVersion(
            stack,
            SEGMENT_TRAINING,
            solution_arn=segmentation.attr_solution_arn,
            run_token=version.segment_token,
            wait=version.segment_wait,
        )
        if version.import_wait:
            segment_training.node.add_dependency(load)
        BatchSegmentJob(
            stack,
            SEGMENTS,
            solution_version_arn=(
                segment_training.solution_version_arn if version.segment_wait else OUTSIDE_SEGMENT_VERSION_ARN
            ),
            input_path="items/",
            storage=storage,
            num_results=100,
            wait=version.segment_wait,
            **scheduled_on(version.segment_schedule),
        )

    if version.late_native:
        late = personalize.CfnSolution(
            stack,
            "LateSolution",
            dataset_group_arn=group.attr_dataset_group_arn,
            name="family-late",
            recipe_arn=USER_PERSONALIZATION,
        )
        late.node.add_dependency(dataset)
        if version.training_wait:
            late.node.add_dependency(training)

    # Changed by every version (and by none twice), and created or changed once the training's resource
    # has started its training: failing it rolls the deploy back while that training still runs.
    digest = int(hashlib.sha256(version.label().encode()).hexdigest()[:6], 16)
    sibling = sqs.Queue(
        stack,
        SIBLING,
        enforce_ssl=True,
        visibility_timeout=cdk.Duration.seconds(30 + digest % 600),
    )
    sibling.node.add_dependency(training.resource)

    build_data_lifecycle(stack, version, group=group, dataset=dataset, storage=storage, load=load)

    if version.consumer:
        consumer = cdk.Stack(app, CONSUMER_STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
        consumer_storage = BatchInferenceStorage(
            consumer, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY
        )
        consumer_storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
        BatchInferenceJob(
            consumer,
            CONSUMER,
            solution_version_arn=(
                training.solution_version_arn if version.training_wait else OUTSIDE_VERSION_ARN
            ),
            input_path="users/",
            storage=consumer_storage,
            num_results=10,
        )
        # The stable attribute: the same for every run of the first stack's job.
        cdk.CfnOutput(consumer, "RecommendationsManifest", value=recommendations.manifest_uri)


def build_data_lifecycle(
    stack: object, version: FamilyVersion, *, group: object, dataset: object, storage: object, load: object
) -> None:
    """The data lifecycle jobs of ``version``: a deletion after the import, reading its list of users from
    a privacy team's SSE-S3 bucket (Personalize cannot read it from a KMS-encrypted one), and an export of
    the interactions after the deletion (after the import when the deletion does not wait: synth refuses
    an order after a job that does not wait)."""
    import aws_cdk as cdk
    from aws_cdk import aws_personalize as personalize
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_s3_deployment as s3deploy

    from constructs_lib import BatchInferenceStorage, DataDeletionJob, DatasetExportJob, DatasetImportJob

    assert isinstance(stack, cdk.Stack) and isinstance(storage, BatchInferenceStorage)
    assert isinstance(group, personalize.CfnDatasetGroup) and isinstance(dataset, personalize.CfnDataset)
    assert isinstance(load, DatasetImportJob)
    erase: DataDeletionJob | None = None
    if version.deletion:
        requests = s3.Bucket.from_bucket_name(stack, "RequestsBucket", REQUESTS_BUCKET)
        privacy = BatchInferenceStorage(
            stack, "PrivacyRequests", input_bucket=requests, output_bucket=requests
        )
        privacy.deploy_input("EraseRequests", sources=[s3deploy.Source.asset(str(ERASE_REQUESTS))])
        erase = DataDeletionJob(
            stack,
            DELETION,
            dataset_group_arn=group.attr_dataset_group_arn,
            data_path="erase/users.csv",
            storage=privacy,
            run_token=version.deletion_token,
            wait=version.deletion_wait,
        )
        if version.import_wait:
            erase.node.add_dependency(load)
    if version.export:
        export = DatasetExportJob(
            stack,
            EXPORT,
            dataset_arn=dataset.attr_dataset_arn,
            storage=storage,
            ingestion_mode="ALL",
            run_token=version.export_token,
            wait=version.export_wait,
        )
        if erase is not None and version.deletion_wait:
            export.node.add_dependency(erase)
        elif version.import_wait:  # synth refuses an order after a job that does not wait
            export.node.add_dependency(load)


def synthesize_one(outdir: Path, version: FamilyVersion) -> Path:
    """The cloud assembly of ``version`` in ``outdir``."""
    import aws_cdk as cdk

    # Weak cross-stack references (Fn::GetStackOutput, what `cdk init` apps use): a chain across stacks
    # through an export would be refused after the next training.
    app = cdk.App(outdir=str(outdir), context={"@aws-cdk/core:defaultCrossStackReferences": "weak"})
    build(app, version)
    app.synth()
    (outdir / "version.json").write_text(json.dumps(asdict(version)))
    return outdir


def synthesize_all(
    directory: Path, versions: Iterable[FamilyVersion] = ALL_VERSIONS
) -> dict[FamilyVersion, Path]:
    """Each version's cloud assembly under ``directory`` (one process, jsii started once)."""
    return {
        version: synthesize_one(directory / f"f{index:02d}", version)
        for index, version in enumerate(versions)
    }
