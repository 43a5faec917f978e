"""Synth-time validation of construct props, kept table-driven in one place.

Every check returns the error lines it finds; the construct collects them all and raises one
``ValueError``. Unresolved tokens are never validated: their value is only known at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_cdk import Duration, Token

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
PERSONALIZE_ARN_PATTERN = re.compile(r"^arn:([a-z\d-]+):personalize:.*:.*:.+$")
ROLE_ARN_PATTERN = re.compile(r"^arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
MAX_ARN_LENGTH = 256
MAX_JOB_NAME_LENGTH = 63
MAX_TAGS = 200
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
RANKING_INFLUENCE_KEYS = ("POPULARITY", "FRESHNESS")
ITEM_EXPLORATION_KEYS = ("explorationWeight", "explorationItemAgeCutOff")
MAX_TIMEOUT_SECONDS = 12 * 3600


# How CDK encodes a token in a string (aws-cdk-lib core/lib/private/encoding): the test
# Token.is_unresolved makes for a string, made here without a round trip into jsii.
STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}")


def is_token(value: Any) -> bool:
    """Whether ``value`` is an unresolved token; asks jsii only for numbers that could be one."""
    if isinstance(value, str):
        return STRING_TOKEN.search(value) is not None
    if isinstance(value, bool | int):
        return False  # number tokens are encoded as special floats
    return isinstance(value, float) and Token.is_unresolved(value)


def raise_if_errors(construct_name: str, errors: Iterable[str]) -> None:
    """Raise one ValueError listing every error, each on its own line."""
    found = [e for e in errors if e]
    if found:
        lines = "\n".join(f"  - {e}" for e in found)
        raise ValueError(f"{construct_name}: invalid props:\n{lines}")


Check = Callable[[Any], Iterable[str]]


def check_job_name(value: str | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if not 1 <= len(value) <= MAX_JOB_NAME_LENGTH:
        yield (
            f"job_name={value!r} is {len(value)} characters; use 1 to {MAX_JOB_NAME_LENGTH} characters, "
            "or leave job_name out to get a unique generated name"
        )
    if value and not JOB_NAME_PATTERN.match(value):
        yield (
            f"job_name={value!r} does not match {JOB_NAME_PATTERN.pattern}; start with a letter or digit "
            "and use only letters, digits, '-' and '_'"
        )


def check_personalize_arn(prop: str, value: str | None, what: str) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if len(value) > MAX_ARN_LENGTH or not PERSONALIZE_ARN_PATTERN.match(value):
        yield (
            f"{prop}={value!r} is not a Personalize {what} ARN; expected "
            f"arn:<partition>:personalize:<region>:<account>:{what.replace(' ', '-')}/... "
            f"(pattern {PERSONALIZE_ARN_PATTERN.pattern}, at most {MAX_ARN_LENGTH} characters)"
        )


def check_role_arn(prop: str, value: str | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if len(value) > MAX_ARN_LENGTH or not ROLE_ARN_PATTERN.match(value):
        yield (
            f"{prop}={value!r} is not an IAM role ARN; expected "
            "arn:<partition>:iam::<12-digit account>:role/<name>"
        )


def check_num_results(value: int | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        yield (
            f"num_results={value!r} must be a whole number of at least 1, "
            "or left out for the solution's default"
        )


def check_ranking_influence(value: Mapping[str, float] | None) -> Iterable[str]:
    if value is None:
        return
    for key, weight in value.items():
        if not is_token(key) and key not in RANKING_INFLUENCE_KEYS:
            yield (
                f"ranking_influence key {key!r} is unknown; use one of {', '.join(RANKING_INFLUENCE_KEYS)}"
            )
        if is_token(weight):
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            yield f"ranking_influence[{key!r}]={weight!r} must be a number from 0 to 1"


def check_item_exploration(value: Mapping[str, str] | None) -> Iterable[str]:
    if value is None:
        return
    for key, setting in value.items():
        if not is_token(key) and key not in ITEM_EXPLORATION_KEYS:
            yield f"item_exploration key {key!r} is unknown; use {' or '.join(ITEM_EXPLORATION_KEYS)}"
        if not isinstance(setting, str):
            yield (
                f"item_exploration[{key!r}]={setting!r} must be a string, as Personalize takes it "
                f"(e.g. {{'explorationWeight': '0.3'}})"
            )


def check_tags(value: Mapping[str, str] | None) -> Iterable[str]:
    if value is None:
        return
    if len(value) > MAX_TAGS:
        yield f"tags has {len(value)} entries; Personalize accepts at most {MAX_TAGS}"
    for key, tag_value in value.items():
        if not is_token(key) and not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            yield f"tags key {key!r} is {len(key)} characters; use 1 to {MAX_TAG_KEY_LENGTH}"
        if not isinstance(tag_value, str):
            yield f"tags[{key!r}]={tag_value!r} must be a string"
        elif not is_token(tag_value) and len(tag_value) > MAX_TAG_VALUE_LENGTH:
            yield f"tags[{key!r}] is {len(tag_value)} characters; use at most {MAX_TAG_VALUE_LENGTH}"


def check_timeout(value: Duration, seconds: float | None) -> Iterable[str]:
    """``seconds`` is ``value`` in seconds, or None when it is a token."""
    if seconds is None:
        return
    if seconds <= 0 or seconds > MAX_TIMEOUT_SECONDS:
        yield (
            f"timeout={value.to_human_string()} must be more than 0 and at most 12 hours "
            "(the longest a CloudFormation WaitCondition can hold a deployment)"
        )


def check_input_path(value: str) -> Iterable[str]:
    if is_token(value):
        return
    if not value:
        yield "input_path='' is empty; give the key of a JSON lines file or a prefix ending with '/'"
    elif value.startswith("/") or value.startswith("s3://"):
        yield (
            f"input_path={value!r} must be a key or prefix inside storage.input_bucket, not an absolute "
            "path or URI; drop the leading '/' or 's3://<bucket>/'"
        )


def check_output_prefix(value: str | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if value.startswith("/") or value.startswith("s3://"):
        yield (
            f"output_prefix={value!r} must be a prefix inside storage.output_bucket; drop the leading "
            "'/' or 's3://<bucket>/'"
        )
    elif value and not value.endswith("/"):
        yield f"output_prefix={value!r} must end with '/', e.g. {value + '/'!r}"


def check_run_token(run_token: str | None, job_name: str | None) -> Iterable[str]:
    if run_token is not None and job_name is not None:
        yield (
            f"run_token={run_token!r} starts a new job, but job_name={job_name!r} allows only one job of "
            "that name; drop job_name to let the construct name each run, or drop run_token"
        )


def check_theme(mode_is_theme: bool, item_name_field: str | None) -> Iterable[str]:
    if mode_is_theme and not item_name_field:
        yield (
            "theme_item_name_field is required when mode=THEME_GENERATION; give the name of the column in "
            "your Items dataset that holds each item's name"
        )
    if not mode_is_theme and item_name_field is not None:
        yield (
            f"theme_item_name_field={item_name_field!r} is only used when mode=THEME_GENERATION; set "
            "mode=BatchInferenceJobMode.THEME_GENERATION or drop theme_item_name_field"
        )
