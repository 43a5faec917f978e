"""Varied apps whose run identities are recorded in tests/golden/run_identities.json.

The examples and the lifecycle versions cover the common shapes; these add what they do not: every job
kind with its optional props set, explicit job names, run tokens, theme generation, wait switched off,
a job deep in a construct tree, an environment-agnostic stack and one with an explicit ``env``, and
jobs fed by other jobs' results. Only the public API is used, so the same file builds on any release.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ACCOUNT, REGION = "123456789012", "eu-west-1"
SOLUTION_VERSION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/corpus/1a2b3c4d"
# Theme generation is offered in a few regions only: us-east-1 is one of them.
SIMILAR_ITEMS_VERSION_ARN = f"arn:aws:personalize:us-east-1:{ACCOUNT}:solution/similar/5e6f7a8b"
SEGMENT_VERSION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/affinity/9a8b7c6d"
SOLUTION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/corpus"
DATASET_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset/corpus-group/INTERACTIONS"
FILTER_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:filter/no-bought"


def build(app: object) -> None:
    """Three stacks: every kind with its props (env given), names and tokens, and an env-agnostic one."""
    import aws_cdk as cdk
    from constructs import Construct

    from constructs_lib import (
        BatchInferenceJob,
        BatchInferenceJobMode,
        BatchInferenceStorage,
        BatchSegmentJob,
        DatasetImportJob,
        SolutionVersion,
    )

    assert isinstance(app, cdk.App)
    env = cdk.Environment(account=ACCOUNT, region=REGION)

    # Every kind, most optional props set, in a stack with an explicit env.
    kinds = cdk.Stack(app, "CorpusKinds", env=env)
    storage = BatchInferenceStorage(kinds, "Storage")
    imported = DatasetImportJob(
        kinds,
        "Import",
        dataset_arn=DATASET_ARN,
        data_path="interactions/2026/",
        storage=storage,
        import_mode="INCREMENTAL",
        tags={"team": "data"},
        timeout=cdk.Duration.hours(2),
    )
    version = SolutionVersion(
        kinds, "Version", solution_arn=SOLUTION_ARN, training_mode="FULL", timeout=cdk.Duration.hours(10)
    )
    version.node.add_dependency(imported)
    BatchInferenceJob(
        kinds,
        "Everything",
        solution_version_arn=version.solution_version_arn,
        input_path="users/all.json",
        storage=storage,
        output_prefix="results/everything/",
        num_results=100,
        filter_arn=FILTER_ARN,
        item_exploration={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
        ranking_influence={"POPULARITY": 0.5, "FRESHNESS": 0.25},
        tags={"team": "recs", "cost-center": "42"},
    )
    BatchSegmentJob(
        kinds,
        "Segments",
        solution_version_arn=SEGMENT_VERSION_ARN,
        input_path="items/",
        storage=storage,
        num_results=500,
        filter_arn=FILTER_ARN,
        wait=False,
    )

    # Explicit names, run tokens, wait off, theme generation, a job deep in a construct tree; the
    # account and region left to the deploy.
    named = cdk.Stack(app, "CorpusNamed")
    shared = BatchInferenceStorage(named, "Shared")
    BatchInferenceJob(
        named,
        "Nightly",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=shared,
        job_name="corpus-nightly-recs",
        wait=False,
    )
    BatchInferenceJob(
        named,
        "Rerun",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=shared,
        run_token="2026-12-01",
        timeout=cdk.Duration.minutes(30),
    )
    SolutionVersion(named, "Retrain", solution_arn=SOLUTION_ARN, training_mode="UPDATE", run_token="7")
    BatchInferenceJob(
        named,
        "Themes",
        solution_version_arn=SIMILAR_ITEMS_VERSION_ARN,
        input_path="items/seed.json",
        storage=shared,
        mode=BatchInferenceJobMode.THEME_GENERATION,
        theme_item_name_field="TITLE",
        num_results=10,
        run_token="themes-1",
        timeout=cdk.Duration.hours(12),
    )
    team = Construct(named, "Team")
    area = Construct(team, "Area")
    BatchSegmentJob(
        area, "DeepSegments", solution_version_arn=SEGMENT_VERSION_ARN, input_path="items/", storage=shared
    )
    DatasetImportJob(
        area, "NamedImport", dataset_arn=DATASET_ARN, data_path="full/", storage=shared, job_name="full-load"
    )

    # A job that creates its own storage, in a stack whose name is not its id.
    own = cdk.Stack(app, "CorpusOwn", stack_name="corpus-own-storage", env=env)
    BatchInferenceJob(own, "Solo", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/solo.json")
