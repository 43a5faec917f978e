"""What the two batch job kinds share: input in the storage's input bucket, results under a prefix of
its output bucket, the attributes that name them, and the runtime's right to read them."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib import _reads
from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import PersonalizeJob
from constructs_lib.runtime import PersonalizeJobRuntime
from constructs_lib.solution_version import SEGMENTATION_RECIPES, solution_of_version, upstream_recipe
from constructs_lib.storage import BatchInferenceStorage


class BatchJob(PersonalizeJob):
    """Base of ``BatchInferenceJob`` and ``BatchSegmentJob``: results in S3."""

    storage: BatchInferenceStorage
    """The buckets, keys and role the job uses."""
    output_prefix: str
    """The prefix inside ``storage.output_bucket`` every run of this job writes its results under."""

    def _batch_errors(
        self,
        *,
        solution_version_arn: str,
        filter_arn: str | None,
        input_path: str,
        storage: BatchInferenceStorage | None,
        output_prefix: str | None,
        num_results: int | None,
        segments: bool,
    ) -> list[str]:
        place = v.stack_place(self._stack)
        input_bucket = _reads.bucket_name(storage.input_bucket) if storage else None
        output_bucket = _reads.bucket_name(storage.output_bucket) if storage else None
        errors = [
            *v.check_personalize_arn("solution_version_arn", solution_version_arn, v.SOLUTION_VERSION, place),
            *v.check_personalize_arn("filter_arn", filter_arn, v.FILTER, place),
            *v.check_input_path("input_path", input_path, input_bucket),
            *v.check_output_prefix(output_prefix, output_bucket),
            *(
                v.check_num_results(num_results, v.MAX_SEGMENT_USERS, "per segment")
                if segments
                else v.check_num_results(num_results)
            ),
        ]
        v.warn_arn_region(self, {"solution_version_arn": solution_version_arn, "filter_arn": filter_arn})
        recipe = upstream_recipe(solution_version_arn)
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

    def _build_batch(
        self,
        kind: Any,
        specific: Mapping[str, Any],
        *,
        solution_version_arn: str,
        input_path: str,
        storage: BatchInferenceStorage | None,
        output_prefix: str | None,
        output_root: str,
        num_results: int | None,
        filter_arn: str | None,
        job_name: str | None,
        tags: Mapping[str, str] | None,
        run_token: str | None,
        wait: bool,
        timeout: Duration,
        runtime: PersonalizeJobRuntime | None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        schedule: Any = None,
        schedule_enabled: bool = True,
        skip_unchanged: bool = True,
    ) -> None:
        self.storage = storage or BatchInferenceStorage(self, "Storage")
        storage = self.storage
        stack = self._stack
        runtime = (
            runtime
            or PersonalizeJobRuntime.find(stack)
            or PersonalizeJobRuntime(stack, vpc=vpc, vpc_subnets=vpc_subnets)
        )
        prefix = output_prefix if output_prefix is not None else default_output_prefix(self, output_root)
        self.output_prefix = prefix
        input_bucket = _reads.bucket_name(storage.input_bucket)
        properties = {
            "SolutionVersionArn": solution_version_arn,
            "InputPath": f"s3://{input_bucket}/{input_path}",
            "OutputBucket": _reads.bucket_name(storage.output_bucket),
            "OutputPrefix": prefix,
            "RoleArn": _reads.role_arn(storage.role),
            **specific,
            "InputKmsKeyArn": _reads.key_arn(storage.input_key) if storage.input_key else None,
            "OutputKmsKeyArn": _reads.key_arn(storage.output_key) if storage.output_key else None,
            "NumResults": num_results,
            "FilterArn": filter_arn,
        }
        made_from: dict[str, tuple[str, ...]] = {"InputPath": (input_bucket, input_path)}
        if output_prefix is None:  # the construct path in characters safe in an S3 key: literal text
            made_from["OutputPrefix"] = ()
        storage._job_reads_input(self)
        grants = runtime.grant_pass_role(storage.role, owner=storage).combine(
            runtime.grant_results(
                bucket=storage.output_bucket, key=storage.output_key, prefix=prefix, owner=storage
            )
        )
        self._build(
            kind,
            properties,
            job_name=job_name,
            tags=tags,
            run_token=run_token,
            wait=wait,
            timeout=timeout,
            runtime=runtime,
            depends_on=[storage, grants],
            # IAM may authorize the create against the version or against its solution (the Service
            # Authorization Reference lists `solution*` without saying which ARN): both are granted.
            source_resources=[solution_version_arn, solution_of_version(solution_version_arn)],
            made_from=made_from,
            schedule=schedule,
            schedule_enabled=schedule_enabled,
            skip_unchanged=skip_unchanged,
        )

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
        return self.resource.get_att_string("OutputS3Uri")

    @functools.cached_property
    def results_prefix_uri(self) -> str:
        """``s3://<output bucket>/<output_prefix>``: every run's results are under it. The same value for
        every run: safe to import into another stack."""
        return self.resource.get_att_string("ResultsPrefixUri")

    @functools.cached_property
    def manifest_uri(self) -> str:
        """``s3://<output bucket>/<output_prefix>latest.json``, which the monitor writes after each
        successful run: job ARN and name, output URI, the ``.out`` objects with their record counts,
        finished time. The same value for every run: safe to import into another stack."""
        return self.resource.get_att_string("ManifestUri")


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
