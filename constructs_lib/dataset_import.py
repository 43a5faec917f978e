"""The DatasetImportJob construct: importing data into a Personalize dataset, as a resource."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Reference, Stack, Tokenization
from aws_cdk import aws_personalize as personalize
from constructs import Construct

from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import PersonalizeJob
from constructs_lib.storage import BatchInferenceStorage

# An import that does not wait, into a CfnDataset of its own stack: a delete can meet it running.
IMPORT_BEFORE_NATIVE_DELETE_WARNING = "constructs-lib:importBeforeNativeDelete"

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._job import JobOptions


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

    kind = contract.DATASET_IMPORT
    """``contract.DATASET_IMPORT``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        dataset_arn: str,
        data_path: str,
        storage: BatchInferenceStorage,
        import_mode: DatasetImportMode | str = DatasetImportMode.FULL,
        **options: Unpack[JobOptions],
    ) -> None:
        """
        :param dataset_arn: The dataset to import into (``CfnDataset.attr_dataset_arn``, or
            ``arn:aws:personalize:<region>:<account>:dataset/<dataset group>/<TYPE>``).
        :param data_path: Key of a CSV file, or a prefix ending with ``/``, inside
            ``storage.input_bucket``; read with ``storage.role``.
        :param storage: The storage whose input bucket holds the data and whose role Personalize uses.
        :param import_mode: ``DatasetImportMode`` (or its string value). Default: FULL.
        :param options: ``JobOptions``: ``job_name``, ``tags``, ``run_token`` (any change imports the
            same data again, e.g. after new files were uploaded under a prefix), ``wait``, ``timeout``,
            ``runtime``, ``schedule``, ``schedule_enabled``, ``skip_unchanged``.
        """
        super().__init__(scope, id, options)
        errors: list[str] = []
        mode = v.coerce_enum("import_mode", import_mode, DatasetImportMode, errors)
        self._check(
            [
                *errors,
                *v.check_personalize_arn("dataset_arn", dataset_arn, v.DATASET, v.stack_place(self._stack)),
                *self._input_errors("data_path", data_path, storage),
            ]
        )
        v.warn_arn_region(self, {"dataset_arn": dataset_arn})
        if not self._options["wait"] and _dataset_of_stack(dataset_arn, self._stack):
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
        self._build(
            {"dataset_arn": dataset_arn, "import_mode": mode.value},
            storage=storage,
            input=("data_location", data_path),
            source_resources=[dataset_arn],
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
