"""CloudFormation string properties -> typed values (job_logic.parse_*)."""

from __future__ import annotations

import job_logic
import pytest

from .testkit import KEY_ARN, base_properties


def test_integer_string_becomes_int() -> None:
    assert job_logic.parse_int("NumResults", "25") == 25


def test_integer_property_rejects_float_string() -> None:
    with pytest.raises(ValueError, match=r"NumResults: '2\.5' is not an integer"):
        job_logic.parse_int("NumResults", "2.5")


def test_float_string_becomes_float() -> None:
    assert job_logic.parse_float("RankingInfluence.POPULARITY", "0.5") == 0.5


def test_float_property_rejects_text_naming_the_property() -> None:
    with pytest.raises(ValueError, match=r"RankingInfluence.FRESHNESS: 'high' is not a number"):
        job_logic.parse_float("RankingInfluence.FRESHNESS", "high")


def test_float_property_rejects_nan() -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        job_logic.parse_float("RankingInfluence.POPULARITY", "nan")


def test_map_given_as_json_text_is_parsed() -> None:
    assert job_logic.parse_map("ItemExplorationConfig", '{"explorationWeight": "0.3"}') == {
        "explorationWeight": "0.3"
    }


def test_map_property_rejects_a_list() -> None:
    with pytest.raises(ValueError, match=r"ItemExplorationConfig: .* is not a map"):
        job_logic.parse_map("ItemExplorationConfig", ["a"])


def test_tags_become_ordered_pairs_with_later_duplicates_winning() -> None:
    tags = [{"Key": "team", "Value": "recs"}, {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ml"}]
    assert job_logic.parse_tags(tags) == (("team", "ml"), ("env", "dev"))


def test_tags_given_as_json_text_are_parsed() -> None:
    assert job_logic.parse_tags('[{"Key": "team", "Value": "recs"}]') == (("team", "recs"),)


def test_properties_are_converted_to_typed_values() -> None:
    props = job_logic.parse_properties(
        base_properties(
            NumResults="50",
            ItemExplorationConfig={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
            RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "0.2"},
            InputKmsKeyArn=KEY_ARN,
        )
    )
    assert props.num_results == 50
    assert props.timeout_seconds == 21600
    assert dict(props.ranking_influence or ()) == {"POPULARITY": 0.5, "FRESHNESS": 0.2}
    assert dict(props.item_exploration or ()) == {
        "explorationWeight": "0.3",
        "explorationItemAgeCutOff": "30",
    }
    assert props.input_kms_key_arn == KEY_ARN
    assert props.tags == (("team", "recs"),)


def test_absent_optional_properties_are_none() -> None:
    props = job_logic.parse_properties(base_properties(NumResults=None, Tags=None))
    assert (props.num_results, props.filter_arn, props.ranking_influence, props.tags) == (
        None,
        None,
        None,
        (),
    )


def test_missing_required_property_is_named() -> None:
    with pytest.raises(ValueError, match="RoleArn: the property is required"):
        job_logic.parse_properties(base_properties(RoleArn=None))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="Mode: 'FAST' is not one of BATCH_INFERENCE, THEME_GENERATION"):
        job_logic.parse_properties(base_properties(Mode="FAST"))


def test_timeout_over_12_hours_is_refused() -> None:
    with pytest.raises(ValueError, match=r"TimeoutSeconds: 43201 is not within 1\.\.43200"):
        job_logic.parse_properties(base_properties(TimeoutSeconds="43201"))


def test_stack_arn_gives_partition_region_and_account() -> None:
    stack = job_logic.parse_stack_arn("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/S/guid")
    assert stack == job_logic.StackArn(partition="aws-cn", region="cn-north-1", account="123456789012")


def test_malformed_stack_id_is_refused() -> None:
    with pytest.raises(ValueError, match="StackId"):
        job_logic.parse_stack_arn("not-an-arn")
