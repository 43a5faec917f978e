"""A weekly pipeline a team would deploy: every Monday morning, import the week's interactions, retrain,
then recompute the recommendations and the item audiences, without a deploy.

One schedule, on the import, drives the whole chain (issue 22): each scheduled import that ends ACTIVE
starts a training of each solution, and each training that ends ACTIVE runs the batch job made from its
version, on the new version. A week whose data did not change is skipped (a ``SKIPPED`` end event,
nothing billed), and so is everything after it. The first deploy runs the chain once, as any deploy does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceStorage,
    BatchSegmentJob,
    DatasetImportJob,
    SolutionVersion,
)

INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
# The first week's data, copied into the input bucket at deploy time; later weeks are uploaded under
# interactions/ by whatever collects them.
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "end_to_end"
# Mondays at 06:00 in Berlin (summer time included): the week's data has landed by then.
WEEKLY = scheduler.ScheduleExpression.cron(
    minute="0", hour="6", week_day="MON", time_zone=cdk.TimeZone.EUROPE_BERLIN
)


class WeeklyStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        group = personalize.CfnDatasetGroup(self, "DatasetGroup", name=f"{id}-shop")
        schema = personalize.CfnSchema(
            self, "InteractionsSchema", name=f"{id}-interactions", schema=json.dumps(INTERACTIONS_SCHEMA)
        )
        interactions = personalize.CfnDataset(
            self,
            "Interactions",
            dataset_group_arn=group.attr_dataset_group_arn,
            dataset_type="Interactions",
            name=f"{id}-interactions",
            schema_arn=schema.attr_schema_arn,
        )
        storage = BatchInferenceStorage(self, "Storage")
        storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
        weekly_import = DatasetImportJob(
            self,
            "WeeklyImport",
            dataset_arn=interactions.attr_dataset_arn,
            data_path="interactions/",
            storage=storage,
            schedule=WEEKLY,
        )

        recommendations = personalize.CfnSolution(
            self,
            "Recommendations",
            dataset_group_arn=group.attr_dataset_group_arn,
            name=f"{id}-recommendations",
            recipe_arn=USER_PERSONALIZATION,
        )
        recommendations.node.add_dependency(interactions)
        version = SolutionVersion(
            self, "RecommendationsVersion", solution_arn=recommendations.attr_solution_arn
        )
        # Trains after the deploy's import, and after each scheduled import that ends ACTIVE.
        version.node.add_dependency(weekly_import)
        BatchInferenceJob(
            self,
            "WeeklyRecommendations",
            solution_version_arn=version.solution_version_arn,
            input_path="users/",
            storage=storage,
            num_results=25,
        )

        segmentation = personalize.CfnSolution(
            self,
            "Segmentation",
            dataset_group_arn=group.attr_dataset_group_arn,
            name=f"{id}-segmentation",
            recipe_arn=ITEM_AFFINITY,
        )
        segmentation.node.add_dependency(interactions)
        segmentation_version = SolutionVersion(
            self, "SegmentationVersion", solution_arn=segmentation.attr_solution_arn
        )
        segmentation_version.node.add_dependency(weekly_import)
        BatchSegmentJob(
            self,
            "WeeklyAudiences",
            solution_version_arn=segmentation_version.solution_version_arn,
            input_path="items/",
            storage=storage,
            num_results=100,
        )


def build(app: cdk.App) -> None:
    WeeklyStack(app, "PersonalizeWeekly")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
