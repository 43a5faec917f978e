"""The BatchInferenceJob construct: one Personalize batch inference job as a CloudFormation resource."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._batch import BatchJob, runtime_conflicts
from constructs_lib._contract import contract
from constructs_lib._recipes import upstream_recipe
from constructs_lib.runtime import PersonalizeJobRuntime

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._batch import BatchJobProps

# A job given vpc= (the runtime's setting since there is one runtime per stack): still honoured.
JOB_VPC_DEPRECATED = "constructs-lib:jobVpcDeprecated"


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

    kind = contract.BATCH_INFERENCE
    """``contract.BATCH_INFERENCE``."""
    output_root = "batch-inference/"
    """Default output prefixes start with ``batch-inference/``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        item_exploration: Mapping[str, str] | None = None,
        ranking_influence: Mapping[str, float] | None = None,
        mode: BatchInferenceJobMode | str = BatchInferenceJobMode.BATCH_INFERENCE,
        theme_item_name_field: str | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        **props: Unpack[BatchJobProps],
    ) -> None:
        """
        :param item_exploration: ``explorationWeight`` (0..1) and ``explorationItemAgeCutOff`` (days), as
            strings, for User-Personalization solutions. Default: the solution's exploration settings.
        :param ranking_influence: Weights from 0 to 1 for ``POPULARITY`` and ``FRESHNESS``.
            Default: no ranking influence.
        :param mode: ``BatchInferenceJobMode`` (or its string value). Default: BATCH_INFERENCE.
        :param theme_item_name_field: Items dataset column with each item's name; required exactly
            when ``mode`` is THEME_GENERATION. Default: none.
        :param vpc: Deprecated: give it to ``PersonalizeJobRuntime(stack, vpc=...)``, the stack's one
            runtime (warning ``constructs-lib:jobVpcDeprecated``). Still creates the stack's runtime in
            this VPC when it does not exist yet. Default: no VPC.
        :param vpc_subnets: Deprecated with ``vpc``: subnets of ``vpc``. Default: the VPC's private subnets.
        :param props: ``BatchJobProps``: ``solution_version_arn`` and ``input_path`` (required),
            ``storage``, ``output_prefix``, ``num_results``, ``filter_arn``, and the ``JobOptions``
            (``job_name``, ``tags``, ``run_token``, ``wait``, ``timeout``, ``runtime``, ``schedule``, ...).
        """
        super().__init__(scope, id, props)
        errors: list[str] = []
        found_mode = v.coerce_enum("mode", mode, BatchInferenceJobMode, errors)
        theme = found_mode is BatchInferenceJobMode.THEME_GENERATION
        recipe = upstream_recipe(self._batch["solution_version_arn"])
        self._check(
            [
                *errors,
                *self._batch_errors(),
                *v.check_item_exploration(item_exploration),
                *v.check_ranking_influence(ranking_influence),
                *v.check_theme(theme, theme_item_name_field),
                *(v.check_theme_generation(v.stack_place(self._stack), recipe) if theme else ()),
                *runtime_conflicts(self, self._options.get("runtime"), vpc, vpc_subnets),
            ]
        )
        assert found_mode is not None
        if vpc is not None or vpc_subnets is not None:
            Annotations.of(self).add_warning_v2(
                JOB_VPC_DEPRECATED,
                "vpc belongs to the stack's one PersonalizeJobRuntime, which every job of the stack shares: "
                "create it once, before the jobs, with PersonalizeJobRuntime(stack, vpc=..., vpc_subnets="
                "...), and drop vpc from the jobs (the template stays the same)",
            )
        self._vpc = (vpc, vpc_subnets)
        self._build_batch(
            {
                "mode": found_mode.value,
                "item_exploration_config": dict(sorted(item_exploration.items()))
                if item_exploration
                else None,
                "ranking_influence": dict(sorted(ranking_influence.items())) if ranking_influence else None,
                "theme_item_name_field": theme_item_name_field,
            }
        )

    def _new_runtime(self) -> PersonalizeJobRuntime:
        vpc, vpc_subnets = self._vpc
        return PersonalizeJobRuntime(self._stack, vpc=vpc, vpc_subnets=vpc_subnets)
