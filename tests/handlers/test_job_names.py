"""Deterministic job names, ARNs and monitor execution names (job_logic)."""

from __future__ import annotations

import re

import job_logic

from .testkit import STACK_ID, base_properties

NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")
OTHER_STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/RecsStack/99999999-aaaa-bbbb-cccc-123456789012"
)


def name_for(logical_id: str = "Job", stack_id: str = STACK_ID, **overrides: object) -> str:
    props = job_logic.parse_properties(base_properties(**overrides))
    return job_logic.derive_job_name(props, stack_id, logical_id)


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


def test_name_ignores_how_a_number_was_spelled() -> None:
    assert name_for(NumResults="25") == name_for(NumResults=25)


def test_name_ignores_map_key_order() -> None:
    first = name_for(RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "0.2"})
    second = name_for(RankingInfluence={"FRESHNESS": "0.20", "POPULARITY": "0.5"})
    assert first == second


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
    assert name_for(JobNamePrefix="///").startswith(f"{job_logic.DEFAULT_PREFIX}-")


def test_every_derived_name_matches_the_service_pattern() -> None:
    prefixes = ["RecsStack-Job", "é-ü", "a" * 63, "_x", "9lives", "a b c", "Stack/Nested/Job-With_Chars!"]
    for prefix in prefixes:
        name = name_for(JobNamePrefix=prefix)
        assert NAME_PATTERN.fullmatch(name) and len(name) <= 63, prefix


def test_explicit_job_name_wins() -> None:
    assert name_for(JobName="my-job") == "my-job"


def test_job_arn_is_built_from_the_stack_partition_region_and_account() -> None:
    stack = job_logic.parse_stack_arn(STACK_ID)
    assert job_logic.job_arn(stack, "n") == "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/n"


def test_job_name_is_read_back_from_a_job_arn() -> None:
    assert job_logic.job_name_from_arn("arn:aws:personalize:us-east-1:1:batch-inference-job/n-1") == "n-1"


def test_a_physical_id_that_is_not_a_job_arn_has_no_job_name() -> None:
    assert job_logic.job_name_from_arn("RecsStack-Job-7bfc1a6e") is None


def test_execution_name_is_job_name_and_handle_digest() -> None:
    name = job_logic.execution_name("j" * 63, "https://handle", "arn")
    assert re.fullmatch(r"j{47}-[0-9a-f]{16}", name)


def test_execution_name_changes_with_the_wait_handle() -> None:
    assert job_logic.execution_name("j", "https://a", "arn") != job_logic.execution_name(
        "j", "https://b", "arn"
    )


def test_execution_name_without_handle_uses_the_job_arn() -> None:
    assert job_logic.execution_name("j", None, "arn:1") != job_logic.execution_name("j", None, "arn:2")
