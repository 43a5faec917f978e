"""The BatchSegmentJob construct: user segments from a Personalize solution version, as a resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Duration
from constructs import Construct

from constructs_lib._batch import BatchJob
from constructs_lib._contract import contract
from constructs_lib._job import DEFAULT_TIMEOUT
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from aws_cdk import aws_scheduler as scheduler


class BatchSegmentJob(BatchJob):
    """Runs CreateBatchSegmentJob at deploy time (user segments for each item or item attribute of the
    input, from a USER_SEGMENTATION solution version) and, by default, holds the deployment until it
    ends, up to 12 hours. The job is a ``Custom::PersonalizeBatchSegmentJob`` resource."""

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
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_token: str | None = None,
        wait: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
        runtime: PersonalizeJobRuntime | None = None,
        schedule: scheduler.ScheduleExpression | None = None,
        schedule_enabled: bool = True,
        skip_unchanged: bool = True,
    ) -> None:
        """
        :param solution_version_arn: A solution version of the Item-Affinity or Item-Attribute-Affinity
            recipe, or a ``SolutionVersion``'s ``solution_version_arn`` (the job then waits for it).
        :param input_path: Key of a JSON lines file (``{"itemId": ".."}`` or
            ``{"itemAttributes": ".."}`` per line), or a prefix ending with ``/``, in the input bucket.
        :param storage: Buckets, keys and role to use. Default: a ``BatchInferenceStorage`` is created
            inside this construct.
        :param output_prefix: Prefix inside ``storage.output_bucket``; each run writes under
            ``<output_prefix><job name>/``. Default: ``batch-segment/<construct path>/``.
        :param num_results: Users per segment. Default: the service's default.
        :param filter_arn: Filter applied to the segments. Default: no filter.
        :param job_name: Explicit physical name; then a change of the definition is refused.
            Default: ``<stack>-<id>-<hash>``.
        :param tags: Tags on the job (at most 49); changed in place. Default: no tags.
        :param run_token: Any change starts a new job on the same inputs. Not with ``job_name``.
            Default: none.
        :param wait: Hold the deployment until the job ends. Default: True.
        :param timeout: How long to wait, from 5 minutes to 12 hours. Default: 6 hours.
        :param runtime: The stack's ``PersonalizeJobRuntime``. Default: the stack's own.
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
        errors = [
            *self._batch_errors(
                solution_version_arn=solution_version_arn,
                filter_arn=filter_arn,
                input_path=input_path,
                storage=storage,
                output_prefix=output_prefix,
                num_results=num_results,
                segments=True,
            ),
            *self._common_errors(
                job_name=job_name, tags=tags, run_token=run_token, wait=wait, timeout=timeout
            ),
        ]
        self._raise_if_errors(errors)
        self._build_batch(
            contract.BATCH_SEGMENT,
            {},
            solution_version_arn=solution_version_arn,
            input_path=input_path,
            storage=storage,
            output_prefix=output_prefix,
            output_root="batch-segment/",
            num_results=num_results,
            filter_arn=filter_arn,
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            schedule=schedule,
            schedule_enabled=schedule_enabled,
            skip_unchanged=skip_unchanged,
        )
