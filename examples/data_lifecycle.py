"""A dataset's data lifecycle in one stack: import it, erase the users who asked to be forgotten, and
export what remains to S3.

The users to erase come from a compliance team's bucket (SSE-S3: Personalize cannot read a data deletion
job's list from a bucket encrypted with a customer managed KMS key); the import and the export use the
storage the stack creates. The jobs chain: the deletion starts once the import has ended, and the export
once the deletion has.
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
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from constructs_lib import (
    BatchInferenceStorage,
    DataDeletionJob,
    DatasetExportIngestionMode,
    DatasetExportJob,
    DatasetImportJob,
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
# interactions/ (CSV: USER_ID,ITEM_ID,TIMESTAMP), copied into the input bucket the stack creates.
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "end_to_end"
# erase/users.csv (one USER_ID column): this deploy's deletion requests.
ERASE_REQUESTS = Path(__file__).resolve().parent / "data" / "data_lifecycle"
REQUESTS_BUCKET = "privacy-requests-123456789012"


class DataLifecycleStack(cdk.Stack):
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
        load = DatasetImportJob(
            self,
            "ImportInteractions",
            dataset_arn=interactions.attr_dataset_arn,
            data_path="interactions/",
            storage=storage,
        )

        # The compliance team's bucket (SSE-S3), brought as it is: its bucket policy must let
        # personalize.amazonaws.com read erase/ (the construct says so in a warning).
        requests = s3.Bucket.from_bucket_name(self, "RequestsBucket", REQUESTS_BUCKET)
        privacy = BatchInferenceStorage(
            self, "PrivacyRequests", input_bucket=requests, output_bucket=requests
        )
        privacy.deploy_input("EraseRequests", sources=[s3deploy.Source.asset(str(ERASE_REQUESTS))])
        cdk.Annotations.of(privacy).acknowledge_warning(
            "constructs-lib:outputBucketPolicy",
            "Only a data deletion job uses this storage, and it writes nothing to the output bucket.",
        )
        erase = DataDeletionJob(
            self,
            "EraseRequestedUsers",
            dataset_group_arn=group.attr_dataset_group_arn,
            data_path="erase/users.csv",
            storage=privacy,
        )
        erase.node.add_dependency(load)

        export = DatasetExportJob(
            self,
            "ExportInteractions",
            dataset_arn=interactions.attr_dataset_arn,
            storage=storage,
            ingestion_mode=DatasetExportIngestionMode.ALL,
        )
        export.node.add_dependency(erase)


def build(app: cdk.App) -> None:
    DataLifecycleStack(
        app, "PersonalizeDataLifecycle", env=cdk.Environment(account="123456789012", region="us-east-1")
    )


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
