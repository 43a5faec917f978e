"""Update classification, tag changes and size limits (job_logic)."""

from __future__ import annotations

import json

import job_logic

from .testkit import base_properties


def plan_for(old: dict[str, object], new: dict[str, object]) -> job_logic.UpdatePlan:
    return job_logic.classify_update(
        job_logic.parse_properties(base_properties(**old)), job_logic.parse_properties(base_properties(**new))
    )


def test_job_defining_change_means_replace() -> None:
    plan = plan_for({}, {"NumResults": "50"})
    assert plan.replace and plan.changed_job_properties == ("NumResults",)


def test_every_changed_job_defining_property_is_named() -> None:
    plan = plan_for({}, {"NumResults": "50", "InputPath": "s3://in-bucket/other/", "RunToken": "2"})
    assert plan.changed_job_properties == ("InputPath", "NumResults", "RunToken")


def test_same_value_spelled_differently_is_no_change() -> None:
    assert not plan_for({"NumResults": "25"}, {"NumResults": 25}).replace


def test_tags_only_change_is_in_place() -> None:
    plan = plan_for({}, {"Tags": [{"Key": "team", "Value": "ml"}]})
    assert (plan.replace, plan.retag, plan.restart_monitor) == (False, True, False)


def test_wait_handle_change_restarts_the_monitor_for_the_same_job() -> None:
    plan = plan_for({"WaitHandle": "https://a"}, {"WaitHandle": "https://b"})
    assert (plan.replace, plan.retag, plan.restart_monitor) == (False, False, True)


def test_timeout_change_restarts_the_monitor_for_the_same_job() -> None:
    plan = plan_for({"TimeoutSeconds": "3600"}, {"TimeoutSeconds": "7200"})
    assert (plan.replace, plan.restart_monitor) == (False, True)


def test_job_name_prefix_change_changes_nothing() -> None:
    plan = plan_for({"JobNamePrefix": "A"}, {"JobNamePrefix": "B"})
    assert (plan.replace, plan.retag, plan.restart_monitor) == (False, False, False)


def test_tag_changes_set_new_and_changed_and_remove_dropped_keys() -> None:
    to_set, to_remove = job_logic.tag_changes(
        (("a", "1"), ("b", "2"), ("c", "3")), (("a", "1"), ("b", "9"), ("d", "4"))
    )
    assert to_set == (("b", "9"), ("d", "4"))
    assert to_remove == ("c",)


def test_truncated_text_fits_under_the_byte_limit_and_says_so() -> None:
    text = job_logic.truncate_bytes("é" * 5000, 100)
    assert len(text.encode()) < 100
    assert text.endswith(job_logic.TRUNCATION_MARK)


def test_short_text_is_not_truncated() -> None:
    assert job_logic.truncate_bytes("short", 100) == "short"


def test_signal_body_stays_under_4096_bytes_with_a_huge_reason() -> None:
    data = {"jobArn": "arn:" + "a" * 250, "outputS3Uri": "s3://" + "b" * 300, "status": "CREATE FAILED"}
    body = job_logic.signal_body("FAILURE", 'Bad "input" \n' * 2000 + "ü" * 3000, "j" * 63, data)
    assert len(body) < 4096
    document = json.loads(body)
    assert document["Reason"].startswith('Bad "input"') and document["Reason"].endswith(
        job_logic.TRUNCATION_MARK
    )


def test_signal_body_has_status_unique_id_and_json_data() -> None:
    data = {"jobArn": "arn:j", "outputS3Uri": "s3://o/j/", "status": "ACTIVE"}
    document = json.loads(job_logic.signal_body("SUCCESS", "done", "j", data))
    assert document["Status"] == "SUCCESS" and document["UniqueId"] == "j" and document["Reason"] == "done"
    assert json.loads(document["Data"]) == data
