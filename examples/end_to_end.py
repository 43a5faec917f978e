"""From data to recommendations and segments in one deployment: import, train, then run the jobs.

A dataset group, its Interactions schema and dataset, and two solutions are native
``aws_personalize`` resources. The jobs chain: the import ends before either training starts, and
each batch job waits for its solution version's training and runs again after each new training.
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
# Copied into the input bucket at deploy time: interactions/, users/ and items/.
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "end_to_end"


class EndToEndStack(cdk.Stack):
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
        # The sample data ships with the app: interactions/ (CSV: USER_ID,ITEM_ID,TIMESTAMP, 1,500 rows of 60
        # users, above Personalize's minimum for training), users/ and items/ (JSON lines for the batch jobs).
        # The deployment copies it into the input bucket the stack creates, and every job of the storage
        # waits for the copy: the first deploy imports, trains and runs the jobs on it.
        storage.deploy_input("SampleData", sources=[s3deploy.Source.asset(str(SAMPLE_DATA))])
        import_job = DatasetImportJob(
            self,
            "ImportInteractions",
            dataset_arn=interactions.attr_dataset_arn,
            data_path="interactions/",
            storage=storage,
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
        # Training must see the imported data: it starts once the import has ended ACTIVE.
        version.node.add_dependency(import_job)
        BatchInferenceJob(
            self,
            "UserRecommendations",
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
        segmentation_version.node.add_dependency(import_job)
        BatchSegmentJob(
            self,
            "ItemAudiences",
            solution_version_arn=segmentation_version.solution_version_arn,
            input_path="items/",
            storage=storage,
            num_results=100,
        )


def build(app: cdk.App) -> None:
    EndToEndStack(app, "PersonalizeEndToEnd")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
