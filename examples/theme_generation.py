"""Theme generation: similar-items recommendations grouped under generated themes.

No storage is given, so the job creates its own. Its name is generated (no ``job_name``): a new
``run_token`` starts a new run under a new name, which an explicit name would refuse. The deployment may
wait up to 12 hours for it.
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

from constructs_lib import BatchInferenceJob, BatchInferenceJobMode

SIMILAR_ITEMS_SOLUTION_VERSION_ARN = (
    "arn:aws:personalize:us-east-1:123456789012:solution/similar-items/5e6f7a8b"
)
# Copied into the job's input bucket at deploy time: items/seed-items.json (JSON lines of itemId).
SAMPLE_INPUT = Path(__file__).resolve().parent / "data" / "theme_generation"


class ThemeGenerationStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        # No storage given: the job creates its own secure storage.
        job = BatchInferenceJob(
            self,
            "CatalogThemes",
            solution_version_arn=SIMILAR_ITEMS_SOLUTION_VERSION_ARN,
            input_path="items/seed-items.json",
            mode=BatchInferenceJobMode.THEME_GENERATION,
            theme_item_name_field="TITLE",
            num_results=10,
            run_token="catalog-2026-11",
            timeout=cdk.Duration.hours(12),
        )
        # The bucket the job created starts empty: the seed items ship with the app, and the job waits
        # for the copy.
        job.storage.deploy_input("SeedItems", sources=[s3deploy.Source.asset(str(SAMPLE_INPUT))])
        cdk.CfnOutput(self, "ThemesS3Uri", value=job.output_s3_uri)


def build(app: cdk.App) -> None:
    ThemeGenerationStack(app, "PersonalizeThemeGeneration")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
