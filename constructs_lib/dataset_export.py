"""The DatasetExportJob construct: a Personalize dataset's data written to S3, as a resource."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from aws_cdk import Duration
from constructs import Construct

from constructs_lib import _reads
from constructs_lib import _validation as v
from constructs_lib._batch import BatchJob, default_output_prefix
from constructs_lib._contract import contract
from constructs_lib._job import DEFAULT_TIMEOUT
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.storage import BatchInferenceStorage


class DatasetExportIngestionMode(enum.Enum):
    """Which of the dataset's records to export, by how they were imported."""

    BULK = "BULK"
    """Records imported with dataset import jobs."""
    PUT = "PUT"
    """Records imported one by one (PutEvents, PutUsers, PutItems, the console)."""
    ALL = "ALL"
    """Both."""


class DatasetExportJob(BatchJob):
    """Runs CreateDatasetExportJob at deploy time: writes the dataset's records as CSV files under
    ``<output_prefix><job name>/`` in the storage's output bucket, and by default holds the deployment
    until the export is ACTIVE. Results are read as a batch job's: ``output_s3_uri``, ``manifest_uri``,
    ``grant_read_results``.

    The job is a ``Custom::PersonalizeDatasetExportJob`` resource.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_arn: str,
        storage: BatchInferenceStorage,
        ingestion_mode: DatasetExportIngestionMode | str = DatasetExportIngestionMode.ALL,
        output_prefix: str | None = None,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_token: str | None = None,
        wait: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
        runtime: PersonalizeJobRuntime | None = None,
    ) -> None:
        """
        :param dataset_arn: The dataset to export (``CfnDataset.attr_dataset_arn``, or
            ``arn:aws:personalize:<region>:<account>:dataset/<dataset group>/<TYPE>``).
        :param storage: The storage whose output bucket (and key) receives the export and whose role
            Personalize uses.
        :param ingestion_mode: ``DatasetExportIngestionMode`` (or its string value). Default: ALL, every
            record however it was imported (the API's own default is PUT, the records put one by one).
        :param output_prefix: Prefix inside ``storage.output_bucket``; each run writes under
            ``<output_prefix><job name>/``. Default: ``dataset-export/<construct path>/``.
        :param job_name: Explicit physical name; then a change of the definition is refused.
            Default: ``<stack>-<id>-<hash>``.
        :param tags: Tags on the job (at most 49); changed in place. Default: no tags.
        :param run_token: Any change exports the dataset again. Not with ``job_name``. Default: none.
        :param wait: Hold the deployment until the export ends. Default: True.
        :param timeout: How long to wait, from 5 minutes to 12 hours. Default: 6 hours.
        :param runtime: The stack's ``PersonalizeJobRuntime``. Default: the stack's own.
        """
        super().__init__(scope, id)
        errors: list[str] = []
        mode = v.coerce_enum("ingestion_mode", ingestion_mode, DatasetExportIngestionMode, errors)
        output_bucket = _reads.bucket_name(storage.output_bucket)
        errors += [
            *v.check_personalize_arn("dataset_arn", dataset_arn, v.DATASET, v.stack_place(self._stack)),
            *v.check_output_prefix(output_prefix, output_bucket),
            *self._common_errors(
                job_name=job_name, tags=tags, run_token=run_token, wait=wait, timeout=timeout
            ),
        ]
        self._raise_if_errors(errors)
        v.warn_arn_region(self, {"dataset_arn": dataset_arn})
        assert mode is not None
        self.storage = storage
        prefix = (
            output_prefix if output_prefix is not None else default_output_prefix(self, "dataset-export/")
        )
        self.output_prefix = prefix
        runtime = runtime or PersonalizeJobRuntime.of(self._stack)
        grants = runtime.grant_pass_role(storage.role, owner=storage).combine(
            runtime.grant_results(
                bucket=storage.output_bucket, key=storage.output_key, prefix=prefix, owner=storage
            )
        )
        self._build(
            contract.DATASET_EXPORT,
            {
                "DatasetArn": dataset_arn,
                "IngestionMode": mode.value,
                "RoleArn": _reads.role_arn(storage.role),
                "OutputBucket": output_bucket,
                "OutputPrefix": prefix,
                "OutputKmsKeyArn": _reads.key_arn(storage.output_key) if storage.output_key else None,
            },
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            depends_on=[storage, grants],
            source_resources=[dataset_arn],
            made_from={"OutputPrefix": ()} if output_prefix is None else None,
        )
