"""The BatchInferenceJob construct: one Personalize batch inference job as a CloudFormation resource."""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
import weakref
from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._resolve import TokenResolver
from constructs_lib._runtime import (
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    RESOURCE_TYPE,
    BatchInferenceRuntime,
)
from constructs_lib.storage import BatchInferenceStorage

# Construct paths of the scopes jobs were added to.
_PATH_OF_SCOPE: weakref.WeakKeyDictionary[Construct, str] = weakref.WeakKeyDictionary()
DEFAULT_TIMEOUT_SECONDS = 6 * 3600
DEFAULT_TIMEOUT = Duration.hours(DEFAULT_TIMEOUT_SECONDS // 3600)
MONITOR_MARGIN_SECONDS = 120
# Room left in a 63-character job name for "-" and the 12-character hash the handler appends.
MAX_NAME_PREFIX_LENGTH = 50
# Properties whose change makes a new job; everything else changes in place (see docs/handler-contract.md).
JOB_DEFINING_PROPERTIES = (
    "SolutionVersionArn",
    "InputPath",
    "OutputBucket",
    "OutputPrefix",
    "RoleArn",
    "InputKmsKeyArn",
    "OutputKmsKeyArn",
    "NumResults",
    "FilterArn",
    "ItemExplorationConfig",
    "RankingInfluence",
    "Mode",
    "ThemeItemNameField",
    "RunToken",
    "JobName",
)


class BatchInferenceJobMode(enum.Enum):
    """What the job produces."""

    BATCH_INFERENCE = "BATCH_INFERENCE"
    """Recommendations (item lists and scores) for each input record."""
    THEME_GENERATION = "THEME_GENERATION"
    """Similar-items recommendations grouped under generated descriptive themes."""


class BatchInferenceJob(Construct):
    """Runs CreateBatchInferenceJob at deploy time and, by default, holds the deployment until it ends.

    The job is a ``Custom::PersonalizeBatchInferenceJob`` resource. With ``wait=True`` a WaitCondition
    holds the stack until the job is ACTIVE (success) or fails with the job's own failure reason, for
    up to 12 hours. ``node.add_dependency(job)`` on another construct waits for the job to end.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        solution_version_arn: str,
        input_path: str,
        storage: BatchInferenceStorage | None = None,
        output_prefix: str | None = None,
        num_results: int | None = None,
        filter_arn: str | None = None,
        item_exploration: Mapping[str, str] | None = None,
        ranking_influence: Mapping[str, float] | None = None,
        mode: BatchInferenceJobMode = BatchInferenceJobMode.BATCH_INFERENCE,
        theme_item_name_field: str | None = None,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_token: str | None = None,
        wait: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
    ) -> None:
        """
        :param solution_version_arn: The trained solution version that makes the recommendations.
        :param input_path: Key of a JSON lines file, or a prefix ending with ``/``, inside
            ``storage.input_bucket``.
        :param storage: Buckets, keys and role to use. Default: a ``BatchInferenceStorage`` with all
            secure defaults is created inside this construct.
        :param output_prefix: Prefix inside ``storage.output_bucket``; the job writes under
            ``<output_prefix><job name>/``. Default: ``batch-inference/<construct path>/``, unique per
            job instance.
        :param num_results: Recommendations per input record. Default: the solution's default (25).
        :param filter_arn: Filter applied to the recommendations. Default: no filter.
        :param item_exploration: ``explorationWeight`` / ``explorationItemAgeCutOff`` as strings, for
            User-Personalization solutions. Default: the solution's exploration settings.
        :param ranking_influence: Weights from 0 to 1 for ``POPULARITY`` and ``FRESHNESS``.
            Default: no ranking influence.
        :param mode: BATCH_INFERENCE or THEME_GENERATION. Default: BATCH_INFERENCE.
        :param theme_item_name_field: Items dataset column with each item's name; required exactly
            when ``mode`` is THEME_GENERATION. Default: none.
        :param job_name: Explicit physical name. Then a change of the job's definition is refused,
            since the replacement would need the same name. Default: ``<stack>-<id>-<hash>``,
            deterministic per stack and job definition.
        :param tags: Tags on the job; a change is applied in place. Default: no tags.
        :param run_token: Any change starts a new job on the same inputs, e.g. to run a job that
            failed once (Personalize keeps failed jobs under their name). Not with ``job_name``.
            Default: none, the job runs again only when its definition changes.
        :param wait: Hold the deployment until the job ends. Default: True.
        :param timeout: How long to wait for the job, at most 12 hours; a job still running then fails
            the deployment. Default: 6 hours.
        :param vpc: VPC for the stack's shared handler and monitor functions; every job of a stack must
            give the same one. They need a route to the Personalize, Step Functions, EventBridge and S3
            APIs (NAT or VPC endpoints). Default: the functions run outside any VPC.
        :param vpc_subnets: Subnets of ``vpc`` for those functions. Default: the VPC's private subnets.
        """
        super().__init__(scope, id)
        if timeout is DEFAULT_TIMEOUT:  # known without asking jsii, as most jobs use it
            timeout_seconds: int | None = DEFAULT_TIMEOUT_SECONDS
        else:
            timeout_seconds = None if timeout.is_unresolved() else int(timeout.to_seconds())
        v.raise_if_errors(
            "BatchInferenceJob",
            [
                *v.check_personalize_arn("solution_version_arn", solution_version_arn, "solution version"),
                *v.check_personalize_arn("filter_arn", filter_arn, "filter"),
                *v.check_input_path(input_path),
                *v.check_output_prefix(output_prefix),
                *v.check_num_results(num_results),
                *v.check_item_exploration(item_exploration),
                *v.check_ranking_influence(ranking_influence),
                *v.check_theme(mode is BatchInferenceJobMode.THEME_GENERATION, theme_item_name_field),
                *v.check_job_name(job_name),
                *v.check_run_token(run_token, job_name),
                *v.check_tags(tags),
                *v.check_timeout(timeout, timeout_seconds),
                *(v.check_role_arn("storage.role", storage.references.role_arn) if storage else ()),
            ],
        )
        self.storage = storage or BatchInferenceStorage(self, "Storage")
        self.timeout = timeout
        runtime = BatchInferenceRuntime.of(scope, vpc=vpc, vpc_subnets=vpc_subnets)

        stack_name = runtime.stack_name
        name_prefix = _name_prefix(stack_name, id)
        properties = self._job_properties(
            solution_version_arn=solution_version_arn,
            input_path=input_path,
            output_prefix=output_prefix if output_prefix is not None else _default_output_prefix(scope, id),
            num_results=num_results,
            filter_arn=filter_arn,
            item_exploration=item_exploration,
            ranking_influence=ranking_influence,
            mode=mode,
            theme_item_name_field=theme_item_name_field,
            job_name=job_name,
            run_token=run_token,
        )
        properties["JobNamePrefix"] = name_prefix
        if timeout_seconds is None:
            raise ValueError(
                "BatchInferenceJob: invalid props:\n  - timeout must be a literal Duration: it names the "
                "WaitCondition and sets its Timeout, which take no deploy-time value"
            )
        # The monitor gives up a little before the WaitCondition does, so a job that runs too long
        # fails the stack with the monitor's readable reason rather than CloudFormation's "timed out".
        properties["TimeoutSeconds"] = str(
            timeout_seconds - min(MONITOR_MARGIN_SECONDS, timeout_seconds // 10)
        )
        if tags:
            properties["Tags"] = [{"Key": k, "Value": tags[k]} for k in sorted(tags)]

        runtime.allow_job(
            job_name
            if job_name is not None and not v.is_token(job_name)
            else _stack_name_pattern(stack_name),
            self.storage.references.role_arn,
        )

        # WaitConditions cannot be updated and their handles must never be reused: both are named
        # after the job's definition and timeout, so every change brings a fresh pair.
        generation = _generation(runtime.stack, properties)
        handle = None
        if wait:
            handle = CfnWaitConditionHandle(self, f"WaitHandle{generation}")
            handle_ref = handle.ref
            properties["WaitHandle"] = handle_ref

        self.resource = CustomResource(
            self,
            "Resource",
            service_token=runtime.service_token,
            resource_type=RESOURCE_TYPE,
            properties=properties,
        )
        # Personalize checks the role's policy and the bucket and key policies when the job is created.
        self.resource.node.add_dependency(self.storage)
        self.wait_condition: CfnWaitCondition | None = None
        if handle is not None:
            self.wait_condition = CfnWaitCondition(
                self,
                f"WaitCondition{generation}",
                handle=handle_ref,
                timeout=str(timeout_seconds),
                count=1,
            )
            self.wait_condition.node.add_dependency(self.resource)

    @functools.cached_property
    def job_arn(self) -> str:
        """ARN of the job (a deploy-time token)."""
        return self.resource.get_att_string("JobArn")

    @functools.cached_property
    def job_name(self) -> str:
        """Name of the job (a deploy-time token)."""
        return self.resource.get_att_string("JobName")

    @functools.cached_property
    def output_s3_uri(self) -> str:
        """``s3://`` URI of the prefix the job writes its results under (a deploy-time token)."""
        return self.resource.get_att_string("OutputS3Uri")

    def on_state_change(
        self,
        id: str,
        *,
        target: events.IRuleTarget | None = None,
        description: str | None = None,
        rule_name: str | None = None,
        enabled: bool = True,
    ) -> events.Rule:
        """An EventBridge rule matching this job's end event (ACTIVE or CREATE FAILED).

        The rule is created beside the job with the id ``<job id><id>``.

        The event's detail carries jobArn, jobName, status, failureReason, outputS3Uri,
        durationSeconds, stackId and logicalId.
        """
        # The rule lives beside the job, not inside it: a construct that depends on the job (waits for
        # its end) may well be the rule's target, and must not find the rule among its dependencies.
        scope = self.node.scope
        assert isinstance(scope, Construct)
        rule = events.Rule(
            scope,
            f"{self.node.id}{id}",
            description=description or f"End of the Personalize batch inference job {self.node.path}",
            rule_name=rule_name,
            enabled=enabled,
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=[EVENT_DETAIL_TYPE], detail={"jobArn": [self.job_arn]}
            ),
        )
        if target is not None:
            rule.add_target(target)
        return rule

    # ---------------------------------------------------------------- properties

    def _job_properties(
        self,
        *,
        solution_version_arn: str,
        input_path: str,
        output_prefix: str,
        num_results: int | None,
        filter_arn: str | None,
        item_exploration: Mapping[str, str] | None,
        ranking_influence: Mapping[str, float] | None,
        mode: BatchInferenceJobMode,
        theme_item_name_field: str | None,
        job_name: str | None,
        run_token: str | None,
    ) -> dict[str, Any]:
        refs = self.storage.references
        properties: dict[str, Any] = {
            "SolutionVersionArn": solution_version_arn,
            "InputPath": f"s3://{refs.input_bucket_name}/{input_path}",
            "OutputBucket": refs.output_bucket_name,
            "OutputPrefix": output_prefix,
            "RoleArn": refs.role_arn,
            "Mode": mode.value,
        }
        optional: dict[str, Any] = {
            "InputKmsKeyArn": refs.input_key_arn,
            "OutputKmsKeyArn": refs.output_key_arn,
            "NumResults": num_results,
            "FilterArn": filter_arn,
            "ItemExplorationConfig": dict(sorted(item_exploration.items())) if item_exploration else None,
            "RankingInfluence": dict(sorted(ranking_influence.items())) if ranking_influence else None,
            "ThemeItemNameField": theme_item_name_field,
            "RunToken": run_token,
            "JobName": job_name,
        }
        properties.update({k: val for k, val in optional.items() if val is not None})
        return properties


def _generation(stack: Stack, properties: Mapping[str, Any]) -> str:
    """A short hash of the resolved job-defining properties and the timeout."""
    defining = {k: properties[k] for k in (*JOB_DEFINING_PROPERTIES, "TimeoutSeconds") if k in properties}
    resolved = TokenResolver.of(stack).resolve(defining)
    digest = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:8].upper()


def _name_prefix(stack_name: str, id: str) -> str:
    """A readable job name prefix: ``<stack>-<id>``, only characters Personalize accepts."""
    raw = id if v.is_token(stack_name) else f"{_sanitize(stack_name)}-{id}"
    cleaned = re.sub(r"[^a-zA-Z0-9\-_]+", "-", raw).lstrip("-_")
    return (cleaned or "job")[:MAX_NAME_PREFIX_LENGTH].rstrip("-_") or "job"


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9\-_]+", "-", name).lstrip("-_")


def _stack_name_pattern(stack_name: str) -> str:
    """What every generated job name of the stack starts with, as an IAM resource pattern."""
    if v.is_token(stack_name):
        return "*"
    return f"{_sanitize(stack_name)}-"[:MAX_NAME_PREFIX_LENGTH] + "*"


def _default_output_prefix(scope: Construct, id: str) -> str:
    """``batch-inference/<the job's construct path>/``, in characters safe in an S3 key."""
    scope_path = _PATH_OF_SCOPE.get(scope)
    if scope_path is None:
        # Read once per scope: the jobs of a scope then cost no round trip into jsii here.
        scope_path = _PATH_OF_SCOPE[scope] = scope.node.path
    # The job's node.path: constructs writes a "/" in an id as "--".
    path = re.sub(r"[^a-zA-Z0-9!\-_.*'()/]+", "-", f"{scope_path}/{id.replace('/', '--')}")
    return f"batch-inference/{path}/"
