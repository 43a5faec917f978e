"""The BatchInferenceJob construct: one Personalize batch inference job as a CloudFormation resource."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._batch import BatchJob, runtime_conflicts
from constructs_lib._contract import contract
from constructs_lib._job import DEFAULT_TIMEOUT
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.solution_version import upstream_recipe
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from aws_cdk import aws_scheduler as scheduler


class BatchInferenceJobMode(enum.Enum):
    """What the job produces."""

    BATCH_INFERENCE = "BATCH_INFERENCE"
    """Recommendations (item lists and scores) for each input record."""
    THEME_GENERATION = "THEME_GENERATION"
    """Similar-items recommendations grouped under generated descriptive themes."""


class BatchInferenceJob(BatchJob):
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
        mode: BatchInferenceJobMode | str = BatchInferenceJobMode.BATCH_INFERENCE,
        theme_item_name_field: str | None = None,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_token: str | None = None,
        wait: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
        runtime: PersonalizeJobRuntime | None = None,
        schedule: scheduler.ScheduleExpression | None = None,
        schedule_enabled: bool = True,
        skip_unchanged: bool = True,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
    ) -> None:
        """
        :param solution_version_arn: The trained solution version that makes the recommendations
            (``arn:aws:personalize:<region>:<account>:solution/<solution>/<version id>``), or a
            ``SolutionVersion``'s ``solution_version_arn``: the job then waits for that training, and
            runs again after each new training.
        :param input_path: Key of a JSON lines file, or a prefix ending with ``/``, inside
            ``storage.input_bucket``.
        :param storage: Buckets, keys and role to use. Default: a ``BatchInferenceStorage`` with all
            secure defaults is created inside this construct.
        :param output_prefix: Prefix inside ``storage.output_bucket``; each run writes under
            ``<output_prefix><job name>/``, and ``<output_prefix>latest.json`` names the newest
            successful run. Default: ``batch-inference/<construct path>/``, unique per job (shortened
            with a hash where the path is long).
        :param num_results: Recommendations per input record. Default: the solution's default (25).
        :param filter_arn: Filter applied to the recommendations. Default: no filter.
        :param item_exploration: ``explorationWeight`` (0..1) and ``explorationItemAgeCutOff`` (days), as
            strings, for User-Personalization solutions. Default: the solution's exploration settings.
        :param ranking_influence: Weights from 0 to 1 for ``POPULARITY`` and ``FRESHNESS``.
            Default: no ranking influence.
        :param mode: ``BatchInferenceJobMode`` (or its string value). Default: BATCH_INFERENCE.
        :param theme_item_name_field: Items dataset column with each item's name; required exactly
            when ``mode`` is THEME_GENERATION. Default: none.
        :param job_name: Explicit physical name. Then a change of the job's definition is refused,
            since the replacement would need the same name. Default: ``<stack>-<id>-<hash>``,
            deterministic per stack and job definition.
        :param tags: Tags on the job (at most 49); a change is applied in place. Default: no tags.
        :param run_token: Any change starts a new job on the same inputs, e.g. to run a job that
            failed once (Personalize keeps failed jobs under their name). Not with ``job_name``.
            Default: none, the job runs again only when its definition changes.
        :param wait: Hold the deployment until the job ends. Default: True.
        :param timeout: How long to wait for the job, from 5 minutes to 12 hours; a job still running
            (or still queued under the quota) then fails the deployment. Default: 6 hours.
        :param runtime: The stack's ``PersonalizeJobRuntime``. Default: the stack's own, created with
            default settings if the stack has none yet.
        :param vpc: Creates the stack's runtime in this VPC when it does not exist yet; prefer
            ``PersonalizeJobRuntime(stack, vpc=...)``. Default: no VPC.
        :param vpc_subnets: Subnets of ``vpc``. Default: the VPC's private subnets.
        :param schedule: Runs the job again without a deploy on this EventBridge Scheduler expression
            (``ScheduleExpression.rate``, ``.cron`` with a time zone, ``.at``): each run is a new job named
            from its scheduled time, with the deployed definition, reported by the end event (``trigger``
            ``schedule``); a failed run is an event, never a stack failure. Not with ``job_name``.
            Default: the job runs only when a deploy changes it.
        :param schedule_enabled: False pauses the schedule without removing it. Default: True.
        :param skip_unchanged: A run without a deploy that would change nothing is skipped (a ``SKIPPED``
            end event, nothing billed): see the README's "Schedules". False always runs. Default: True.
        """
        super().__init__(scope, id)
        errors: list[str] = []
        found_mode = v.coerce_enum("mode", mode, BatchInferenceJobMode, errors)
        errors += [
            *self._batch_errors(
                solution_version_arn=solution_version_arn,
                filter_arn=filter_arn,
                input_path=input_path,
                storage=storage,
                output_prefix=output_prefix,
                num_results=num_results,
                segments=False,
            ),
            *v.check_item_exploration(item_exploration),
            *v.check_ranking_influence(ranking_influence),
            *v.check_theme(found_mode is BatchInferenceJobMode.THEME_GENERATION, theme_item_name_field),
            *(
                v.check_theme_generation(v.stack_place(self._stack), upstream_recipe(solution_version_arn))
                if found_mode is BatchInferenceJobMode.THEME_GENERATION
                else ()
            ),
            *self._common_errors(
                job_name=job_name, tags=tags, run_token=run_token, wait=wait, timeout=timeout
            ),
            *runtime_conflicts(self, runtime, vpc, vpc_subnets),
        ]
        self._raise_if_errors(errors)
        assert found_mode is not None
        self._build_batch(
            contract.BATCH_INFERENCE,
            {
                "Mode": found_mode.value,
                "ItemExplorationConfig": dict(sorted(item_exploration.items())) if item_exploration else None,
                "RankingInfluence": dict(sorted(ranking_influence.items())) if ranking_influence else None,
                "ThemeItemNameField": theme_item_name_field,
            },
            solution_version_arn=solution_version_arn,
            input_path=input_path,
            storage=storage,
            output_prefix=output_prefix,
            output_root="batch-inference/",
            num_results=num_results,
            filter_arn=filter_arn,
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            schedule=schedule,
            schedule_enabled=schedule_enabled,
            skip_unchanged=skip_unchanged,
        )
