#!/usr/bin/env python3
"""The demo app: one storage, one batch inference job, held until the job ends.

Placeholders come from cdk.json context and can be overridden:
    npx cdk deploy -c solutionVersionArn=arn:aws:personalize:... -c inputPath=users/
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage


class PersonalizeBatchInferenceDemo(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, solution_version_arn: str, input_path: str) -> None:
        super().__init__(scope, id, description="Amazon Personalize batch inference (constructs_lib demo)")
        storage = BatchInferenceStorage(self, "Storage")
        job = BatchInferenceJob(
            self,
            "Job",
            solution_version_arn=solution_version_arn,
            input_path=input_path,
            storage=storage,
            num_results=25,
            tags={"project": "constructs-lib-demo"},
            timeout=cdk.Duration.hours(6),
        )
        cdk.CfnOutput(self, "InputBucket", value=storage.input_bucket.bucket_name)
        cdk.CfnOutput(self, "JobArn", value=job.job_arn)
        cdk.CfnOutput(self, "OutputS3Uri", value=job.output_s3_uri)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    PersonalizeBatchInferenceDemo(
        app,
        "PersonalizeBatchInferenceDemo",
        solution_version_arn=app.node.get_context("solutionVersionArn"),
        input_path=app.node.get_context("inputPath"),
    )
    return app


if __name__ == "__main__":
    build_app().synth()
