"""Update classification, tag changes and the messages of refused updates (lifecycle)."""

from __future__ import annotations

import pytest

from .testkit import BI, DATASET_IMPORT, SEGMENT, SOLUTION_VERSION, kind_properties

import contract  # isort: skip  (on sys.path once testkit is imported)
import lifecycle  # isort: skip
import props  # isort: skip

ALL_KINDS = (BI, SEGMENT, DATASET_IMPORT, SOLUTION_VERSION)


def plan_for(
    old: dict[str, object], new: dict[str, object], kind: contract.JobKind = BI
) -> lifecycle.UpdatePlan:
    return lifecycle.classify_update(
        props.parse_properties(kind, kind_properties(kind, **old)),
        props.parse_properties(kind, kind_properties(kind, **new)),
    )


def nothing_changed(plan: lifecycle.UpdatePlan) -> bool:
    return (plan.changed, plan.retag, plan.monitor_changed) == ((), False, False)


# --- classify_update ------------------------------------------------------------------------------


def test_same_properties_change_nothing() -> None:
    assert nothing_changed(plan_for({}, {}))


def test_job_defining_change_is_listed_as_changed() -> None:
    plan = plan_for({}, {"NumResults": "50"})
    assert plan.changed == ("NumResults",)


def test_job_defining_change_alone_neither_retags_nor_changes_the_monitor() -> None:
    plan = plan_for({}, {"NumResults": "50"})
    assert (plan.retag, plan.monitor_changed) == (False, False)


def test_every_changed_job_defining_property_is_named_in_declaration_order() -> None:
    plan = plan_for({}, {"NumResults": "50", "InputPath": "s3://in-bucket/other/", "RunToken": "2"})
    assert plan.changed == ("InputPath", "NumResults", "RunToken")


def test_a_removed_optional_property_is_a_change() -> None:
    plan = plan_for({"FilterArn": "arn:aws:personalize:us-east-1:123456789012:filter/f"}, {})
    assert plan.changed == ("FilterArn",)


def test_same_value_spelled_differently_is_no_change() -> None:
    assert plan_for({"NumResults": "25"}, {"NumResults": 25}).changed == ()


def test_map_given_as_json_text_or_object_is_no_change() -> None:
    plan = plan_for({"RankingInfluence": {"POPULARITY": "0.5"}}, {"RankingInfluence": '{"POPULARITY": 0.50}'})
    assert plan.changed == ()


def test_absent_choice_and_its_default_are_no_change() -> None:
    assert plan_for({"Mode": None}, {"Mode": "BATCH_INFERENCE"}).changed == ()


def test_job_name_change_is_a_change() -> None:
    assert plan_for({"JobName": "a"}, {"JobName": "b"}).changed == ("JobName",)


def test_tags_only_change_retags_in_place() -> None:
    plan = plan_for({}, {"Tags": [{"Key": "team", "Value": "ml"}]})
    assert (plan.changed, plan.retag, plan.monitor_changed) == ((), True, False)


def test_tags_only_change_sets_new_values_and_removes_dropped_keys() -> None:
    plan = plan_for(
        {"Tags": [{"Key": "team", "Value": "recs"}, {"Key": "env", "Value": "dev"}]},
        {"Tags": [{"Key": "team", "Value": "ml"}]},
    )
    assert (plan.tags_to_set, plan.tag_keys_to_remove) == ((("team", "ml"),), ("env",))


def test_wait_handle_change_changes_the_monitor_for_the_same_job() -> None:
    plan = plan_for({"WaitHandle": "https://a"}, {"WaitHandle": "https://b"})
    assert (plan.changed, plan.retag, plan.monitor_changed) == ((), False, True)


def test_timeout_change_changes_the_monitor_for_the_same_job() -> None:
    plan = plan_for({"TimeoutSeconds": "3600"}, {"TimeoutSeconds": "7200"})
    assert (plan.changed, plan.monitor_changed) == ((), True)


def test_job_name_prefix_change_changes_nothing() -> None:
    assert nothing_changed(plan_for({"JobNamePrefix": "A"}, {"JobNamePrefix": "B"}))


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_run_id_is_in_no_kinds_defining_set(kind: contract.JobKind) -> None:
    assert contract.RUN_ID not in kind.defining


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_run_id_change_alone_changes_nothing(kind: contract.JobKind) -> None:
    assert nothing_changed(plan_for({"RunId": "1"}, {"RunId": "2"}, kind))


def test_service_token_change_changes_nothing() -> None:
    assert nothing_changed(plan_for({"ServiceToken": "arn:a"}, {"ServiceToken": "arn:b"}))


@pytest.mark.parametrize(
    ("kind", "prop", "value"),
    [
        (SEGMENT, "NumResults", "100"),
        (DATASET_IMPORT, "ImportMode", "INCREMENTAL"),
        (DATASET_IMPORT, "DataLocation", "s3://in-bucket/other.csv"),
        (SOLUTION_VERSION, "TrainingMode", "UPDATE"),
        (SOLUTION_VERSION, "SolutionArn", "arn:aws:personalize:us-east-1:123456789012:solution/other"),
    ],
)
def test_every_kinds_defining_change_is_listed(kind: contract.JobKind, prop: str, value: str) -> None:
    assert plan_for({}, {prop: value}, kind).changed == (prop,)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.key)
def test_every_kinds_tags_only_change_retags_in_place(kind: contract.JobKind) -> None:
    plan = plan_for({}, {"Tags": [{"Key": "team", "Value": "ml"}]}, kind)
    assert (plan.changed, plan.retag, plan.monitor_changed) == ((), True, False)


# --- tag_changes ----------------------------------------------------------------------------------


def test_tag_changes_set_new_and_changed_and_remove_dropped_keys() -> None:
    to_set, to_remove = lifecycle.tag_changes(
        (("a", "1"), ("b", "2"), ("c", "3")), (("a", "1"), ("b", "9"), ("d", "4"))
    )
    assert to_set == (("b", "9"), ("d", "4"))
    assert to_remove == ("c",)


def test_same_tags_need_no_change() -> None:
    assert lifecycle.tag_changes((("a", "1"),), (("a", "1"),)) == ((), ())


# --- messages of refused updates ------------------------------------------------------------------


def test_failed_before_error_names_the_job_and_its_reason() -> None:
    message = lifecycle.failed_before_error("dataset import job", "job-1", "Input file not found")
    assert message.startswith("The dataset import job 'job-1', with exactly this definition, already ran")
    assert "Input file not found" in message and "run_token" in message


def test_failed_before_error_without_a_reason_says_so() -> None:
    assert "no reason given" in lifecycle.failed_before_error("batch inference job", "job-1", None)


def test_handle_reuse_error_names_what_changed() -> None:
    message = lifecycle.handle_reuse_error("batch inference job", "job-1", ("InputPath", "RoleArn"))
    assert "'job-1'" in message and "InputPath, RoleArn changed" in message


def test_fixed_name_error_lists_the_differences() -> None:
    message = lifecycle.fixed_name_error("batch inference job", "nightly", ["a differs", "b differs"])
    assert "'nightly'" in message and "(a differs; b differs)" in message and "job_name" in message


def test_not_ours_error_lists_the_differences() -> None:
    message = lifecycle.not_ours_error("batch segment job", "nightly", ["a differs"])
    assert message.startswith("A batch segment job named 'nightly' already exists with another definition")
    assert "(a differs)" in message and "needs another job_name" in message


def test_cannot_queue_error_names_the_job_and_the_detail() -> None:
    message = lifecycle.cannot_queue_error(
        "solution version", "RecsStack-Job-1", "LimitExceededException: too many"
    )
    assert message.startswith(
        "The solution version 'RecsStack-Job-1' could not be started: LimitExceededException"
    )
