"""The DatasetExportJob construct: a Personalize dataset's data written to S3, as a resource."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._batch import ResultsJob
from constructs_lib._contract import contract
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._job import JobOptions


class DatasetExportIngestionMode(enum.Enum):
    """Which of the dataset's records to export, by how they were imported."""

    BULK = "BULK"
    """Records imported with dataset import jobs."""
    PUT = "PUT"
    """Records imported one by one (PutEvents, PutUsers, PutItems, the console)."""
    ALL = "ALL"
    """Both."""


class DatasetExportJob(ResultsJob):
    """Runs CreateDatasetExportJob at deploy time: writes the dataset's records as CSV files under
    ``<output_prefix><job name>/`` in the storage's output bucket, and by default holds the deployment
    until the export is ACTIVE. Results are read as a batch job's: ``output_s3_uri``, ``manifest_uri``,
    ``grant_read_results``.

    The job is a ``Custom::PersonalizeDatasetExportJob`` resource.
    """

    kind = contract.DATASET_EXPORT
    """``contract.DATASET_EXPORT``."""
    output_root = "dataset-export/"
    """Default output prefixes start with ``dataset-export/``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_arn: str,
        storage: BatchInferenceStorage,
        ingestion_mode: DatasetExportIngestionMode | str = DatasetExportIngestionMode.ALL,
        output_prefix: str | None = None,
        **options: Unpack[JobOptions],
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
        :param options: ``JobOptions``: ``job_name``, ``tags``, ``run_token`` (any change exports the
            dataset again), ``wait``, ``timeout``, ``runtime``, ``schedule``, ``schedule_enabled``,
            ``skip_unchanged``.
        """
        super().__init__(scope, id, options)
        errors: list[str] = []
        mode = v.coerce_enum("ingestion_mode", ingestion_mode, DatasetExportIngestionMode, errors)
        self._check(
            [
                *errors,
                *v.check_personalize_arn("dataset_arn", dataset_arn, v.DATASET, v.stack_place(self._stack)),
                *self._results_errors(storage, output_prefix),
            ]
        )
        v.warn_arn_region(self, {"dataset_arn": dataset_arn})
        assert mode is not None
        self._build_results(
            {"dataset_arn": dataset_arn, "ingestion_mode": mode.value},
            storage=storage,
            output_prefix=output_prefix,
            source_resources=[dataset_arn],
        )
