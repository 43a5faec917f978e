"""Inputs that used to crash or pass silently: each now fails at synth naming the prop and the fix, or
warns, or (a failed run) says what to do next."""

from __future__ import annotations

import datetime
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceJobMode,
    BatchInferenceStorage,
    BatchSegmentJob,
    DatasetImportJob,
    SolutionVersion,
)
from tests.handlers.testkit import contract  # noqa: F401  (puts lambda/ on sys.path)

import schedule  # isort: skip  (lambda/, on sys.path once testkit is imported)
import sizes  # isort: skip

ACCOUNT = "123456789012"
VERSION_ARN = f"arn:aws:personalize:us-east-1:{ACCOUNT}:solution/recs/1a2b3c4d"
SOLUTION_ARN = f"arn:aws:personalize:us-east-1:{ACCOUNT}:solution/recs"
DATASET_ARN = f"arn:aws:personalize:us-east-1:{ACCOUNT}:dataset/group/INTERACTIONS"
FILTER_ARN = f"arn:aws:personalize:us-east-1:{ACCOUNT}:filter/no-bought"


def _stack(region: str | None = None) -> cdk.Stack:
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    return cdk.Stack(cdk.App(), "Inputs", env=env)


def _job(stack: cdk.Stack, **props: Any) -> BatchInferenceJob:
    given: dict[str, Any] = {"solution_version_arn": VERSION_ARN, "input_path": "users/"}
    given.update(props)
    return BatchInferenceJob(stack, "Job", **given)


# ---------------------------------------------------------------------------------------- timeout


@pytest.mark.parametrize(
    ("timeout", "fix"),
    [
        (3600, "timeout=Duration.hours(1)"),
        (900, "timeout=Duration.minutes(15)"),
        (datetime.timedelta(hours=2), "timeout=Duration.hours(2)"),
        (datetime.timedelta(seconds=330), "timeout=Duration.seconds(330)"),
    ],
)
def test_a_timeout_that_is_not_a_duration_names_the_prop_and_the_duration_to_write(
    timeout: Any, fix: str
) -> None:
    with pytest.raises(ValueError, match=r"BatchInferenceJob at .*: invalid props") as raised:
        _job(_stack(), timeout=timeout)
    message = str(raised.value)
    assert "is not a Duration; use aws_cdk.Duration" in message and fix in message
    assert "is_unresolved" not in message


def test_every_kind_refuses_a_number_as_timeout() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(stack, "Storage")
    with pytest.raises(ValueError, match=r"SolutionVersion at .*: invalid props:\n  - timeout=7200 is not"):
        SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN, timeout=7200)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"DatasetImportJob at .*: invalid props:\n  - timeout=7200 is not"):
        DatasetImportJob(
            stack,
            "Import",
            dataset_arn=DATASET_ARN,
            data_path="d/",
            storage=storage,
            timeout=7200,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match=r"BatchSegmentJob at .*: invalid props:\n  - timeout='6h' is a str"):
        BatchSegmentJob(stack, "Segments", solution_version_arn=VERSION_ARN, input_path="i/", timeout="6h")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- s3:// paths


def test_an_input_uri_of_another_bucket_says_to_bring_that_bucket_into_the_storage() -> None:
    with pytest.raises(ValueError) as raised:
        _job(_stack(), input_path="s3://other-bucket/users/")
    message = str(raised.value)
    assert "names the bucket 'other-bucket'" in message
    assert "bring it into the storage" in message
    assert "input_bucket=s3.Bucket.from_bucket_name(scope, 'Bucket', 'other-bucket')" in message
    assert "input_path='users/'" in message
    assert "drop 's3://" not in message  # that would silently read the storage's own bucket


def test_an_input_uri_of_the_storages_own_bucket_says_to_drop_the_bucket() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(
        stack,
        "Storage",
        input_bucket=s3.Bucket.from_bucket_name(stack, "In", "my-input"),
        output_bucket=s3.Bucket.from_bucket_name(stack, "Out", "my-output"),
    )
    with pytest.raises(ValueError) as raised:
        _job(stack, input_path="s3://my-input/users/", storage=storage, output_prefix="s3://my-output/r/")
    message = str(raised.value)
    assert (
        "input_path='s3://my-input/users/' must be a key inside the storage's input_bucket; drop " in message
    )
    assert "input_path='users/'" in message
    assert "output_prefix='s3://my-output/r/' must be a key inside the storage's output_bucket" in message


def test_a_data_path_or_output_prefix_in_another_bucket_names_the_real_fix() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(
        stack,
        "Storage",
        input_bucket=s3.Bucket.from_bucket_name(stack, "In", "my-input"),
        output_bucket=s3.Bucket.from_bucket_name(stack, "Out", "my-output"),
    )
    with pytest.raises(ValueError) as raised:
        DatasetImportJob(
            stack, "Import", dataset_arn=DATASET_ARN, data_path="s3://lake/i.csv", storage=storage
        )
    assert "data_path='s3://lake/i.csv' names the bucket 'lake'" in str(raised.value)
    assert "the storage's input_bucket ('my-input')" in str(raised.value)
    with pytest.raises(ValueError) as raised:
        _job(stack, storage=storage, output_prefix="s3://reports/recs/")
    assert "output_bucket=s3.Bucket.from_bucket_name(scope, 'Bucket', 'reports')" in str(raised.value)


def test_an_absolute_key_says_to_drop_the_slash() -> None:
    with pytest.raises(ValueError, match=r"drop the leading '/': input_path='users/'"):
        _job(_stack(), input_path="/users/")


# ---------------------------------------------------------------------------------------- recipes, regions


def _solution(stack: cdk.Stack, recipe: str) -> personalize.CfnSolution:
    return personalize.CfnSolution(
        stack,
        f"Solution{recipe.replace('-', '')}",
        dataset_group_arn=f"arn:aws:personalize:us-east-1:{ACCOUNT}:dataset-group/g",
        name=recipe,
        recipe_arn=f"arn:aws:personalize:::recipe/{recipe}",
    )


def test_update_training_is_refused_for_a_recipe_that_does_not_support_it() -> None:
    stack = _stack("us-east-1")
    similar = _solution(stack, "aws-similar-items")
    with pytest.raises(
        ValueError, match=r"training_mode=UPDATE is not supported by the recipe aws-similar-items"
    ):
        SolutionVersion(stack, "Version", solution_arn=similar.attr_solution_arn, training_mode="UPDATE")


@pytest.mark.parametrize("recipe", ["aws-user-personalization", "aws-hrnn-coldstart"])
def test_update_training_is_accepted_for_the_documented_recipes(recipe: str) -> None:
    stack = _stack("us-east-1")
    solution = _solution(stack, recipe)
    SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn, training_mode="UPDATE")


def test_update_training_of_a_literal_solution_is_left_to_personalize() -> None:
    SolutionVersion(_stack("us-east-1"), "Version", solution_arn=SOLUTION_ARN, training_mode="UPDATE")


def _theme_job(stack: cdk.Stack, solution_version_arn: str = VERSION_ARN) -> BatchInferenceJob:
    return _job(
        stack,
        solution_version_arn=solution_version_arn,
        mode=BatchInferenceJobMode.THEME_GENERATION,
        theme_item_name_field="TITLE",
    )


def test_theme_generation_is_refused_outside_its_regions() -> None:
    arn = VERSION_ARN.replace("us-east-1", "eu-west-1")
    with pytest.raises(ValueError, match=r"themes only in us-east-1, us-west-2, ap-northeast-1.*eu-west-1"):
        _theme_job(_stack("eu-west-1"), arn)


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "ap-northeast-1"])
def test_theme_generation_is_accepted_in_its_regions(region: str) -> None:
    _theme_job(_stack(region), VERSION_ARN.replace("us-east-1", region))


def test_theme_generation_is_refused_on_a_solution_that_is_not_similar_items() -> None:
    stack = _stack("us-east-1")
    version = SolutionVersion(
        stack, "Version", solution_arn=_solution(stack, "aws-user-personalization").attr_solution_arn
    )
    with pytest.raises(
        ValueError, match=r"needs a solution of the Similar-Items recipe.*aws-user-personalization"
    ):
        _theme_job(stack, version.solution_version_arn)


def test_theme_generation_on_a_similar_items_solution_is_accepted() -> None:
    stack = _stack("us-east-1")
    version = SolutionVersion(
        stack, "Version", solution_arn=_solution(stack, "aws-similar-items").attr_solution_arn
    )
    _theme_job(stack, version.solution_version_arn)


def test_segment_num_results_above_five_million_is_refused() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match=r"num_results=5000001 is more than Personalize allows per segment"):
        BatchSegmentJob(
            stack, "Too", solution_version_arn=VERSION_ARN, input_path="i/", num_results=5_000_001
        )
    BatchSegmentJob(stack, "Most", solution_version_arn=VERSION_ARN, input_path="i/", num_results=5_000_000)


def test_batch_inference_num_results_has_no_undocumented_maximum() -> None:
    _job(_stack(), num_results=10_000)


# ---------------------------------------------------------------------------------------- one region


def _warnings(stack: cdk.Stack) -> list[str]:
    return [
        str(w.entry.data)
        for w in Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("arnRegion"))
    ]


def test_a_literal_arn_in_a_stack_without_env_warns_that_the_job_works_only_in_its_region() -> None:
    stack = _stack()
    _job(stack, filter_arn=FILTER_ARN)
    (warning,) = _warnings(stack)
    assert "solution_version_arn, filter_arn in us-east-1" in warning
    assert "works only in a stack deployed to us-east-1" in warning
    assert "env=Environment(account=..., region='us-east-1')" in warning
    assert warning.endswith("[ack: constructs-lib:arnRegion]")


def test_every_kind_warns_about_its_regional_arn_without_env() -> None:
    stack = _stack()
    storage = BatchInferenceStorage(stack, "Storage")
    SolutionVersion(stack, "Version", solution_arn=SOLUTION_ARN.replace("us-east-1", "eu-west-1"))
    DatasetImportJob(stack, "Import", dataset_arn=DATASET_ARN, data_path="d/", storage=storage)
    warnings = _warnings(stack)
    assert len(warnings) == 2
    assert any("solution_arn in eu-west-1" in w for w in warnings)
    assert any("dataset_arn in us-east-1" in w for w in warnings)


def test_no_region_warning_with_env_or_for_deploy_time_arns() -> None:
    with_env = _stack("us-east-1")
    _job(with_env)
    assert _warnings(with_env) == []
    tokens = _stack()
    parameter = cdk.CfnParameter(tokens, "VersionArn")
    _job(tokens, solution_version_arn=parameter.value_as_string)
    assert _warnings(tokens) == []


def test_the_region_warning_can_be_acknowledged() -> None:
    stack = _stack()
    job = _job(stack)
    cdk.Annotations.of(job).acknowledge_warning("constructs-lib:arnRegion", "deployed to us-east-1 only")
    assert _warnings(stack) == []


# ---------------------------------------------------------------------------------------- a failed run


def test_a_failed_run_says_what_to_do_next() -> None:
    decision = schedule.decide_on_status(
        "batch inference job", "CREATE FAILED", "Input file not found.", 60, 3600
    )
    assert decision.result == "FAILURE"
    assert decision.reason == (
        "The batch inference job failed: Input file not found. To run it again, fix the cause, then deploy "
        "with a new run_token (or a new job_name)."
    )


def test_the_advice_survives_a_long_failure_reason_in_the_signal() -> None:
    decision = schedule.decide_on_status("dataset import job", "CREATE FAILED", "x" * 20_000, 60, 3600)
    body = sizes.signal_body("FAILURE", decision.reason, "id", {"JobArn": "arn:aws:personalize:..."})
    assert len(body) <= 4096
    assert json.loads(body)["Reason"].endswith("then deploy with a new run_token (or a new job_name).")
