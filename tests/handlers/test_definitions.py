"""Each kind's Create request and how an existing job's description compares with it (definitions)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from .testkit import (
    BI,
    DATASET_ARN,
    DATASET_IMPORT,
    FILTER_ARN,
    KEY_ARN,
    ROLE_ARN,
    SEGMENT,
    SOLUTION_ARN,
    SOLUTION_VERSION,
    SOLUTION_VERSION_ARN,
    base_properties,
    describe_response,
    kind_properties,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import definitions  # isort: skip
import props  # isort: skip

OTHER_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
ALL_KINDS = (BI, SEGMENT, DATASET_IMPORT, SOLUTION_VERSION)


def request_for(**overrides: object) -> dict[str, Any]:
    return definitions.build_create_request(props.parse_properties(BI, base_properties(**overrides)), "job-1")


def kind_request(kind: contract.JobKind, **overrides: object) -> dict[str, Any]:
    return definitions.build_create_request(
        props.parse_properties(kind, kind_properties(kind, **overrides)), "job-1"
    )


def described(request: dict[str, Any], kind: contract.JobKind = BI, **changes: Any) -> dict[str, Any]:
    """The job ``request`` created, as Describe shows it (``changes`` replace top-level members)."""
    job: dict[str, Any] = describe_response(request, "ACTIVE", kind=kind, arn="arn:x", **changes)[
        kind.described
    ]
    return job


def without(document: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of ``document`` with the member at ``path`` removed."""
    copy: dict[str, Any] = {
        key: without(value) if isinstance(value, dict) else value for key, value in document.items()
    }
    if path:
        target = copy
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return copy


def validate(kind: contract.JobKind, request: dict[str, Any], session: boto3.Session) -> None:
    """Raises ParamValidationError unless botocore's (trimmed) Personalize model accepts ``request``."""
    model = session.client("personalize").meta.service_model.operation_model(kind.create)
    validate_parameters(request, model.input_shape)


# --- the batch inference request ------------------------------------------------------------------


def test_minimal_request_has_the_required_fields_and_mode() -> None:
    assert request_for(NumResults=None, Tags=None) == {
        "jobName": "job-1",
        "solutionVersionArn": SOLUTION_VERSION_ARN,
        "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://out-bucket/batch-inference/RecsStack/Job/job-1/"}},
        "roleArn": ROLE_ARN,
        "batchInferenceJobMode": "BATCH_INFERENCE",
    }


def test_absent_mode_is_sent_as_batch_inference() -> None:
    assert request_for(Mode=None)["batchInferenceJobMode"] == "BATCH_INFERENCE"


def test_output_path_is_bucket_prefix_and_job_name() -> None:
    request = request_for(OutputPrefix="")
    assert request["jobOutput"] == {"s3DataDestination": {"path": "s3://out-bucket/job-1/"}}


def test_kms_keys_go_to_input_and_output() -> None:
    request = request_for(InputKmsKeyArn=KEY_ARN, OutputKmsKeyArn=KEY_ARN)
    assert request["jobInput"] == {"s3DataSource": {"path": "s3://in-bucket/users/", "kmsKeyArn": KEY_ARN}}
    assert request["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == KEY_ARN


def test_num_results_and_filter_are_typed() -> None:
    request = request_for(NumResults="50", FilterArn=FILTER_ARN)
    assert (request["numResults"], request["filterArn"]) == (50, FILTER_ARN)


def test_item_exploration_and_ranking_influence_go_to_the_job_config() -> None:
    request = request_for(
        ItemExplorationConfig={"explorationWeight": "0.3"}, RankingInfluence={"POPULARITY": "0.5"}
    )
    assert request["batchInferenceJobConfig"] == {
        "itemExplorationConfig": {"explorationWeight": "0.3"},
        "rankingInfluence": {"POPULARITY": 0.5},
    }


def test_theme_generation_sets_mode_and_item_name_field() -> None:
    request = request_for(Mode="THEME_GENERATION", ThemeItemNameField="title")
    assert request["batchInferenceJobMode"] == "THEME_GENERATION"
    assert request["themeGenerationConfig"] == {"fieldsForThemeGeneration": {"itemName": "title"}}


def test_tags_become_tag_key_and_tag_value() -> None:
    request = request_for(Tags=[{"Key": "team", "Value": "recs"}, {"Key": "env", "Value": ""}])
    assert request["tags"] == [{"tagKey": "team", "tagValue": "recs"}, {"tagKey": "env", "tagValue": ""}]


def test_request_without_tags_has_no_tags_member() -> None:
    assert "tags" not in request_for(Tags=None)


# --- where a job writes ---------------------------------------------------------------------------


def test_output_uri_is_bucket_prefix_and_job_name() -> None:
    parsed = props.parse_properties(BI, base_properties())
    assert (
        definitions.output_s3_uri(parsed, "job-1") == "s3://out-bucket/batch-inference/RecsStack/Job/job-1/"
    )


def test_results_prefix_is_the_same_for_every_run() -> None:
    parsed = props.parse_properties(BI, base_properties())
    assert definitions.results_prefix_uri(parsed) == "s3://out-bucket/batch-inference/RecsStack/Job/"


def test_manifest_is_latest_json_under_the_output_prefix() -> None:
    parsed = props.parse_properties(BI, base_properties())
    assert definitions.manifest_location(parsed) == (
        "out-bucket",
        "batch-inference/RecsStack/Job/latest.json",
    )


def test_batch_segment_output_is_under_its_own_prefix() -> None:
    parsed = props.parse_properties(SEGMENT, kind_properties(SEGMENT))
    assert definitions.output_s3_uri(parsed, "job-1") == "s3://out-bucket/batch-segment/RecsStack/Job/job-1/"


@pytest.mark.parametrize("kind", [DATASET_IMPORT, SOLUTION_VERSION], ids=lambda kind: kind.key)
def test_kinds_without_output_have_no_output_locations(kind: contract.JobKind) -> None:
    parsed = props.parse_properties(kind, kind_properties(kind))
    assert definitions.output_s3_uri(parsed, "job-1") is None
    assert definitions.results_prefix_uri(parsed) is None
    assert definitions.manifest_location(parsed) is None


# --- every kind's request, as botocore's Personalize model accepts it -----------------------------


def test_batch_segment_request_shape() -> None:
    assert kind_request(SEGMENT, NumResults="100", FilterArn=FILTER_ARN) == {
        "jobName": "job-1",
        "solutionVersionArn": SOLUTION_VERSION_ARN,
        "jobInput": {"s3DataSource": {"path": "s3://in-bucket/items/"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://out-bucket/batch-segment/RecsStack/Job/job-1/"}},
        "roleArn": ROLE_ARN,
        "numResults": 100,
        "filterArn": FILTER_ARN,
    }


def test_dataset_import_request_shape() -> None:
    assert kind_request(DATASET_IMPORT, ImportMode="INCREMENTAL") == {
        "jobName": "job-1",
        "datasetArn": DATASET_ARN,
        "dataSource": {"dataLocation": "s3://in-bucket/interactions.csv"},
        "roleArn": ROLE_ARN,
        "importMode": "INCREMENTAL",
    }


def test_solution_version_request_shape() -> None:
    assert kind_request(SOLUTION_VERSION, TrainingMode="UPDATE") == {
        "name": "job-1",
        "solutionArn": SOLUTION_ARN,
        "trainingMode": "UPDATE",
    }


@pytest.mark.parametrize(
    ("kind", "prop", "member", "default"),
    [
        (BI, "Mode", "batchInferenceJobMode", "BATCH_INFERENCE"),
        (DATASET_IMPORT, "ImportMode", "importMode", "FULL"),
        (SOLUTION_VERSION, "TrainingMode", "trainingMode", "FULL"),
    ],
)
def test_absent_choice_is_sent_with_its_declared_default(
    kind: contract.JobKind, prop: str, member: str, default: str
) -> None:
    assert kind_request(kind, **{prop: None})[member] == default


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_minimal_request_of_every_kind_is_valid_for_the_service_model(
    kind: contract.JobKind, aws_session: boto3.Session
) -> None:
    validate(kind, kind_request(kind, Tags=None), aws_session)


@pytest.mark.parametrize(
    ("kind", "overrides"),
    [
        (
            BI,
            {
                "InputKmsKeyArn": KEY_ARN,
                "OutputKmsKeyArn": KEY_ARN,
                "NumResults": "50",
                "FilterArn": FILTER_ARN,
                "ItemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
                "RankingInfluence": {"POPULARITY": "0.5", "FRESHNESS": "1"},
            },
        ),
        (BI, {"Mode": "THEME_GENERATION", "ThemeItemNameField": "title"}),
        (
            SEGMENT,
            {
                "InputKmsKeyArn": KEY_ARN,
                "OutputKmsKeyArn": KEY_ARN,
                "NumResults": "100",
                "FilterArn": FILTER_ARN,
            },
        ),
        (DATASET_IMPORT, {"ImportMode": "INCREMENTAL"}),
        (SOLUTION_VERSION, {"TrainingMode": "UPDATE"}),
    ],
    ids=["batch-inference", "theme-generation", "batch-segment", "dataset-import", "solution-version"],
)
def test_full_request_of_every_kind_is_valid_for_the_service_model(
    kind: contract.JobKind, overrides: dict[str, Any], aws_session: boto3.Session
) -> None:
    request = kind_request(kind, Tags=[{"Key": "team", "Value": "recs"}], **overrides)
    assert request["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    validate(kind, request, aws_session)


def test_the_model_check_refuses_a_malformed_request(aws_session: boto3.Session) -> None:
    """The validation above would catch a wrong shape: a count sent as text is refused."""
    with pytest.raises(ParamValidationError, match="numResults"):
        validate(SEGMENT, {**kind_request(SEGMENT), "numResults": "100"}, aws_session)


# --- definition_differences: is an existing job this request's job? -------------------------------


def test_existing_job_with_the_same_definition_has_no_differences() -> None:
    request = request_for()
    assert definitions.definition_differences(BI, request, described(request)) == []


def test_full_definition_compared_with_its_own_job_has_no_differences() -> None:
    request = request_for(
        InputKmsKeyArn=KEY_ARN,
        OutputKmsKeyArn=KEY_ARN,
        FilterArn=FILTER_ARN,
        ItemExplorationConfig={"explorationWeight": "0.3"},
        RankingInfluence={"POPULARITY": "0.5"},
        Mode="THEME_GENERATION",
        ThemeItemNameField="title",
    )
    assert definitions.definition_differences(BI, request, described(request)) == []


def test_differences_name_the_property_the_path_and_both_values() -> None:
    request = request_for()
    job = described(request, solutionVersionArn="arn:aws:personalize:us-east-1:1:solution/other/9")
    assert definitions.definition_differences(BI, request, job) == [
        f"SolutionVersionArn (solutionVersionArn): wanted {SOLUTION_VERSION_ARN!r}, "
        "found 'arn:aws:personalize:us-east-1:1:solution/other/9'"
    ]


def test_nested_difference_names_its_dotted_path() -> None:
    request = request_for()
    job = described(request, jobInput={"s3DataSource": {"path": "s3://in-bucket/other/"}})
    assert definitions.definition_differences(BI, request, job) == [
        "InputPath (jobInput.s3DataSource.path): wanted 's3://in-bucket/users/', found 's3://in-bucket/other/'"
    ]


def test_trailing_slash_difference_in_the_input_path_is_a_difference() -> None:
    request = request_for(InputPath="s3://b/users")
    job = described(request, jobInput={"s3DataSource": {"path": "s3://b/users/"}})
    assert definitions.definition_differences(BI, request, job) == [
        "InputPath (jobInput.s3DataSource.path): wanted 's3://b/users', found 's3://b/users/'"
    ]


def test_another_output_location_is_a_difference_of_the_output_prefix() -> None:
    request = request_for()
    job = described(request, jobOutput={"s3DataDestination": {"path": "s3://out-bucket/elsewhere/job-1/"}})
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("OutputPrefix (jobOutput.s3DataDestination.path): ")


def test_another_role_is_a_difference() -> None:
    request = request_for()
    job = described(request, roleArn="arn:aws:iam::123456789012:role/Other")
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("RoleArn (roleArn): ")


def test_a_filter_the_request_removed_is_a_difference() -> None:
    request = request_for()
    job = described(request, filterArn=FILTER_ARN)
    assert definitions.definition_differences(BI, request, job) == [
        f"FilterArn (filterArn): wanted None, found {FILTER_ARN!r}"
    ]


def test_an_item_exploration_config_the_request_removed_is_a_difference() -> None:
    request = request_for()
    job = described(request, batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "0.3"}})
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("ItemExplorationConfig (batchInferenceJobConfig.itemExplorationConfig): ")


def test_a_ranking_influence_the_request_removed_is_a_difference() -> None:
    request = request_for()
    job = described(request, batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 0.5}})
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("RankingInfluence (batchInferenceJobConfig.rankingInfluence): ")


def test_a_theme_item_name_field_the_request_removed_is_a_difference() -> None:
    request = request_for()
    job = described(request, themeGenerationConfig={"fieldsForThemeGeneration": {"itemName": "title"}})
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith(
        "ThemeItemNameField (themeGenerationConfig.fieldsForThemeGeneration.itemName): "
    )


def test_an_empty_job_config_is_no_difference_when_the_request_has_none() -> None:
    request = request_for()
    job = described(request, batchInferenceJobConfig={"itemExplorationConfig": {}})
    assert definitions.definition_differences(BI, request, job) == []


def test_another_ranking_influence_is_a_difference() -> None:
    request = request_for(RankingInfluence={"POPULARITY": "0.5"})
    job = described(request, batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 0.7}})
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("RankingInfluence (batchInferenceJobConfig.rankingInfluence): ")


def test_service_default_of_25_results_is_no_difference_when_the_request_leaves_it_out() -> None:
    request = request_for(NumResults=None)
    assert "numResults" not in request
    assert definitions.definition_differences(BI, request, described(request, numResults=25)) == []


def test_another_number_of_results_is_a_difference_when_the_request_leaves_it_out() -> None:
    request = request_for(NumResults=None)
    (difference,) = definitions.definition_differences(BI, request, described(request, numResults=50))
    assert difference == "NumResults (numResults): wanted None, found 50"


def test_service_default_mode_is_no_difference_when_the_request_leaves_it_out() -> None:
    request = without(request_for(), "batchInferenceJobMode")
    job = described(request, batchInferenceJobMode="BATCH_INFERENCE")
    assert definitions.definition_differences(BI, request, job) == []


def test_theme_generation_mode_is_a_difference_when_the_request_leaves_the_mode_out() -> None:
    request = without(request_for(), "batchInferenceJobMode")
    job = described(request, batchInferenceJobMode="THEME_GENERATION")
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("Mode (batchInferenceJobMode): ")


def test_another_input_kms_key_is_a_difference() -> None:
    request = request_for(InputKmsKeyArn=KEY_ARN)
    job = described(
        request, jobInput={"s3DataSource": {"path": "s3://in-bucket/users/", "kmsKeyArn": OTHER_KEY_ARN}}
    )
    assert definitions.definition_differences(BI, request, job) == [
        f"InputKmsKeyArn (jobInput.s3DataSource.kmsKeyArn): wanted {KEY_ARN!r}, found {OTHER_KEY_ARN!r}"
    ]


def test_an_input_kms_key_the_request_removed_is_a_difference() -> None:
    request = request_for()
    job = described(
        request, jobInput={"s3DataSource": {"path": "s3://in-bucket/users/", "kmsKeyArn": KEY_ARN}}
    )
    (difference,) = definitions.definition_differences(BI, request, job)
    assert difference.startswith("InputKmsKeyArn (jobInput.s3DataSource.kmsKeyArn): ")


def test_another_output_kms_key_is_a_difference() -> None:
    request = request_for(OutputKmsKeyArn=KEY_ARN)
    output = request["jobOutput"]["s3DataDestination"]["path"]
    job = described(request, jobOutput={"s3DataDestination": {"path": output, "kmsKeyArn": OTHER_KEY_ARN}})
    assert definitions.definition_differences(BI, request, job) == [
        "OutputKmsKeyArn (jobOutput.s3DataDestination.kmsKeyArn): "
        f"wanted {KEY_ARN!r}, found {OTHER_KEY_ARN!r}"
    ]


def test_every_difference_is_listed() -> None:
    request = request_for()
    job = described(
        request, roleArn="arn:aws:iam::123456789012:role/Other", filterArn=FILTER_ARN, numResults=50
    )
    differences = definitions.definition_differences(BI, request, job)
    assert [difference.split(" ", 1)[0] for difference in differences] == [
        "RoleArn",
        "FilterArn",
        "NumResults",
    ]


def test_a_weight_of_0_5_equals_0_50() -> None:
    request = request_for(RankingInfluence={"POPULARITY": "0.5"})
    job = described(request, batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 0.50}})
    assert definitions.definition_differences(BI, request, job) == []


def test_a_weight_of_0_5_equals_one_written_as_text_0_50() -> None:
    request = request_for(RankingInfluence={"POPULARITY": "0.5"})
    job = described(request, batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": "0.50"}})
    assert definitions.definition_differences(BI, request, job) == []


def test_a_whole_weight_equals_its_integer() -> None:
    request = request_for(RankingInfluence={"POPULARITY": "1"})
    job = described(request, batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 1}})
    assert definitions.definition_differences(BI, request, job) == []


def test_a_count_of_25_equals_one_written_as_text() -> None:
    request = request_for(NumResults="25")
    assert definitions.definition_differences(BI, request, described(request, numResults="25")) == []


def test_a_count_written_as_text_equals_the_number() -> None:
    request = {**request_for(NumResults="25"), "numResults": "25"}
    assert definitions.definition_differences(BI, request, described(request, numResults=25)) == []


def test_tags_are_not_part_of_the_definition() -> None:
    request = request_for(Tags=[{"Key": "team", "Value": "recs"}])
    assert definitions.definition_differences(BI, request, described(request, tags=[])) == []


def test_batch_segment_num_results_the_service_filled_in_is_no_difference() -> None:
    request = kind_request(SEGMENT)
    assert "numResults" not in request
    job = described(request, SEGMENT, numResults=100)
    assert definitions.definition_differences(SEGMENT, request, job) == []


def test_batch_segment_has_no_batch_inference_fields_to_compare() -> None:
    request = kind_request(SEGMENT)
    job = described(request, SEGMENT, batchInferenceJobMode="THEME_GENERATION")
    assert definitions.definition_differences(SEGMENT, request, job) == []


def test_dataset_import_from_another_location_is_a_difference() -> None:
    request = kind_request(DATASET_IMPORT)
    job = described(request, DATASET_IMPORT, dataSource={"dataLocation": "s3://in-bucket/other.csv"})
    (difference,) = definitions.definition_differences(DATASET_IMPORT, request, job)
    assert difference.startswith("DataLocation (dataSource.dataLocation): ")


def test_dataset_import_in_another_mode_is_a_difference() -> None:
    request = kind_request(DATASET_IMPORT)
    job = described(request, DATASET_IMPORT, importMode="INCREMENTAL")
    assert definitions.definition_differences(DATASET_IMPORT, request, job) == [
        "ImportMode (importMode): wanted 'FULL', found 'INCREMENTAL'"
    ]


def test_solution_version_of_another_solution_is_a_difference() -> None:
    request = kind_request(SOLUTION_VERSION)
    job = described(
        request, SOLUTION_VERSION, solutionArn="arn:aws:personalize:us-east-1:123456789012:solution/x"
    )
    (difference,) = definitions.definition_differences(SOLUTION_VERSION, request, job)
    assert difference.startswith("SolutionArn (solutionArn): ")


def test_solution_version_with_the_same_definition_has_no_differences() -> None:
    request = kind_request(SOLUTION_VERSION)
    job = described(request, SOLUTION_VERSION)
    assert definitions.definition_differences(SOLUTION_VERSION, request, job) == []
