"""Synth-time validation of construct props, kept table-driven in one place.

Every check returns the error lines it finds; a construct collects them all and raises one
``ValueError`` before it creates any child. Unresolved tokens are never validated: their value is only
known at deploy time. The limits come from the handlers' contract (``lambda/contract.py``), which takes
them from the Personalize API; the README's "Checked at synth" table lists each check beside its source.
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_cdk import Annotations, Duration, Stack, Token
from constructs import IConstruct

from constructs_lib._contract import contract
from constructs_lib._reads import once

PERSONALIZE_ARN = re.compile(contract.PERSONALIZE_ARN_PATTERN)
ROLE_ARN = re.compile(contract.ROLE_ARN_PATTERN)
JOB_NAME = re.compile(contract.JOB_NAME_PATTERN)
# themeGenerationConfig.fieldsForThemeGeneration.itemName (botocore's model)
ITEM_NAME_FIELD = re.compile(r"^[A-Za-z_][A-Za-z\d_]*$")
MAX_ITEM_NAME_FIELD_LENGTH = 150
RANKING_INFLUENCE_KEYS = ("POPULARITY", "FRESHNESS")
ITEM_EXPLORATION_KEYS = ("explorationWeight", "explorationItemAgeCutOff")
# Characters of Personalize's tag pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ besides letters, separators
# and numbers.
TAG_PUNCTUATION = frozenset("_.:/=+-@")


def is_token(value: Any) -> bool:
    """Whether ``value`` holds an unresolved token (its value is known only at deploy time)."""
    if type(value) in (str, int, float):
        return _is_token_literal(value)
    return Token.is_unresolved(value)


@functools.lru_cache(maxsize=4096)
def _is_token_literal(value: str | int | float) -> bool:
    """``Token.is_unresolved`` of a string or number, which depends on the value alone: a stack's jobs ask
    about the same values (bucket names, ARNs, the stack's region) again and again."""
    return Token.is_unresolved(value)


def raise_if_errors(construct_name: str, errors: Iterable[str], *, path: str | None = None) -> None:
    """Raise one ValueError listing every error, each on its own line, after the construct's path
    (``BatchInferenceJob at 'MyStack/Weekly': invalid props:``): a user with many jobs sees which one."""
    found = [e for e in errors if e]
    if found:
        lines = "\n".join(f"  - {e}" for e in found)
        where = f" at {path!r}" if path else ""
        raise ValueError(f"{construct_name}{where}: invalid props:\n{lines}")


def child_path(scope: IConstruct, id: str) -> str:
    """The path a construct will have under ``scope`` (for errors raised before it exists)."""
    parent = scope.node.path
    return f"{parent}/{id}" if parent else id


E = TypeVar("E", bound=enum.Enum)


def coerce_enum(prop: str, value: Any, enum_type: type[E], errors: list[str]) -> E | None:
    """An enum prop given as the enum member or its string value (``"THEME_GENERATION"``)."""
    if isinstance(value, enum_type):
        return value
    for member in enum_type:
        if value == member.value or value == member.name:
            return member
    choices = ", ".join(f"{enum_type.__name__}.{m.name}" for m in enum_type)
    errors.append(f"{prop}={value!r} is not one of {choices} (or their string values)")
    return None


# --- ARNs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArnKind:
    """A Personalize resource an ARN prop must name: its resource type and how many path parts follow."""

    what: str
    resource_type: str
    parts: int
    example: str


SOLUTION_VERSION = ArnKind(
    "solution version",
    "solution",
    2,
    "arn:aws:personalize:us-east-1:123456789012:solution/my-solution/1a2b3c4d",
)
SOLUTION = ArnKind(
    "solution", "solution", 1, "arn:aws:personalize:us-east-1:123456789012:solution/my-solution"
)
FILTER = ArnKind("filter", "filter", 1, "arn:aws:personalize:us-east-1:123456789012:filter/my-filter")
DATASET = ArnKind(
    "dataset",
    "dataset",
    2,
    "arn:aws:personalize:us-east-1:123456789012:dataset/my-dataset-group/INTERACTIONS",
)
ARN_KINDS = (SOLUTION_VERSION, SOLUTION, FILTER, DATASET)


@dataclass(frozen=True)
class StackPlace:
    """The stack's region and account, where known at synth (None for an environment-agnostic stack)."""

    region: str | None
    account: str | None


def stack_place(construct: Any) -> StackPlace:
    """Where the construct's stack (or the stack given) deploys, as far as synth knows."""
    stack = construct if isinstance(construct, Stack) else Stack.of(construct)
    return once(stack, "stack_place", lambda: _stack_place(stack))


def _stack_place(stack: Stack) -> StackPlace:
    region, account = stack.region, stack.account
    return StackPlace(None if is_token(region) else region, None if is_token(account) else account)


def check_personalize_arn(prop: str, value: str | None, kind: ArnKind, place: StackPlace) -> Iterable[str]:
    """An ARN of the right Personalize resource type, in the stack's region and account when both are
    known (Personalize resources are regional: a job cannot use another region's solution or filter)."""
    if value is None or is_token(value):
        return
    expected = f"expected {kind.what} ARN like {kind.example}"
    if len(value) > contract.MAX_ARN_LENGTH or not PERSONALIZE_ARN.match(value):
        yield f"{prop}={value!r} is not a Personalize ARN; {expected}"
        return
    _, _, _, region, account, resource = value.split(":", 5)
    resource_type, _, path = resource.partition("/")
    parts = [part for part in path.split("/") if part]
    if resource_type != kind.resource_type or len(parts) != kind.parts:
        found = _arn_kind_name(resource_type, len(parts))
        if found is None:
            yield (
                f"{prop}={value!r} has {len(parts)} part(s) after '{resource_type}/', "
                f"where a {kind.what} ARN has {kind.parts}; {expected}"
            )
        else:
            yield f"{prop}={value!r} is a {found} ARN, not a {kind.what} ARN; {expected}"
        return
    if place.region and region and region != place.region:
        yield (
            f"{prop}={value!r} is in {region}, but the stack deploys to {place.region}; Personalize "
            f"resources are regional: deploy the stack to {region}, or use a {kind.what} of {place.region}"
        )
    if place.account and account and account != place.account:
        yield (
            f"{prop}={value!r} belongs to account {account}, but the stack deploys to {place.account}; "
            f"use a {kind.what} of account {place.account}"
        )


def _arn_kind_name(resource_type: str, parts: int) -> str | None:
    """What an ARN names, when it is a kind we know or another resource type; None for a known type of
    another shape."""
    for kind in ARN_KINDS:
        if kind.resource_type == resource_type and kind.parts == parts:
            return kind.what
    if any(kind.resource_type == resource_type for kind in ARN_KINDS):
        return None
    return f"'{resource_type}'" if resource_type else "resource-less"


def check_role_arn(prop: str, value: str | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if len(value) > contract.MAX_ARN_LENGTH or not ROLE_ARN.match(value):
        yield (
            f"{prop}={value!r} is not an IAM role ARN; expected "
            "arn:<partition>:iam::<12-digit account>:role/<name>, like arn:aws:iam::123456789012:role/my-role"
        )


# --- names, tags, tokens ---------------------------------------------------------------------------


def check_job_name(value: str | None, *, wait: bool) -> Iterable[str]:
    if value is None:
        return
    if is_token(value):
        if wait:
            yield (
                "job_name is a deploy-time value (a token): a change of it at deploy time would start a new "
                "job that the deployment's WaitCondition, which only a template change renews, could not "
                "wait for. Give a literal job_name, or set wait=False"
            )
        return
    if not 1 <= len(value) <= contract.MAX_JOB_NAME_LENGTH:
        yield (
            f"job_name={value!r} is {len(value)} characters; use 1 to {contract.MAX_JOB_NAME_LENGTH} "
            "characters, or leave job_name out to get a unique generated name"
        )
    if value and not JOB_NAME.match(value):
        yield (
            f"job_name={value!r} does not match {contract.JOB_NAME_PATTERN}; start with a letter or digit "
            "and use only letters, digits, '-' and '_'"
        )


def check_run_token(run_token: str | None, job_name: str | None) -> Iterable[str]:
    if run_token is not None and job_name is not None:
        yield (
            f"run_token={run_token!r} starts a new job, but job_name={job_name!r} allows only one job of "
            "that name; drop job_name to let the construct name each run, or drop run_token"
        )


def _tag_text_ok(text: str) -> bool:
    return all(unicodedata.category(char)[0] in "LZN" or char in TAG_PUNCTUATION for char in text)


def check_tags(value: Mapping[str, str] | None) -> Iterable[str]:
    if value is None:
        return
    if len(value) > contract.MAX_USER_TAGS:
        yield (
            f"tags has {len(value)} entries; Personalize keeps at most {contract.MAX_TAGS} tags on a job, "
            f"and one is the library's {contract.END_REPORTED_TAG!r}: give at most {contract.MAX_USER_TAGS}"
        )
    for key, tag_value in value.items():
        if is_token(key):
            continue
        if not 1 <= len(key) <= contract.MAX_TAG_KEY_LENGTH:
            yield f"tags key {key!r} is {len(key)} characters; use 1 to {contract.MAX_TAG_KEY_LENGTH}"
        if key.lower().startswith(contract.RESERVED_TAG_PREFIX):
            yield f"tags key {key!r} starts with 'aws:', which AWS reserves; choose another key"
        if key == contract.END_REPORTED_TAG:
            yield (
                f"tags key {key!r} is the library's own mark of a reported end (a job carrying it would "
                "never send its end event); choose another key"
            )
        if not _tag_text_ok(key):
            yield (
                f"tags key {key!r} has characters Personalize refuses; use letters, digits, spaces and "
                f"{''.join(sorted(TAG_PUNCTUATION))}"
            )
        if not isinstance(tag_value, str):
            yield f"tags[{key!r}]={tag_value!r} must be a string"
            continue
        if is_token(tag_value):
            continue
        if len(tag_value) > contract.MAX_TAG_VALUE_LENGTH:
            yield f"tags[{key!r}] is {len(tag_value)} characters; use at most {contract.MAX_TAG_VALUE_LENGTH}"
        if not _tag_text_ok(tag_value):
            yield (
                f"tags[{key!r}]={tag_value!r} has characters Personalize refuses; use letters, digits, "
                f"spaces and {''.join(sorted(TAG_PUNCTUATION))}"
            )


def literal_seconds(value: Duration) -> float | None:
    """A Duration's seconds; None for a deploy-time Duration (a token)."""
    return once(value, "literal_seconds", lambda: None if value.is_unresolved() else value.to_seconds())


def check_timeout(value: Duration) -> Iterable[str]:
    """A literal Duration between the monitor's floor and a WaitCondition's 12 hours."""
    if not isinstance(value, Duration):
        yield _not_a_duration("timeout", value)
        return
    seconds = literal_seconds(value)
    if seconds is None:
        yield (
            "timeout must be a literal Duration: it names the WaitCondition and sets its Timeout, which "
            "take no deploy-time value"
        )
        return
    if seconds > contract.MAX_TIMEOUT_SECONDS:
        yield (
            f"timeout={value.to_human_string()} is longer than 12 hours, the longest a CloudFormation "
            "WaitCondition can hold a deployment; use at most Duration.hours(12)"
        )
    elif seconds < contract.MIN_TIMEOUT_SECONDS:
        minutes = contract.MIN_TIMEOUT_SECONDS // 60
        yield (
            f"timeout={value.to_human_string()} is shorter than {minutes} minutes: the monitor looks at a "
            "job as it starts, then a minute or two apart, and gives up a little before the WaitCondition "
            f"does; use at least Duration.minutes({minutes})"
        )


def _not_a_duration(prop: str, value: Any) -> str:
    """What to write instead of a number or a ``datetime.timedelta`` where a CDK ``Duration`` goes."""
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
        given = f"datetime.timedelta of {seconds:g} seconds"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds, given = float(value), repr(value)
    else:
        return (
            f"{prop}={value!r} is a {type(value).__name__}, not a Duration; "
            f"use aws_cdk.Duration, e.g. {prop}=Duration.hours(6)"
        )
    if seconds > 0 and seconds % 3600 == 0:
        fix = f"Duration.hours({int(seconds // 3600)})"
    elif seconds > 0 and seconds % 60 == 0:
        fix = f"Duration.minutes({int(seconds // 60)})"
    else:
        fix = f"Duration.seconds({seconds:g})"
    return f"{prop}={given} is not a Duration; use aws_cdk.Duration: {prop}={fix}"


# --- batch job inputs and outputs ------------------------------------------------------------------


# CreateBatchSegmentJob's numResults: "The maximum number of users per segment is 5 million" (Amazon
# Personalize API Reference, CreateBatchSegmentJob). CreateBatchInferenceJob documents no maximum (its
# numResults is "the number of recommendations to retrieve", and the model gives no range), so none is
# checked there.
MAX_SEGMENT_USERS = 5_000_000


def check_num_results(value: int | None, maximum: int | None = None, what: str = "") -> Iterable[str]:
    if value is None or is_token(value):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        yield (
            f"num_results={value!r} must be a whole number of at least 1, "
            "or left out for the solution's default"
        )
    elif maximum is not None and value > maximum:
        yield f"num_results={value!r} is more than Personalize allows {what}: use at most {maximum:,}"


def check_ranking_influence(value: Mapping[str, float] | None) -> Iterable[str]:
    if value is None:
        return
    for key, weight in value.items():
        if not is_token(key) and key not in RANKING_INFLUENCE_KEYS:
            yield f"ranking_influence key {key!r} is unknown; use one of {', '.join(RANKING_INFLUENCE_KEYS)}"
        if is_token(weight):
            continue
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            yield f"ranking_influence[{key!r}]={weight!r} must be a number from 0 to 1"


def check_item_exploration(value: Mapping[str, str] | None) -> Iterable[str]:
    if value is None:
        return
    for key, setting in value.items():
        if is_token(key):
            continue
        if key not in ITEM_EXPLORATION_KEYS:
            yield f"item_exploration key {key!r} is unknown; use {' or '.join(ITEM_EXPLORATION_KEYS)}"
            continue
        if not isinstance(setting, str):
            yield (
                f"item_exploration[{key!r}]={setting!r} must be a string, as Personalize takes it "
                f"(e.g. {{{key!r}: '0.3'}})"
            )
            continue
        if is_token(setting):
            continue
        number = _number(setting)
        if key == "explorationWeight" and (number is None or not 0 <= number <= 1):
            yield (
                f"item_exploration['explorationWeight']={setting!r} must be a number from 0 to 1, e.g. '0.3'"
            )
        if key == "explorationItemAgeCutOff" and (number is None or number <= 0):
            yield (
                f"item_exploration['explorationItemAgeCutOff']={setting!r} must be a positive number of "
                "days, e.g. '30'"
            )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


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
    if (
        item_name_field
        and not is_token(item_name_field)
        and (len(item_name_field) > MAX_ITEM_NAME_FIELD_LENGTH or not ITEM_NAME_FIELD.match(item_name_field))
    ):
        yield (
            f"theme_item_name_field={item_name_field!r} is not a column name Personalize accepts: "
            f"{ITEM_NAME_FIELD.pattern}, at most {MAX_ITEM_NAME_FIELD_LENGTH} characters (e.g. 'title')"
        )


# "Amazon Personalize Content Generator is only available in the following AWS Regions: US East (N.
# Virginia), US West (Oregon), Asia Pacific (Tokyo)", and "Your solution must use the Similar-Items
# recipe": Amazon Personalize Developer Guide, "Batch recommendations with themes from Content Generator"
# (themed-batch-recommendations.html), Supported regions; Guidelines and requirements.
THEME_GENERATION_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1")
THEME_GENERATION_RECIPE = "aws-similar-items"


def check_theme_generation(place: StackPlace, recipe: str | None) -> Iterable[str]:
    """THEME_GENERATION where Content Generator runs, on a Similar-Items solution (when either is known
    at synth: the stack's region, the recipe of a ``CfnSolution`` of this app)."""
    if place.region is not None and place.region not in THEME_GENERATION_REGIONS:
        yield (
            "mode=THEME_GENERATION: Personalize generates themes only in "
            f"{', '.join(THEME_GENERATION_REGIONS)}, and the stack deploys to {place.region}; deploy it to "
            "one of those, or use BATCH_INFERENCE"
        )
    if recipe is not None and recipe != THEME_GENERATION_RECIPE:
        yield (
            "mode=THEME_GENERATION needs a solution of the Similar-Items recipe "
            f"({THEME_GENERATION_RECIPE}), and solution_version_arn comes from a solution with the recipe "
            f"{recipe}; use a Similar-Items solution's version, or mode=BATCH_INFERENCE"
        )


# "The UPDATE option can only be used when you already have an active solution version created from the
# input solution using the FULL option and the input solution was trained with the User-Personalization
# recipe or the legacy HRNN-Coldstart recipe": Amazon Personalize API Reference, CreateSolutionVersion,
# trainingMode.
UPDATE_TRAINING_RECIPES = ("aws-user-personalization", "aws-hrnn-coldstart")


def check_training_mode(update: bool, recipe: str | None) -> Iterable[str]:
    """trainingMode=UPDATE only on the recipes that support it (when the solution's recipe is known)."""
    if update and recipe is not None and recipe not in UPDATE_TRAINING_RECIPES:
        yield (
            f"training_mode=UPDATE is not supported by the recipe {recipe} of solution_arn: Personalize "
            f"updates only solutions of {' or '.join(UPDATE_TRAINING_RECIPES)}; use training_mode=FULL"
        )


ARN_REGION_WARNING = "constructs-lib:arnRegion"


def arn_region_warning(arns: Mapping[str, str | None], place: StackPlace) -> str | None:
    """For a stack without a region: the literal ARNs that tie the job to one region, or None."""
    if place.region is not None:
        return None
    regions: dict[str, list[str]] = {}
    for prop, value in arns.items():
        if value is None or is_token(value) or not PERSONALIZE_ARN.match(value):
            continue
        region = value.split(":", 5)[3]
        if region:
            regions.setdefault(region, []).append(prop)
    if not regions:
        return None
    named = "; ".join(f"{', '.join(props)} in {region}" for region, props in sorted(regions.items()))
    where = " or ".join(sorted(regions))
    return (
        f"{named}: Personalize resources are regional, so this job works only in a stack deployed to "
        f"{where}, and the stack has no region to check that at synth. Give the stack "
        f"env=Environment(account=..., region={sorted(regions)[0]!r}), or acknowledge this warning."
    )


def warn_arn_region(scope: Any, arns: Mapping[str, str | None]) -> None:
    """Warn on ``scope`` when its literal ARNs bind it to a region that the stack does not state."""
    message = arn_region_warning(arns, stack_place(scope))
    if message is not None:
        Annotations.of(scope).add_warning_v2(ARN_REGION_WARNING, message)


def _bucket_length(bucket_name: str | None) -> int:
    """A literal bucket name's length, or the longest a bucket name can be (a token, or not known yet)."""
    if bucket_name is None or is_token(bucket_name):
        return int(contract.MAX_BUCKET_NAME_LENGTH)
    return len(bucket_name)


def check_input_path(prop: str, value: str, bucket_name: str | None) -> Iterable[str]:
    if is_token(value):
        return
    if not value:
        yield f"{prop}='' is empty; give the key of a JSON lines file or a prefix ending with '/'"
        return
    if value.startswith("s3://"):
        yield _uri_instead_of_key(prop, value, bucket_name, "input_bucket")
        return
    if value.startswith("/"):
        yield (
            f"{prop}={value!r} must be a key or prefix inside the input bucket, not an absolute path; "
            f"drop the leading '/': {prop}={value.lstrip('/')!r}"
        )
        return
    length = len("s3://") + _bucket_length(bucket_name) + 1 + len(value)
    if length > contract.MAX_S3_PATH_LENGTH:
        yield (
            f"{prop}={value!r} makes an S3 path of {length} characters (with the bucket name); Personalize "
            f"accepts at most {contract.MAX_S3_PATH_LENGTH}: shorten it"
        )


def check_output_prefix(value: str | None, bucket_name: str | None) -> Iterable[str]:
    if value is None or is_token(value):
        return
    if value.startswith("s3://"):
        yield _uri_instead_of_key("output_prefix", value, bucket_name, "output_bucket")
        return
    if value.startswith("/"):
        yield (
            f"output_prefix={value!r} must be a prefix inside the output bucket; drop the leading '/': "
            f"output_prefix={value.lstrip('/')!r}"
        )
        return
    if value and not value.endswith("/"):
        yield f"output_prefix={value!r} must end with '/', e.g. {value + '/'!r}"
    length = output_path_length(value, bucket_name)
    if length > contract.MAX_S3_PATH_LENGTH:
        yield (
            f"output_prefix={value!r} makes output paths of up to {length} characters (bucket name, prefix "
            f"and a 63-character job name); Personalize accepts at most {contract.MAX_S3_PATH_LENGTH}: "
            "shorten the prefix"
        )


def _uri_instead_of_key(prop: str, uri: str, bucket_name: str | None, storage_prop: str) -> str:
    """An ``s3://bucket/key`` where a key of the storage's bucket goes. Dropping ``s3://bucket/`` is the
    fix only when that bucket is the storage's: for another bucket it would silently use the storage's
    own bucket, so the fix is to bring the bucket into the storage."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    known = bucket_name is not None and not is_token(bucket_name)
    if known and bucket == bucket_name:
        return (
            f"{prop}={uri!r} must be a key inside the storage's {storage_prop}; "
            f"drop 's3://{bucket}/': {prop}={key!r}"
        )
    storage_bucket = repr(bucket_name) if known else "the one the storage created"
    return (
        f"{prop}={uri!r} names the bucket {bucket!r}, but Personalize is given the storage's "
        f"{storage_prop} ({storage_bucket}) and its role may use only that one. To use {bucket!r}, "
        f"bring it into the storage: BatchInferenceStorage(..., {storage_prop}="
        f"s3.Bucket.from_bucket_name(scope, 'Bucket', {bucket!r})), then give the key alone: {prop}={key!r}"
    )


def output_path_length(prefix: str, bucket_name: str | None) -> int:
    """The longest ``s3://{bucket}/{prefix}{job name}/`` can be."""
    name = int(contract.MAX_JOB_NAME_LENGTH)
    return len("s3://") + _bucket_length(bucket_name) + 1 + len(prefix) + name + 1
