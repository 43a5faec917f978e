#!/usr/bin/env python3
"""The demo app: one storage, one batch inference job, held until the job ends.

Placeholders come from cdk.json context and can be overridden. The input ships with the app: the
storage copies examples/data/demo (users/users.json, 20 users) into the input bucket it creates, and the
job waits for the copy, so a first deploy finds its input:
    npx cdk deploy -c solutionVersionArn=arn:aws:personalize:...
To run on your own users instead, leave the sample out and upload the file between two deploys:
    npx cdk deploy -c withJob=false -c withSampleInput=false
    aws s3 cp users.json s3://<InputBucket output>/users/users.json
    npx cdk deploy -c withSampleInput=false -c solutionVersionArn=arn:aws:personalize:... -c inputPath=users/
"""

from __future__ import annotations

import os
from pathlib import Path

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage

# Copied into the input bucket at deploy time: users/users.json, 20 JSON lines of {"userId": ...}.
SAMPLE_INPUT = Path(__file__).resolve().parent / "examples" / "data" / "demo"


class PersonalizeBatchInferenceDemo(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        solution_version_arn: str,
        input_path: str,
        with_job: bool = True,
        with_sample_input: bool = True,
        run_token: str | None = None,
    ) -> None:
        super().__init__(scope, id, description="Amazon Personalize batch inference (constructs_lib demo)")
        storage = BatchInferenceStorage(self, "Storage")
        if with_sample_input:
            # The bucket the stack creates starts empty: the sample users ship with the app.
            storage.deploy_input("SampleInput", sources=[s3deploy.Source.asset(str(SAMPLE_INPUT))])
        cdk.CfnOutput(self, "InputBucket", value=storage.input_bucket.bucket_name)
        if not with_job:
            return
        job = BatchInferenceJob(
            self,
            "Job",
            solution_version_arn=solution_version_arn,
            input_path=input_path,
            storage=storage,
            num_results=25,
            tags={"project": "constructs-lib-demo"},
            timeout=cdk.Duration.hours(6),
            run_token=run_token,
        )
        cdk.CfnOutput(self, "JobArn", value=job.job_arn)
        cdk.CfnOutput(self, "OutputS3Uri", value=job.output_s3_uri)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    PersonalizeBatchInferenceDemo(
        app,
        "PersonalizeBatchInferenceDemo",
        solution_version_arn=app.node.get_context("solutionVersionArn"),
        input_path=app.node.get_context("inputPath"),
        with_job=str(app.node.try_get_context("withJob")).lower() != "false",
        with_sample_input=str(app.node.try_get_context("withSampleInput")).lower() != "false",
        run_token=app.node.try_get_context("runToken"),
    )
    return app


if __name__ == "__main__":
    build_app().synth()
