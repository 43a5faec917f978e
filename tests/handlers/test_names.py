"""Deterministic job names, job ARNs and monitor execution names, for every job kind (names)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .testkit import (
    BI,
    DATASET_IMPORT,
    SEGMENT,
    SOLUTION_VERSION,
    SOLUTION_VERSION_ARN,
    STACK_ID,
    arn_of,
    base_properties,
    kind_properties,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import definitions  # isort: skip
import names  # isort: skip
import props  # isort: skip

NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")
# Step Functions allows more, but only these keep an execution's CloudWatch logging possible.
EXECUTION_NAME_PATTERN = re.compile(r"[a-zA-Z0-9\-_]{1,80}")
OTHER_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/RecsStack/99999999-aaaa-bbbb-cccc-123456789012"
)
PROVIDER_CREATE_FAILED = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
ALL_KINDS = (BI, SEGMENT, DATASET_IMPORT, SOLUTION_VERSION)


def name_for(logical_id: str = "Job", stack_id: str = STACK_ID, **overrides: object) -> str:
    parsed = props.parse_properties(BI, base_properties(**overrides))
    return names.derive_job_name(parsed, stack_id, logical_id)


# --- golden names: what the previous release named these jobs -------------------------------------
#
# Computed with the previous release's job_logic for a batch inference job of stack GOLDEN_STACK_ID,
# logical id "Job". A deployed stack finds its job again only if these stay exactly the same: never
# regenerate them from the current code.

GOLDEN_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/RecsStack/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
)
GOLDEN: dict[str, dict[str, Any]] = {
    "explicit": {
        "props": {
            "InputPath": "s3://in-bucket/users/",
            "JobName": "nightly",
            "JobNamePrefix": "RecsStack-Job",
            "Mode": "BATCH_INFERENCE",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "TimeoutSeconds": "21600",
        },
        "name": "nightly",
        "request": {
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
            "jobName": "nightly",
            "jobOutput": {
                "s3DataDestination": {"path": "s3://out-bucket/batch-inference/RecsStack/Job/nightly/"}
            },
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        },
    },
    "full": {
        "props": {
            "FilterArn": "arn:aws:personalize:us-east-1:123456789012:filter/no-bought",
            "InputKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1111",
            "InputPath": "s3://in-bucket/users/",
            "ItemExplorationConfig": {"explorationItemAgeCutOff": "30", "explorationWeight": "0.3"},
            "JobNamePrefix": "RecsStack-Job",
            "Mode": "BATCH_INFERENCE",
            "NumResults": "50",
            "OutputBucket": "out-bucket",
            "OutputKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/2222",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RankingInfluence": {"FRESHNESS": "0.2", "POPULARITY": "0.5"},
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "RunToken": "7",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "Tags": [{"Key": "a", "Value": "b"}],
            "TimeoutSeconds": "21600",
        },
        "name": "RecsStack-Job-b2ad3109bd6a",
        "request": {
            "batchInferenceJobConfig": {
                "itemExplorationConfig": {"explorationItemAgeCutOff": "30", "explorationWeight": "0.3"},
                "rankingInfluence": {"FRESHNESS": 0.2, "POPULARITY": 0.5},
            },
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "filterArn": "arn:aws:personalize:us-east-1:123456789012:filter/no-bought",
            "jobInput": {
                "s3DataSource": {
                    "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1111",
                    "path": "s3://in-bucket/users/",
                }
            },
            "jobName": "RecsStack-Job-b2ad3109bd6a",
            "jobOutput": {
                "s3DataDestination": {
                    "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/2222",
                    "path": "s3://out-bucket/batch-inference/RecsStack/Job/RecsStack-Job-b2ad3109bd6a/",
                }
            },
            "numResults": 50,
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "tags": [{"tagKey": "a", "tagValue": "b"}],
        },
    },
    "longprefix": {
        "props": {
            "InputPath": "s3://in-bucket/users/",
            "JobNamePrefix": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "Mode": "BATCH_INFERENCE",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "TimeoutSeconds": "21600",
        },
        "name": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-02f9252e9633",
        "request": {
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
            "jobName": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-02f9252e9633",
            "jobOutput": {
                "s3DataDestination": {
                    "path": "s3://out-bucket/batch-inference/RecsStack/Job/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-02f9252e9633/"
                }
            },
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        },
    },
    "minimal": {
        "props": {
            "InputPath": "s3://in-bucket/users/",
            "JobNamePrefix": "RecsStack-Job",
            "Mode": "BATCH_INFERENCE",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "TimeoutSeconds": "21600",
        },
        "name": "RecsStack-Job-02f9252e9633",
        "request": {
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
            "jobName": "RecsStack-Job-02f9252e9633",
            "jobOutput": {
                "s3DataDestination": {
                    "path": "s3://out-bucket/batch-inference/RecsStack/Job/RecsStack-Job-02f9252e9633/"
                }
            },
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        },
    },
    "oddprefix": {
        "props": {
            "InputPath": "s3://in-bucket/users/",
            "JobNamePrefix": "--my stack/job**",
            "Mode": "BATCH_INFERENCE",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "TimeoutSeconds": "21600",
        },
        "name": "my-stack-job--02f9252e9633",
        "request": {
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
            "jobName": "my-stack-job--02f9252e9633",
            "jobOutput": {
                "s3DataDestination": {
                    "path": "s3://out-bucket/batch-inference/RecsStack/Job/my-stack-job--02f9252e9633/"
                }
            },
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        },
    },
    "theme": {
        "props": {
            "InputPath": "s3://in-bucket/users/",
            "JobNamePrefix": "RecsStack-Job",
            "Mode": "THEME_GENERATION",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-inference/RecsStack/Job/",
            "RoleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "SolutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "ThemeItemNameField": "title",
            "TimeoutSeconds": "21600",
        },
        "name": "RecsStack-Job-dc1e52da3e6f",
        "request": {
            "batchInferenceJobMode": "THEME_GENERATION",
            "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
            "jobName": "RecsStack-Job-dc1e52da3e6f",
            "jobOutput": {
                "s3DataDestination": {
                    "path": "s3://out-bucket/batch-inference/RecsStack/Job/RecsStack-Job-dc1e52da3e6f/"
                }
            },
            "roleArn": "arn:aws:iam::123456789012:role/PersonalizeBatchRole",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
            "themeGenerationConfig": {"fieldsForThemeGeneration": {"itemName": "title"}},
        },
    },
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_golden_name_is_the_previous_releases_name(case: str) -> None:
    parsed = props.parse_properties(BI, GOLDEN[case]["props"])
    assert names.derive_job_name(parsed, GOLDEN_STACK_ID, "Job") == GOLDEN[case]["name"]


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_golden_request_is_the_previous_releases_request(case: str) -> None:
    parsed = props.parse_properties(BI, GOLDEN[case]["props"])
    name = names.derive_job_name(parsed, GOLDEN_STACK_ID, "Job")
    assert definitions.build_create_request(parsed, name) == GOLDEN[case]["request"]


def test_golden_stack_is_the_test_stack() -> None:
    assert GOLDEN_STACK_ID == STACK_ID


# --- derived names --------------------------------------------------------------------------------


def test_name_is_prefix_dash_twelve_hex_digits() -> None:
    assert re.fullmatch(r"RecsStack-Job-[0-9a-f]{12}", name_for())


def test_name_is_deterministic() -> None:
    assert name_for() == name_for()


def test_name_changes_with_the_stack_instance() -> None:
    assert name_for() != name_for(stack_id=OTHER_STACK_ID)


def test_name_changes_with_the_logical_id() -> None:
    assert name_for(logical_id="Job") != name_for(logical_id="Job2")


def test_name_changes_with_a_job_defining_property() -> None:
    assert name_for() != name_for(
        SolutionVersionArn="arn:aws:personalize:us-east-1:123456789012:solution/x/2"
    )


def test_name_changes_with_the_run_token() -> None:
    assert name_for(RunToken="1") != name_for(RunToken="2")


def test_name_ignores_tags_wait_handle_and_timeout() -> None:
    changed = name_for(Tags=[{"Key": "a", "Value": "b"}], WaitHandle="https://h", TimeoutSeconds="600")
    assert changed == name_for()


def test_name_ignores_the_run_id() -> None:
    assert name_for(RunId="2024-05-01") == name_for()


def test_name_ignores_how_a_number_was_spelled() -> None:
    assert name_for(NumResults="25") == name_for(NumResults=25)


def test_name_ignores_map_key_order() -> None:
    first = name_for(RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "0.2"})
    second = name_for(RankingInfluence={"FRESHNESS": "0.20", "POPULARITY": "0.5"})
    assert first == second


def test_absent_mode_names_the_job_as_batch_inference_mode_does() -> None:
    assert name_for(Mode=None) == name_for(Mode="BATCH_INFERENCE")


def test_long_prefix_is_cut_to_63_characters() -> None:
    name = name_for(JobNamePrefix="P" * 200)
    assert len(name) == 63
    assert NAME_PATTERN.fullmatch(name)


def test_odd_characters_in_prefix_become_dashes() -> None:
    assert name_for(JobNamePrefix="My Stack/Job.1").startswith("My-Stack-Job-1-")


def test_valid_prefix_is_kept_verbatim_for_the_constructs_iam_pattern() -> None:
    prefix = "Recs--Stack_-Job" + "x" * 34
    assert name_for(JobNamePrefix=prefix).startswith(f"{prefix}-")


def test_prefix_starting_with_a_dash_or_underscore_is_trimmed() -> None:
    assert name_for(JobNamePrefix="--_job").startswith("job-")


def test_prefix_with_no_valid_character_falls_back_to_default() -> None:
    assert name_for(JobNamePrefix="///").startswith(f"{contract.DEFAULT_NAME_PREFIX}-")


def test_every_derived_name_matches_the_service_pattern() -> None:
    prefixes = ["RecsStack-Job", "é-ü", "a" * 63, "_x", "9lives", "a b c", "Stack/Nested/Job-With_Chars!"]
    for prefix in prefixes:
        name = name_for(JobNamePrefix=prefix)
        assert NAME_PATTERN.fullmatch(name) and len(name) <= 63, prefix


def test_explicit_job_name_wins() -> None:
    assert name_for(JobName="my-job") == "my-job"


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_every_kind_derives_a_valid_deterministic_name(kind: contract.JobKind) -> None:
    parsed = props.parse_properties(kind, kind_properties(kind))
    name = names.derive_job_name(parsed, STACK_ID, "Job")
    assert re.fullmatch(r"RecsStack-Job-[0-9a-f]{12}", name)
    assert name == names.derive_job_name(props.parse_properties(kind, kind_properties(kind)), STACK_ID, "Job")


@pytest.mark.parametrize(
    ("kind", "prop", "value"),
    [
        (SEGMENT, "NumResults", "50"),
        (DATASET_IMPORT, "ImportMode", "INCREMENTAL"),
        (DATASET_IMPORT, "DataLocation", "s3://in-bucket/other.csv"),
        (SOLUTION_VERSION, "TrainingMode", "UPDATE"),
        (SOLUTION_VERSION, "RunToken", "2"),
    ],
)
def test_every_kinds_name_changes_with_its_defining_properties(
    kind: contract.JobKind, prop: str, value: str
) -> None:
    before = names.derive_job_name(props.parse_properties(kind, kind_properties(kind)), STACK_ID, "Job")
    after = names.derive_job_name(
        props.parse_properties(kind, kind_properties(kind, **{prop: value})), STACK_ID, "Job"
    )
    assert before != after


def test_job_hash_is_twelve_hex_digits() -> None:
    parsed = props.parse_properties(BI, base_properties())
    assert re.fullmatch(r"[0-9a-f]{12}", names.job_hash(parsed, STACK_ID, "Job"))


# --- stack and job ARNs ---------------------------------------------------------------------------


def test_stack_arn_gives_partition_region_and_account() -> None:
    stack = names.parse_stack_arn("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/S/guid")
    assert stack == names.StackArn(partition="aws-cn", region="cn-north-1", account="123456789012")


def test_malformed_stack_id_is_refused() -> None:
    with pytest.raises(ValueError, match="StackId"):
        names.parse_stack_arn("not-an-arn")


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        (BI, "batch-inference-job"),
        (SEGMENT, "batch-segment-job"),
        (DATASET_IMPORT, "dataset-import-job"),
    ],
)
def test_job_arn_is_built_from_the_stack_partition_region_and_account(
    kind: contract.JobKind, resource: str
) -> None:
    assert names.job_arn(kind, STACK_ID, "n") == f"arn:aws:personalize:us-east-1:123456789012:{resource}/n"


def test_job_arn_follows_the_stacks_partition() -> None:
    stack_id = "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/S/guid"
    assert (
        names.job_arn(BI, stack_id, "n")
        == "arn:aws-cn:personalize:cn-north-1:123456789012:batch-inference-job/n"
    )


def test_solution_version_arn_is_not_derived_from_its_name() -> None:
    assert names.job_arn(SOLUTION_VERSION, STACK_ID, "n") is None


def test_job_name_is_read_back_from_a_job_arn() -> None:
    assert names.name_in_arn(BI, "arn:aws:personalize:us-east-1:1:batch-inference-job/n-1") == "n-1"


@pytest.mark.parametrize("kind", [BI, SEGMENT, DATASET_IMPORT], ids=lambda kind: kind.key)
def test_every_named_kinds_name_is_read_back_from_its_arn(kind: contract.JobKind) -> None:
    assert names.name_in_arn(kind, arn_of("RecsStack-Job-0123456789ab", kind)) == "RecsStack-Job-0123456789ab"


def test_a_physical_id_that_is_not_a_job_arn_has_no_job_name() -> None:
    assert names.name_in_arn(BI, "RecsStack-Job-7bfc1a6e") is None


def test_another_kinds_arn_has_no_job_name() -> None:
    assert names.name_in_arn(BI, arn_of("n", SEGMENT)) is None


def test_solution_version_arn_has_no_job_name() -> None:
    assert names.name_in_arn(SOLUTION_VERSION, SOLUTION_VERSION_ARN) is None


@pytest.mark.parametrize("kind", [BI, SEGMENT, DATASET_IMPORT], ids=lambda kind: kind.key)
def test_own_kinds_arn_is_a_job_arn(kind: contract.JobKind) -> None:
    assert names.is_job_arn(kind, arn_of("n", kind))


def test_solution_version_arn_is_a_solution_version_job_arn() -> None:
    assert names.is_job_arn(SOLUTION_VERSION, SOLUTION_VERSION_ARN)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_provider_create_failed_marker_is_not_a_job_arn(kind: contract.JobKind) -> None:
    assert not names.is_job_arn(kind, PROVIDER_CREATE_FAILED)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_other_kinds_arns_are_not_job_arns(kind: contract.JobKind) -> None:
    others = {
        BI.key: arn_of("n", BI),
        SEGMENT.key: arn_of("n", SEGMENT),
        DATASET_IMPORT.key: arn_of("n", DATASET_IMPORT),
        SOLUTION_VERSION.key: SOLUTION_VERSION_ARN,
    }
    for key, arn in others.items():
        if key != kind.key:
            assert not names.is_job_arn(kind, arn), (kind.key, arn)


def test_a_plain_job_name_is_not_a_job_arn() -> None:
    assert not names.is_job_arn(BI, "RecsStack-Job-0123456789ab")


# --- monitor executions ---------------------------------------------------------------------------


def job_arns() -> list[str]:
    return [
        arn_of("j" * 63),
        arn_of("RecsStack-Job-0123456789ab", SEGMENT),
        arn_of("RecsStack-Job-0123456789ab", DATASET_IMPORT),
        SOLUTION_VERSION_ARN,
    ]


@pytest.mark.parametrize("job_arn", job_arns())
def test_execution_name_fits_step_functions(job_arn: str) -> None:
    name = names.execution_name(job_arn, "7bfc1a6e-0000-4000-8000-000000000001")
    assert len(name) <= 80
    assert EXECUTION_NAME_PATTERN.fullmatch(name), name


@pytest.mark.parametrize("job_arn", job_arns())
def test_execution_name_starts_with_the_jobs_execution_prefix(job_arn: str) -> None:
    assert names.execution_name(job_arn, "req-1").startswith(names.execution_prefix(job_arn))


def test_execution_name_is_the_same_for_the_same_request() -> None:
    job_arn = arn_of("RecsStack-Job-0123456789ab")
    assert names.execution_name(job_arn, "req-1") == names.execution_name(job_arn, "req-1")


def test_execution_name_differs_for_another_request() -> None:
    job_arn = arn_of("RecsStack-Job-0123456789ab")
    assert names.execution_name(job_arn, "req-1") != names.execution_name(job_arn, "req-2")


def test_execution_name_differs_for_another_job_with_the_same_request() -> None:
    first, second = arn_of("RecsStack-Job-0123456789ab"), arn_of("RecsStack-Job-ba9876543210")
    assert names.execution_name(first, "req-1") != names.execution_name(second, "req-1")


def test_execution_prefix_is_readable_from_the_job_name() -> None:
    assert names.execution_prefix(arn_of("RecsStack-Job-0123456789ab")).startswith(
        "RecsStack-Job-0123456789ab-"
    )


def test_execution_prefixes_differ_for_names_sharing_their_first_40_characters() -> None:
    shared = "RecsStack-VeryLongLogicalIdOfTheJob-" + "x" * 4
    assert len(shared) == 40
    first, second = arn_of(f"{shared}-0123456789ab"), arn_of(f"{shared}-ba9876543210")
    assert names.execution_prefix(first) != names.execution_prefix(second)


def test_execution_prefixes_differ_for_the_same_name_of_two_kinds() -> None:
    name = "RecsStack-Job-0123456789ab"
    assert names.execution_prefix(arn_of(name, BI)) != names.execution_prefix(arn_of(name, SEGMENT))


def test_execution_prefix_of_one_job_does_not_start_another_jobs_execution_names() -> None:
    first, second = arn_of("RecsStack-Job"), arn_of("RecsStack-Job-0123456789ab")
    assert not names.execution_name(second, "req-1").startswith(names.execution_prefix(first))


def test_execution_arn_is_the_state_machines_execution() -> None:
    assert (
        names.execution_arn("arn:aws:states:us-east-1:123456789012:stateMachine:Monitor", "exec-1")
        == "arn:aws:states:us-east-1:123456789012:execution:Monitor:exec-1"
    )
