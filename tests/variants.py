"""Versions of one app, synthesized to cloud assemblies, for update rehearsals and lifecycle fuzzing.

A version changes what users change between deploys: num_results, the filter, tags, the timeout, wait
on or off, an explicit job name, the run token, a second job added or removed, storage brought or
created. Every version of one ``family`` shares stack and construct ids, so that deploying one after
another is an update of the same stack, as CloudFormation sees it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/fuzz/1a2b3c4d"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/no-bought"
ACCOUNT, REGION = "123456789012", "us-east-1"
STACK = "Lifecycle"
# A created storage starts empty: its versions ship their input (users/ for Job, items/ for Second).
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "examples" / "data" / "end_to_end"


@dataclass(frozen=True)
class Version:
    """One version of the app: the props of its job(s) and storage."""

    num_results: int = 25
    filter: bool = False
    tags: str = "recs"
    timeout_hours: int = 6
    wait: bool = True
    job_name: str | None = None
    run_token: str | None = None
    second_job: bool = False
    brought_storage: bool = False

    def label(self) -> str:
        changed = {key: value for key, value in asdict(self).items() if value != getattr(BASE, key)}
        return ",".join(f"{key}={value}" for key, value in sorted(changed.items())) or "base"


BASE = Version()

# What the fuzzing walks between: each differs from the base in one or two ways.
VERSIONS: tuple[Version, ...] = (
    BASE,
    replace(BASE, num_results=50),
    replace(BASE, filter=True),
    replace(BASE, tags="growth"),
    replace(BASE, timeout_hours=2),
    replace(BASE, wait=False),
    replace(BASE, wait=False, tags="growth"),
    replace(BASE, job_name="nightly-recs"),
    replace(BASE, job_name="nightly-recs", tags="growth"),
    replace(BASE, job_name="nightly-recs", num_results=50),
    replace(BASE, run_token="2"),
    replace(BASE, second_job=True),
    replace(BASE, brought_storage=True),
    replace(BASE, wait=False, second_job=True),
    replace(BASE, wait=False, second_job=True, tags="growth"),
    replace(BASE, job_name="weekly-recs", wait=False),
)


def build(app: object, version: Version) -> None:
    """The app of ``version``: one stack, its storage, a job (a second one), a queue waiting for the job."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_s3_deployment as s3deploy
    from aws_cdk import aws_sqs as sqs

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    assert isinstance(app, cdk.App)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    if version.brought_storage:
        key = kms.Key.from_key_arn(stack, "BroughtKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-2222")
        storage = BatchInferenceStorage(
            stack,
            "BroughtStorage",
            input_bucket=s3.Bucket.from_bucket_attributes(
                stack, "In", bucket_name="brought-in", encryption_key=key
            ),
            output_bucket=s3.Bucket.from_bucket_attributes(
                stack, "Out", bucket_name="brought-out", encryption_key=key
            ),
            role=iam.Role.from_role_arn(stack, "Role", f"arn:aws:iam::{ACCOUNT}:role/brought-personalize"),
        )
    else:
        storage = BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)
        storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
    job = BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="users/",
        storage=storage,
        num_results=version.num_results,
        filter_arn=FILTER_ARN if version.filter else None,
        tags={"team": version.tags},
        timeout=cdk.Duration.hours(version.timeout_hours),
        wait=version.wait,
        job_name=version.job_name,
        run_token=version.run_token,
    )
    # A sibling that waits for the job: failing it rolls an update back after the job's own update.
    queue = sqs.Queue(stack, "Downstream", enforce_ssl=True)
    queue.node.add_dependency(job)
    if version.second_job:
        BatchInferenceJob(
            stack, "Second", solution_version_arn=SOLUTION_VERSION_ARN, input_path="items/", storage=storage
        )


def synthesize_one(outdir: Path, version: Version) -> Path:
    """The cloud assembly of ``version`` in ``outdir``."""
    import aws_cdk as cdk

    app = cdk.App(outdir=str(outdir))
    build(app, version)
    app.synth()
    (outdir / "version.json").write_text(json.dumps(asdict(version)))
    return outdir


def synthesize_all(directory: Path, versions: Iterable[Version] = VERSIONS) -> dict[Version, Path]:
    """Each version's cloud assembly under ``directory`` (one process, jsii started once)."""
    return {
        version: synthesize_one(directory / f"v{index:02d}", version)
        for index, version in enumerate(versions)
    }
