"""The DataDeletionJob construct: erasing users and their data from a Personalize dataset group, as a
resource (what teams run for data-subject deletion requests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import PersonalizeJob
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._job import JobOptions

DATASET_GROUP = v.ArnKind(
    "dataset group", "dataset-group", 1, "arn:aws:personalize:us-east-1:123456789012:dataset-group/my-group"
)


class DataDeletionJob(PersonalizeJob):
    """Runs CreateDataDeletionJob at deploy time: removes the users listed in a CSV file (one
    ``USER_ID`` column) from the datasets and models of a dataset group, and by default holds the
    deployment until the job has COMPLETED. Deleted data cannot be restored.

    The job is a ``Custom::PersonalizeDataDeletionJob`` resource. Its end event's ``metrics`` carry
    ``numDeleted``, the records the job deleted (known only at the end, so not an attribute).
    """

    storage: BatchInferenceStorage
    """The storage whose input bucket holds the list of users and whose role Personalize assumes."""

    kind = contract.DATA_DELETION
    """``contract.DATA_DELETION``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_group_arn: str,
        data_path: str,
        storage: BatchInferenceStorage,
        **options: Unpack[JobOptions],
    ) -> None:
        """
        :param dataset_group_arn: The dataset group to erase the users from
            (``CfnDatasetGroup.attr_dataset_group_arn``, or ``arn:aws:personalize:...:dataset-group/<name>``).
        :param data_path: Key of a CSV file with a ``USER_ID`` column (at most 100 MB in all), or a prefix
            ending with ``/``, inside ``storage.input_bucket``; read with ``storage.role``.
        :param storage: The storage whose input bucket holds the list and whose role Personalize uses. Its
            input bucket must not use a customer managed KMS key (Personalize cannot read the list from
            one): bring an SSE-S3 bucket.
        :param options: ``JobOptions``: ``job_name``, ``tags``, ``run_token`` (any change runs the deletion
            again on the same file, e.g. after new users were written to it), ``wait`` (a deletion may take
            hours), ``timeout``, ``runtime``, ``schedule``, ``schedule_enabled``, ``skip_unchanged``.
        """
        super().__init__(scope, id, options)
        errors = [
            *v.check_personalize_arn(
                "dataset_group_arn", dataset_group_arn, DATASET_GROUP, v.stack_place(self._stack)
            ),
            *self._input_errors("data_path", data_path, storage),
        ]
        if storage.input_key is not None:
            errors.append(
                f"storage={storage.node.path!r} encrypts its input bucket with a customer managed KMS key, "
                "from which Personalize cannot read a data deletion job's list of users (developer guide, "
                "'Deleting users'); bring an SSE-S3 input bucket: BatchInferenceStorage(..., input_bucket="
                "s3.Bucket(..., encryption=s3.BucketEncryption.S3_MANAGED))"
            )
        self._check(errors)
        v.warn_arn_region(self, {"dataset_group_arn": dataset_group_arn})
        self.storage = storage
        self._build(
            {"dataset_group_arn": dataset_group_arn},
            storage=storage,
            input=("data_location", data_path),
            source_resources=[dataset_group_arn],
        )
