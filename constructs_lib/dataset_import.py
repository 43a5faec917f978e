"""The DatasetImportJob construct: importing data into a Personalize dataset, as a resource."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Duration, Reference, Stack, Tokenization
from aws_cdk import aws_personalize as personalize
from constructs import Construct

from constructs_lib import _reads
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import DEFAULT_TIMEOUT, PersonalizeJob
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.storage import BatchInferenceStorage

# An import that does not wait, into a CfnDataset of its own stack: a delete can meet it running.
IMPORT_BEFORE_NATIVE_DELETE_WARNING = "constructs-lib:importBeforeNativeDelete"

if TYPE_CHECKING:
    from aws_cdk import aws_scheduler as scheduler


class DatasetImportMode(enum.Enum):
    """How the imported records meet the dataset's existing ones."""

    FULL = "FULL"
    """Replace every record of the dataset."""
    INCREMENTAL = "INCREMENTAL"
    """Add the records to the dataset (and replace records with the same id)."""


class DatasetImportJob(PersonalizeJob):
    """Runs CreateDatasetImportJob at deploy time, from CSV in the storage's input bucket into a
    Personalize dataset, and by default holds the deployment until the import is ACTIVE: what depends
    on it (a ``SolutionVersion`` given ``node.add_dependency(import_job)``) trains on the data.

    The job is a ``Custom::PersonalizeDatasetImportJob`` resource.
    """

    storage: BatchInferenceStorage
    """The storage whose input bucket holds the data and whose role Personalize assumes."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_arn: str,
        data_path: str,
        storage: BatchInferenceStorage,
        import_mode: DatasetImportMode | str = DatasetImportMode.FULL,
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
        :param dataset_arn: The dataset to import into (``CfnDataset.attr_dataset_arn``, or
            ``arn:aws:personalize:<region>:<account>:dataset/<dataset group>/<TYPE>``).
        :param data_path: Key of a CSV file, or a prefix ending with ``/``, inside
            ``storage.input_bucket``; read with ``storage.role``.
        :param storage: The storage whose input bucket holds the data and whose role Personalize uses.
        :param import_mode: ``DatasetImportMode`` (or its string value). Default: FULL.
        :param job_name: Explicit physical name; then a change of the definition is refused.
            Default: ``<stack>-<id>-<hash>``.
        :param tags: Tags on the job (at most 49); changed in place. Default: no tags.
        :param run_token: Any change imports the same data again (e.g. after new files were uploaded
            under a prefix). Not with ``job_name``. Default: none.
        :param wait: Hold the deployment until the import ends. Default: True.
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
        errors: list[str] = []
        mode = v.coerce_enum("import_mode", import_mode, DatasetImportMode, errors)
        input_bucket = _reads.bucket_name(storage.input_bucket)
        errors += [
            *v.check_personalize_arn("dataset_arn", dataset_arn, v.DATASET, v.stack_place(self._stack)),
            *v.check_input_path("data_path", data_path, input_bucket),
            *self._common_errors(
                job_name=job_name, tags=tags, run_token=run_token, wait=wait, timeout=timeout
            ),
        ]
        self._raise_if_errors(errors)
        v.warn_arn_region(self, {"dataset_arn": dataset_arn})
        if not wait and _dataset_of_stack(dataset_arn, self._stack):
            Annotations.of(self).add_warning_v2(
                IMPORT_BEFORE_NATIVE_DELETE_WARNING,
                "This import does not wait (wait=False) and writes into a CfnDataset of the same stack: "
                "the deploy ends while it runs, and an import cannot be stopped. A stack delete (or a "
                "rollback that deletes the dataset) meeting it waits for its end about 13 minutes; a "
                "longer import leaves the dataset DELETE_FAILED (Personalize refuses to delete it "
                "meanwhile), and the stack is deleted once you delete it again after the import ended. "
                "Keep wait=True to hold the deploy until the import ends.",
            )
        assert mode is not None
        self.storage = storage
        runtime = runtime or PersonalizeJobRuntime.of(self._stack)
        storage._job_reads_input(self)
        grants = runtime.grant_pass_role(storage.role, owner=storage)
        self._build(
            contract.DATASET_IMPORT,
            {
                "DatasetArn": dataset_arn,
                "DataLocation": f"s3://{input_bucket}/{data_path}",
                "RoleArn": _reads.role_arn(storage.role),
                "ImportMode": mode.value,
            },
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            depends_on=[storage, grants],
            source_resources=[dataset_arn],
            made_from={"DataLocation": (input_bucket, data_path)},
            schedule=schedule,
            schedule_enabled=schedule_enabled,
            skip_unchanged=skip_unchanged,
        )


def _dataset_of_stack(dataset_arn: str, stack: Stack) -> bool:
    """Whether ``dataset_arn`` references a ``CfnDataset`` of ``stack``."""
    if not v.is_token(dataset_arn):
        return False
    return any(
        isinstance(token, Reference)
        and isinstance(token.target, personalize.CfnDataset)
        and Stack.of(token.target) is stack
        for token in Tokenization.reverse_string(dataset_arn).tokens
    )
