"""What the kinds with results in S3 share (a prefix of the storage's output bucket, the attributes that
name them, the runtime's right to count them, ``grant_read_results``), and what the two batch kinds add
(a solution version, an input in the storage's input bucket)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct, IDependable

from constructs_lib import _reads
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import JobOptions, PersonalizeJob
from constructs_lib._recipes import SEGMENTATION_RECIPES, solution_of_version, upstream_recipe
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.storage import BatchInferenceStorage

if TYPE_CHECKING:
    from typing_extensions import Required


class ResultsJob(PersonalizeJob):
    """Base of the kinds that write results under a prefix of the storage's output bucket (batch
    inference and segment jobs, dataset exports): each run under ``<output_prefix><job name>/``, the
    attributes naming them, the runtime's right to count them, ``grant_read_results``."""

    output_root: ClassVar[str]
    """Where the default output prefixes of this kind start (``batch-inference/``)."""
    storage: BatchInferenceStorage
    """The buckets, keys and role the job uses."""
    output_prefix: str
    """The prefix inside ``storage.output_bucket`` every run of this job writes its results under."""

    def _results_errors(self, storage: BatchInferenceStorage | None, output_prefix: str | None) -> list[str]:
        bucket = _reads.bucket_name(storage.output_bucket) if storage else None
        return list(v.check_output_prefix(output_prefix, bucket))

    def _build_results(
        self,
        values: Mapping[str, Any],
        *,
        storage: BatchInferenceStorage | None,
        output_prefix: str | None,
        input: tuple[str, str] | None = None,
        source_resources: Sequence[str] = (),
    ) -> None:
        """``_build`` with the storage (created inside the job when None) and the results' location."""
        self.storage = storage = storage or BatchInferenceStorage(self, "Storage")
        prefix = output_prefix if output_prefix is not None else default_output_prefix(self, self.output_root)
        self.output_prefix = prefix
        # A default prefix is the construct path in characters safe in an S3 key: literal text.
        made_from = {"output_prefix": ()} if output_prefix is None else {}
        self._build(
            {
                **values,
                "output_bucket": _reads.bucket_name(storage.output_bucket),
                "output_prefix": prefix,
                "output_kms_key_arn": _reads.key_arn(storage.output_key) if storage.output_key else None,
            },
            storage=storage,
            input=input,
            source_resources=source_resources,
            made_from=made_from,
        )

    def _grants(self, runtime: PersonalizeJobRuntime) -> list[IDependable]:
        storage = self.storage
        placed = runtime.place_results(
            bucket=storage.output_bucket, key=storage.output_key, prefix=self.output_prefix, owner=storage
        )
        return list(placed.policies)

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list and read this job's results, every run's and the manifest (the objects
        under ``output_prefix``, nothing else of the output bucket), and decrypt them with the output key.
        """
        bucket = self.storage.output_bucket
        under = f"{self.output_prefix}*"
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(under)]
        ).combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:ListBucket"],
                resource_arns=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [under]}},
            )
        )
        key = self.storage.output_key
        return grant.combine(key.grant_decrypt(grantee)) if key is not None else grant

    @functools.cached_property
    def output_s3_uri(self) -> str:
        """``s3://`` URI of the prefix this run writes its results under (a deploy-time token; changes
        with each run, so import ``results_prefix_uri`` or ``manifest_uri`` into other stacks)."""
        return self._attribute(contract.ATTR_OUTPUT_S3_URI)

    @functools.cached_property
    def results_prefix_uri(self) -> str:
        """``s3://<output bucket>/<output_prefix>``: every run's results are under it. The same value for
        every run: safe to import into another stack."""
        return self._attribute(contract.ATTR_RESULTS_PREFIX_URI)

    @functools.cached_property
    def manifest_uri(self) -> str:
        """``s3://<output bucket>/<output_prefix>latest.json``, which the monitor writes after each
        successful run: job ARN and name, output URI, the ``.out`` objects with their record counts,
        finished time. The same value for every run: safe to import into another stack."""
        return self._attribute(contract.ATTR_MANIFEST_URI)


class BatchJobProps(JobOptions, total=False):
    """What both batch kinds take (keyword arguments): a solution version, an input, where the results
    go, and ``JobOptions``."""

    solution_version_arn: Required[str]
    """The trained solution version (``arn:aws:personalize:<region>:<account>:solution/<solution>/<version
    id>``), or a ``SolutionVersion``'s ``solution_version_arn``: the job then waits for that training,
    and runs again after each new training. A batch segment job needs an Item-Affinity or
    Item-Attribute-Affinity version."""
    input_path: Required[str]
    """Key of a JSON lines file, or a prefix ending with ``/``, inside ``storage.input_bucket``."""
    storage: BatchInferenceStorage | None
    """Buckets, keys and role to use. Default: a ``BatchInferenceStorage`` with all secure defaults is
    created inside the job."""
    output_prefix: str | None
    """Prefix inside ``storage.output_bucket``; each run writes under ``<output_prefix><job name>/``, and
    ``<output_prefix>latest.json`` names the newest successful run. Default: ``batch-inference/`` (or
    ``batch-segment/``) and the construct path, unique per job (shortened with a hash where the path is
    long)."""
    num_results: int | None
    """Recommendations per input record (users per segment for a batch segment job). Default: the
    service's default (25 recommendations)."""
    filter_arn: str | None
    """Filter applied to the recommendations or segments. Default: no filter."""


class BatchJob(ResultsJob):
    """Base of ``BatchInferenceJob`` and ``BatchSegmentJob``: a solution version's answers for each
    record of an input in the storage's input bucket, written under a prefix of its output bucket."""

    def __init__(self, scope: Construct, id: str, props: BatchJobProps) -> None:
        """For the batch kinds; nothing is created until ``_build_batch``.

        :param props: The ``BatchJobProps`` the kind was given.
        """
        missing = [name for name in ("solution_version_arn", "input_path") if name not in props]
        if missing:
            raise TypeError(
                f"{type(self).__name__}() missing required keyword arguments: {', '.join(missing)}"
            )
        own = set(BatchJobProps.__annotations__) - set(JobOptions.__annotations__)
        options = {name: value for name, value in props.items() if name not in own}
        super().__init__(scope, id, cast("JobOptions", options))
        self._batch = props

    def _batch_errors(self) -> list[str]:
        props = self._batch
        version, filter_arn, storage = (
            props["solution_version_arn"],
            props.get("filter_arn"),
            props.get("storage"),
        )
        segments = self.kind is contract.BATCH_SEGMENT
        place = v.stack_place(self._stack)
        errors = [
            *v.check_personalize_arn("solution_version_arn", version, v.SOLUTION_VERSION, place),
            *v.check_personalize_arn("filter_arn", filter_arn, v.FILTER, place),
            *self._input_errors("input_path", props["input_path"], storage),
            *self._results_errors(storage, props.get("output_prefix")),
            *(
                v.check_num_results(props.get("num_results"), v.MAX_SEGMENT_USERS, "per segment")
                if segments
                else v.check_num_results(props.get("num_results"))
            ),
        ]
        v.warn_arn_region(self, {"solution_version_arn": version, "filter_arn": filter_arn})
        recipe = upstream_recipe(version)
        if recipe is not None and (recipe in SEGMENTATION_RECIPES) != segments:
            errors.append(
                f"solution_version_arn comes from a SolutionVersion of a solution with the recipe {recipe}, "
                + (
                    "which makes recommendations, not user segments: use BatchInferenceJob"
                    if segments
                    else "which makes user segments: use BatchSegmentJob for it"
                )
            )
        return errors

    def _build_batch(self, values: Mapping[str, Any]) -> None:
        """``_build_results`` with the solution version, the input and the input key, and ``values``,
        the kind's own properties."""
        props = self._batch
        storage = props.get("storage") or BatchInferenceStorage(self, "Storage")
        input_key = storage.input_key
        version = props["solution_version_arn"]
        self._build_results(
            {
                "solution_version_arn": version,
                **values,
                "num_results": props.get("num_results"),
                "filter_arn": props.get("filter_arn"),
                "input_kms_key_arn": _reads.key_arn(input_key) if input_key else None,
            },
            storage=storage,
            output_prefix=props.get("output_prefix"),
            input=("input_path", props["input_path"]),
            # IAM may authorize the create against the version or against its solution (the Service
            # Authorization Reference lists `solution*` without saying which ARN): both are granted.
            source_resources=[version, solution_of_version(version)],
        )


def runtime_conflicts(
    job: Construct,
    runtime: PersonalizeJobRuntime | None,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
) -> list[str]:
    """``vpc`` belongs to the stack's runtime: a job may only create one that does not exist yet."""
    if vpc is None and vpc_subnets is None:
        return []
    existing = runtime or PersonalizeJobRuntime.find(job)
    if existing is None:
        return [] if vpc is not None else ["vpc_subnets was given without vpc; give the vpc too"]
    if existing.vpc is not None and vpc is not None and existing.vpc.node.addr == vpc.node.addr:
        return []
    return [
        f"vpc: the stack's jobs share one runtime ({existing.node.path}), which already exists with "
        f"{'another vpc' if existing.vpc else 'no vpc'}; give the vpc to PersonalizeJobRuntime(stack, "
        "vpc=...) once, before the jobs, and drop vpc from the jobs"
    ]


def default_output_prefix(job: Construct, root: str) -> str:
    """``<root><the job's construct path>/``, in characters safe in an S3 key; a path too long for
    Personalize's 256-character output path keeps its end and gains a hash of the whole."""
    path = re.sub(r"[^a-zA-Z0-9!\-_.*'()/]+", "-", job.node.path)
    prefix = f"{root}{path}/"
    if v.output_path_length(prefix, None) <= contract.MAX_S3_PATH_LENGTH:
        return prefix
    digest = hashlib.sha256(path.encode()).hexdigest()[:8]
    room = contract.MAX_S3_PATH_LENGTH - v.output_path_length(f"{root}{digest}-/", None)
    return f"{root}{digest}-{path[-room:].lstrip('/')}/"
