"""The BatchSegmentJob construct: user segments from a Personalize solution version, as a resource."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs import Construct

from constructs_lib._batch import BatchJob
from constructs_lib._contract import contract

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._batch import BatchJobProps


class BatchSegmentJob(BatchJob):
    """Runs CreateBatchSegmentJob at deploy time (user segments for each item or item attribute of the
    input, from a USER_SEGMENTATION solution version: Item-Affinity or Item-Attribute-Affinity) and, by
    default, holds the deployment until it ends, up to 12 hours. The input is JSON lines,
    ``{"itemId": ".."}`` or ``{"itemAttributes": ".."}`` per line; ``num_results`` is users per segment.
    The job is a ``Custom::PersonalizeBatchSegmentJob`` resource."""

    kind = contract.BATCH_SEGMENT
    """``contract.BATCH_SEGMENT``."""
    output_root = "batch-segment/"
    """Default output prefixes start with ``batch-segment/``."""

    def __init__(self, scope: Construct, id: str, **props: Unpack[BatchJobProps]) -> None:
        """
        :param props: ``BatchJobProps``: ``solution_version_arn`` and ``input_path`` (required),
            ``storage``, ``output_prefix``, ``num_results``, ``filter_arn``, and the ``JobOptions``.
        """
        super().__init__(scope, id, props)
        self._check(self._batch_errors())
        self._build_batch({})
