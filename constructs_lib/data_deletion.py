"""The DataDeletionJob construct: erasing users and their data from a Personalize dataset group, as a
resource (what teams run for data-subject deletion requests)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from constructs import Construct

from constructs_lib import _reads
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import DEFAULT_TIMEOUT, PersonalizeJob
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.storage import BatchInferenceStorage

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

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_group_arn: str,
        data_path: str,
        storage: BatchInferenceStorage,
        job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_token: str | None = None,
        wait: bool = True,
        timeout: Duration = DEFAULT_TIMEOUT,
        runtime: PersonalizeJobRuntime | None = None,
    ) -> None:
        """
        :param dataset_group_arn: The dataset group to erase the users from
            (``CfnDatasetGroup.attr_dataset_group_arn``, or ``arn:aws:personalize:...:dataset-group/<name>``).
        :param data_path: Key of a CSV file with a ``USER_ID`` column (at most 100 MB in all), or a prefix
            ending with ``/``, inside ``storage.input_bucket``; read with ``storage.role``.
        :param storage: The storage whose input bucket holds the list and whose role Personalize uses. Its
            input bucket must not use a customer managed KMS key (Personalize cannot read the list from
            one): bring an SSE-S3 bucket.
        :param job_name: Explicit physical name; then a change of the definition is refused.
            Default: ``<stack>-<id>-<hash>``.
        :param tags: Tags on the job (at most 49); changed in place. Default: no tags.
        :param run_token: Any change runs the deletion again on the same file (e.g. after new users were
            written to it). Not with ``job_name``. Default: none.
        :param wait: Hold the deployment until the deletion ends (it may take hours). Default: True.
        :param timeout: How long to wait, from 5 minutes to 12 hours. Default: 6 hours.
        :param runtime: The stack's ``PersonalizeJobRuntime``. Default: the stack's own.
        """
        super().__init__(scope, id)
        input_bucket = _reads.bucket_name(storage.input_bucket)
        errors = [
            *v.check_personalize_arn(
                "dataset_group_arn", dataset_group_arn, DATASET_GROUP, v.stack_place(self._stack)
            ),
            *v.check_input_path("data_path", data_path, input_bucket),
            *self._common_errors(
                job_name=job_name, tags=tags, run_token=run_token, wait=wait, timeout=timeout
            ),
        ]
        if storage.input_key is not None:
            errors.append(
                f"storage={storage.node.path!r} encrypts its input bucket with a customer managed KMS key, "
                "from which Personalize cannot read a data deletion job's list of users (developer guide, "
                "'Deleting users'); bring an SSE-S3 input bucket: BatchInferenceStorage(..., input_bucket="
                "s3.Bucket(..., encryption=s3.BucketEncryption.S3_MANAGED))"
            )
        self._raise_if_errors(errors)
        v.warn_arn_region(self, {"dataset_group_arn": dataset_group_arn})
        self.storage = storage
        runtime = runtime or PersonalizeJobRuntime.of(self._stack)
        storage._job_reads_input(self)
        grants = runtime.grant_pass_role(storage.role, owner=storage)
        self._build(
            contract.DATA_DELETION,
            {
                "DatasetGroupArn": dataset_group_arn,
                "DataLocation": f"s3://{input_bucket}/{data_path}",
                "RoleArn": _reads.role_arn(storage.role),
            },
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            depends_on=[storage, grants],
            source_resources=[dataset_group_arn],
            made_from={"DataLocation": (input_bucket, data_path)},
        )
