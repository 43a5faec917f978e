"""Theme generation: similar-items recommendations grouped under generated themes, with a fixed name."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceJobMode

SIMILAR_ITEMS_SOLUTION_VERSION_ARN = (
    "arn:aws:personalize:us-east-1:123456789012:solution/similar-items/5e6f7a8b"
)


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
        cdk.CfnOutput(self, "ThemesS3Uri", value=job.output_s3_uri)


def build(app: cdk.App) -> None:
    ThemeGenerationStack(app, "PersonalizeThemeGeneration")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
