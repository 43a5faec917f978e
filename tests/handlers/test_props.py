"""CloudFormation string properties -> typed values, for every job kind (props)."""

from __future__ import annotations

import pytest

from .testkit import (
    BI,
    DATASET_IMPORT,
    KEY_ARN,
    SEGMENT,
    SOLUTION_VERSION,
    base_properties,
    kind_properties,
)

import contract  # isort: skip  (on sys.path once testkit is imported)
import props  # isort: skip

ALL_KINDS = (BI, SEGMENT, DATASET_IMPORT, SOLUTION_VERSION)


# --- scalar and map parsers -----------------------------------------------------------------------


def test_integer_string_becomes_int() -> None:
    assert props.parse_int("NumResults", "25") == 25


def test_integer_property_rejects_float_string() -> None:
    with pytest.raises(ValueError, match=r"NumResults: '2\.5' is not an integer"):
        props.parse_int("NumResults", "2.5")


def test_integer_property_rejects_a_boolean() -> None:
    with pytest.raises(ValueError, match="NumResults: True is not an integer"):
        props.parse_int("NumResults", True)


def test_float_string_becomes_float() -> None:
    assert props.parse_float("RankingInfluence.POPULARITY", "0.5") == 0.5


def test_float_property_rejects_text_naming_the_property() -> None:
    with pytest.raises(ValueError, match=r"RankingInfluence.FRESHNESS: 'high' is not a number"):
        props.parse_float("RankingInfluence.FRESHNESS", "high")


def test_float_property_rejects_nan() -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        props.parse_float("RankingInfluence.POPULARITY", "nan")


def test_float_property_rejects_infinity() -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        props.parse_float("RankingInfluence.POPULARITY", "inf")


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("False", False), (" TRUE ", True), (False, False)]
)
def test_boolean_strings_become_booleans(raw: object, expected: bool) -> None:
    assert props.parse_bool("Flag", raw) is expected


def test_boolean_property_rejects_other_text_naming_the_property() -> None:
    with pytest.raises(ValueError, match="Flag: 'yes' is neither true nor false"):
        props.parse_bool("Flag", "yes")


def test_map_given_as_json_text_is_parsed() -> None:
    assert props.parse_map("ItemExplorationConfig", '{"explorationWeight": "0.3"}') == {
        "explorationWeight": "0.3"
    }


def test_map_property_rejects_a_list() -> None:
    with pytest.raises(ValueError, match=r"ItemExplorationConfig: .* is not a map"):
        props.parse_map("ItemExplorationConfig", ["a"])


def test_map_property_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ValueError, match=r"ItemExplorationConfig: .* is neither a map nor JSON text"):
        props.parse_map("ItemExplorationConfig", "{not json")


def test_tags_become_ordered_pairs_with_later_duplicates_winning() -> None:
    tags = [{"Key": "team", "Value": "recs"}, {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ml"}]
    assert props.parse_tags(tags) == (("team", "ml"), ("env", "dev"))


def test_tags_given_as_json_text_are_parsed() -> None:
    assert props.parse_tags('[{"Key": "team", "Value": "recs"}]') == (("team", "recs"),)


def test_tag_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Tags: .* has no Key"):
        props.parse_tags([{"Value": "recs"}])


# --- a batch inference job's properties ----------------------------------------------------------


def test_properties_are_converted_to_typed_values() -> None:
    parsed = props.parse_properties(
        BI,
        base_properties(
            NumResults="50",
            ItemExplorationConfig={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
            RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "0.2"},
            InputKmsKeyArn=KEY_ARN,
        ),
    )
    assert parsed.get("NumResults") == 50
    assert parsed.timeout_seconds == 21600
    assert dict(parsed.get("RankingInfluence")) == {"POPULARITY": 0.5, "FRESHNESS": 0.2}
    assert dict(parsed.get("ItemExplorationConfig")) == {
        "explorationWeight": "0.3",
        "explorationItemAgeCutOff": "30",
    }
    assert parsed.get("InputKmsKeyArn") == KEY_ARN
    assert parsed.tags == (("team", "recs"),)


def test_map_properties_are_kept_sorted_by_key() -> None:
    parsed = props.parse_properties(
        BI, base_properties(RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "1"})
    )
    assert parsed.get("RankingInfluence") == (("FRESHNESS", 1.0), ("POPULARITY", 0.5))


def test_map_property_given_as_json_text_is_parsed() -> None:
    parsed = props.parse_properties(BI, base_properties(RankingInfluence='{"POPULARITY": "0.5"}'))
    assert parsed.get("RankingInfluence") == (("POPULARITY", 0.5),)


def test_ranking_influence_value_that_is_not_a_number_names_its_key() -> None:
    with pytest.raises(ValueError, match=r"RankingInfluence.POPULARITY: 'high' is not a number"):
        props.parse_properties(BI, base_properties(RankingInfluence={"POPULARITY": "high"}))


def test_absent_optional_properties_are_not_set() -> None:
    parsed = props.parse_properties(BI, base_properties(NumResults=None, Tags=None))
    assert (
        parsed.get("NumResults"),
        parsed.get("FilterArn"),
        parsed.get("RankingInfluence"),
        parsed.tags,
    ) == (None, None, None, ())
    assert "NumResults" not in parsed.values


def test_empty_string_and_empty_map_mean_not_set() -> None:
    parsed = props.parse_properties(BI, base_properties(FilterArn="", RankingInfluence={}, NumResults=""))
    assert {"FilterArn", "RankingInfluence", "NumResults"}.isdisjoint(parsed.values)


def test_missing_required_property_is_named() -> None:
    with pytest.raises(ValueError, match="RoleArn: the property is required"):
        props.parse_properties(BI, base_properties(RoleArn=None))


def test_missing_output_bucket_is_named() -> None:
    with pytest.raises(ValueError, match="OutputBucket: the property is required"):
        props.parse_properties(BI, base_properties(OutputBucket=None))


def test_absent_output_prefix_is_the_empty_prefix() -> None:
    assert props.parse_properties(BI, base_properties(OutputPrefix=None)).get("OutputPrefix") == ""


def test_string_property_given_a_map_is_refused() -> None:
    with pytest.raises(ValueError, match=r"FilterArn: .* is not a string"):
        props.parse_properties(BI, base_properties(FilterArn={"a": "b"}))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="Mode: 'FAST' is not one of BATCH_INFERENCE, THEME_GENERATION"):
        props.parse_properties(BI, base_properties(Mode="FAST"))


def test_absent_timeout_is_the_longest_wait() -> None:
    parsed = props.parse_properties(BI, base_properties(TimeoutSeconds=None))
    assert parsed.timeout_seconds == contract.MAX_TIMEOUT_SECONDS == 43_200


def test_timeout_over_12_hours_is_refused() -> None:
    with pytest.raises(ValueError, match=r"TimeoutSeconds: 43201 is not within 1\.\.43200"):
        props.parse_properties(BI, base_properties(TimeoutSeconds="43201"))


def test_absent_name_prefix_is_the_default_prefix() -> None:
    parsed = props.parse_properties(BI, base_properties(JobNamePrefix=None))
    assert parsed.job_name_prefix == contract.DEFAULT_NAME_PREFIX


def test_name_run_token_and_wait_handle_are_read() -> None:
    parsed = props.parse_properties(
        BI, base_properties(JobName="nightly", RunToken="7", WaitHandle="https://h")
    )
    assert (parsed.job_name, parsed.run_token, parsed.wait_handle) == ("nightly", "7", "https://h")


def test_job_defining_holds_the_set_defining_properties_with_maps_as_dicts() -> None:
    parsed = props.parse_properties(
        BI, base_properties(RankingInfluence={"POPULARITY": "0.5"}, RunToken="7", WaitHandle="https://h")
    )
    assert parsed.job_defining() == {
        "SolutionVersionArn": parsed.get("SolutionVersionArn"),
        "InputPath": "s3://in-bucket/users/",
        "OutputBucket": "out-bucket",
        "OutputPrefix": "batch-inference/RecsStack/Job/",
        "RoleArn": parsed.get("RoleArn"),
        "NumResults": 25,
        "RankingInfluence": {"POPULARITY": 0.5},
        "Mode": "BATCH_INFERENCE",
        "RunToken": "7",
    }


# --- every kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_every_kind_parses_its_own_properties(kind: contract.JobKind) -> None:
    parsed = props.parse_properties(kind, kind_properties(kind))
    assert parsed.kind is kind
    assert {spec.prop for spec in kind.fields if spec.required} <= set(parsed.values)


@pytest.mark.parametrize(
    ("kind", "prop"),
    [
        (SEGMENT, "SolutionVersionArn"),
        (SEGMENT, "InputPath"),
        (SEGMENT, "RoleArn"),
        (SEGMENT, "OutputBucket"),
        (DATASET_IMPORT, "DatasetArn"),
        (DATASET_IMPORT, "DataLocation"),
        (DATASET_IMPORT, "RoleArn"),
        (SOLUTION_VERSION, "SolutionArn"),
    ],
)
def test_every_kind_names_a_missing_required_property(kind: contract.JobKind, prop: str) -> None:
    with pytest.raises(ValueError, match=f"{prop}: the property is required"):
        props.parse_properties(kind, kind_properties(kind, **{prop: None}))


@pytest.mark.parametrize(
    ("kind", "prop", "default"),
    [
        (BI, "Mode", "BATCH_INFERENCE"),
        (DATASET_IMPORT, "ImportMode", "FULL"),
        (SOLUTION_VERSION, "TrainingMode", "FULL"),
    ],
)
def test_absent_choice_gets_its_declared_default(kind: contract.JobKind, prop: str, default: str) -> None:
    assert props.parse_properties(kind, kind_properties(kind, **{prop: None})).get(prop) == default


@pytest.mark.parametrize(
    ("kind", "prop", "value"),
    [(DATASET_IMPORT, "ImportMode", "INCREMENTAL"), (SOLUTION_VERSION, "TrainingMode", "UPDATE")],
)
def test_declared_choice_is_kept(kind: contract.JobKind, prop: str, value: str) -> None:
    assert props.parse_properties(kind, kind_properties(kind, **{prop: value})).get(prop) == value


@pytest.mark.parametrize(
    ("kind", "prop", "message"),
    [
        (BI, "Mode", "Mode: 'PARTIAL' is not one of BATCH_INFERENCE, THEME_GENERATION"),
        (DATASET_IMPORT, "ImportMode", "ImportMode: 'PARTIAL' is not one of FULL, INCREMENTAL"),
        (SOLUTION_VERSION, "TrainingMode", "TrainingMode: 'PARTIAL' is not one of FULL, UPDATE"),
    ],
)
def test_bad_choice_is_refused_naming_the_property(kind: contract.JobKind, prop: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        props.parse_properties(kind, kind_properties(kind, **{prop: "PARTIAL"}))


def test_batch_segment_num_results_is_an_integer() -> None:
    assert (
        props.parse_properties(SEGMENT, kind_properties(SEGMENT, NumResults="100")).get("NumResults") == 100
    )


def test_kinds_without_output_have_no_output_values() -> None:
    parsed = props.parse_properties(DATASET_IMPORT, kind_properties(DATASET_IMPORT, OutputBucket="b"))
    assert "OutputBucket" not in parsed.values


def test_a_property_of_another_kind_is_ignored() -> None:
    parsed = props.parse_properties(SOLUTION_VERSION, kind_properties(SOLUTION_VERSION, NumResults="x"))
    assert "NumResults" not in parsed.values
