"""AWS CDK constructs for Amazon Personalize jobs: batch inference, batch segments, dataset imports and
solution version training, each a CloudFormation resource whose deployment ends when the job has.

The constructs load on first use, so ``python -m constructs_lib.rehearsal`` does not pay for (or need)
the aws-cdk-lib start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib._batch import BatchJob, BatchJobProps, ResultsJob
    from constructs_lib._job import EventOptions, JobOptions, PersonalizeJob, RunOptions
    from constructs_lib.data_deletion import DataDeletionJob
    from constructs_lib.dataset_export import DatasetExportIngestionMode, DatasetExportJob
    from constructs_lib.dataset_import import DatasetImportJob, DatasetImportMode
    from constructs_lib.job import BatchInferenceJob, BatchInferenceJobMode
    from constructs_lib.runtime import PersonalizeJobRuntime
    from constructs_lib.segment import BatchSegmentJob
    from constructs_lib.solution_version import SolutionVersion, SolutionVersionTrainingMode
    from constructs_lib.storage import BatchInferenceStorage

_HOMES = {
    "BatchInferenceJob": "constructs_lib.job",
    "BatchInferenceJobMode": "constructs_lib.job",
    "BatchInferenceStorage": "constructs_lib.storage",
    "BatchJob": "constructs_lib._batch",
    "BatchJobProps": "constructs_lib._batch",
    "BatchSegmentJob": "constructs_lib.segment",
    "DataDeletionJob": "constructs_lib.data_deletion",
    "DatasetExportIngestionMode": "constructs_lib.dataset_export",
    "DatasetExportJob": "constructs_lib.dataset_export",
    "DatasetImportJob": "constructs_lib.dataset_import",
    "DatasetImportMode": "constructs_lib.dataset_import",
    "EventOptions": "constructs_lib._job",
    "JobOptions": "constructs_lib._job",
    "PersonalizeJob": "constructs_lib._job",
    "PersonalizeJobRuntime": "constructs_lib.runtime",
    "ResultsJob": "constructs_lib._batch",
    "RunOptions": "constructs_lib._job",
    "SolutionVersion": "constructs_lib.solution_version",
    "SolutionVersionTrainingMode": "constructs_lib.solution_version",
}
__all__ = [
    "BatchInferenceJob",
    "BatchInferenceJobMode",
    "BatchInferenceStorage",
    "BatchJob",
    "BatchJobProps",
    "BatchSegmentJob",
    "DataDeletionJob",
    "DatasetExportIngestionMode",
    "DatasetExportJob",
    "DatasetImportJob",
    "DatasetImportMode",
    "EventOptions",
    "JobOptions",
    "PersonalizeJob",
    "PersonalizeJobRuntime",
    "ResultsJob",
    "RunOptions",
    "SolutionVersion",
    "SolutionVersionTrainingMode",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
