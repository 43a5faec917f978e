"""AWS CDK constructs for Amazon Personalize batch inference."""

from constructs_lib.job import BatchInferenceJob, BatchInferenceJobMode
from constructs_lib.storage import BatchInferenceStorage

__all__ = ["BatchInferenceJob", "BatchInferenceJobMode", "BatchInferenceStorage"]
