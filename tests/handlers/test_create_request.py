"""The CreateBatchInferenceJob request and the adoption comparison (job_logic)."""

from __future__ import annotations

import job_logic

from .testkit import FILTER_ARN, KEY_ARN, ROLE_ARN, SOLUTION_VERSION_ARN, base_properties


def request_for(**overrides: object) -> dict[str, object]:
    return job_logic.build_create_request(job_logic.parse_properties(base_properties(**overrides)), "job-1")


def test_minimal_request_has_the_required_fields_and_mode() -> None:
    assert request_for(NumResults=None, Tags=None) == {
        "jobName": "job-1",
        "solutionVersionArn": SOLUTION_VERSION_ARN,
        "jobInput": {"s3DataSource": {"path": "s3://in-bucket/users/"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://out-bucket/batch-inference/RecsStack/Job/job-1/"}},
        "roleArn": ROLE_ARN,
        "batchInferenceJobMode": "BATCH_INFERENCE",
    }


def test_output_path_is_bucket_prefix_and_job_name() -> None:
    request = request_for(OutputPrefix="")
    assert request["jobOutput"] == {"s3DataDestination": {"path": "s3://out-bucket/job-1/"}}


def test_kms_keys_go_to_input_and_output() -> None:
    request = request_for(InputKmsKeyArn=KEY_ARN, OutputKmsKeyArn=KEY_ARN)
    assert request["jobInput"] == {"s3DataSource": {"path": "s3://in-bucket/users/", "kmsKeyArn": KEY_ARN}}
    assert request["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == KEY_ARN  # type: ignore[index]


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


def described(request: dict[str, object], **changes: object) -> dict[str, object]:
    job = {**request, "status": "ACTIVE", "batchInferenceJobArn": "arn:x"}
    job.update(changes)
    return job


def test_existing_job_with_same_solution_version_input_and_output_is_ours() -> None:
    request = request_for()
    assert job_logic.job_differences(request, described(request)) == []


def test_trailing_slash_difference_in_paths_does_not_matter() -> None:
    request = request_for()
    job = described(request, jobInput={"s3DataSource": {"path": "s3://in-bucket/users"}})
    assert job_logic.job_differences(request, job) == []


def test_differences_name_the_field_and_both_values() -> None:
    request = request_for()
    job = described(request, solutionVersionArn="arn:aws:personalize:us-east-1:1:solution/other/9")
    assert job_logic.job_differences(request, job) == [
        f"solutionVersionArn: wanted {SOLUTION_VERSION_ARN!r}, "
        "found 'arn:aws:personalize:us-east-1:1:solution/other/9'"
    ]
