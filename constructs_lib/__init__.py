"""AWS CDK constructs for Amazon Personalize batch inference.

The constructs load on first use, so ``python -m constructs_lib.rehearsal`` does not pay for (or need)
the aws-cdk-lib start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib.job import BatchInferenceJob, BatchInferenceJobMode
    from constructs_lib.storage import BatchInferenceStorage

__all__ = ["BatchInferenceJob", "BatchInferenceJobMode", "BatchInferenceStorage"]

_HOMES = {
    "BatchInferenceJob": "constructs_lib.job",
    "BatchInferenceJobMode": "constructs_lib.job",
    "BatchInferenceStorage": "constructs_lib.storage",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
