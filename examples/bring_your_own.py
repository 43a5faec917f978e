"""Brought bucket, key and role: an existing data platform's storage, used as it is.

The construct cannot change policies of imported resources; it reports what they need as warnings.
"""

from __future__ import annotations

import os

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/user-personalization/1a2b3c4d"
DATA_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE_ARN = "arn:aws:iam::123456789012:role/data-platform/personalize-batch"


class BringYourOwnStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        key = kms.Key.from_key_arn(self, "DataKey", DATA_KEY_ARN)
        storage = BatchInferenceStorage(
            self,
            "Storage",
            input_bucket=s3.Bucket.from_bucket_attributes(
                self, "Curated", bucket_name="data-platform-curated", encryption_key=key
            ),
            output_bucket=s3.Bucket.from_bucket_attributes(
                self, "Serving", bucket_name="data-platform-serving", encryption_key=key
            ),
            # One key serves both buckets; the role is managed by the platform team.
            input_key=key,
            output_key=key,
            role=iam.Role.from_role_arn(self, "PersonalizeRole", ROLE_ARN, mutable=False),
        )
        BatchInferenceJob(
            self,
            "NightlyRecommendations",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="personalize/nightly/",
            output_prefix="personalize/recommendations/",
            storage=storage,
            job_name="nightly-recommendations",
            tags={"owner": "data-platform"},
        )


def build(app: cdk.App) -> None:
    BringYourOwnStack(
        app, "PersonalizeBringYourOwn", env=cdk.Environment(account="123456789012", region="us-east-1")
    )


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
