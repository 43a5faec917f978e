"""Two jobs sharing one storage, and a consumer Lambda granted read access to the results.

The consumer depends on both jobs, so it is deployed only once both have ended ACTIVE.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage
from constructs_lib._acknowledge import acknowledge, nag_resource

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/user-personalization/1a2b3c4d"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/exclude-purchased"

CONSUMER_CODE = """
import os

def handler(event, context):
    # event: the job's end event; read the recommendations under OUTPUT_URIS with boto3.
    return {"outputs": os.environ["OUTPUT_URIS"].split(",")}
"""


class SharedStorageStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        storage = BatchInferenceStorage(self, "Storage")
        weekly = BatchInferenceJob(
            self,
            "WeeklyRecommendations",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="weekly/users.json",
            storage=storage,
            num_results=50,
            filter_arn=FILTER_ARN,
            item_exploration={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
            tags={"team": "recs", "cadence": "weekly"},
        )
        fresh = BatchInferenceJob(
            self,
            "FreshRecommendations",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="fresh/",
            storage=storage,
            ranking_influence={"FRESHNESS": 0.8, "POPULARITY": 0.1},
            timeout=cdk.Duration.hours(2),
        )

        log_group = logs.LogGroup(self, "ConsumerLogs", retention=logs.RetentionDays.THREE_MONTHS)
        role = iam.Role(self, "ConsumerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        consumer = lambda_.Function(
            self,
            "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(CONSUMER_CODE),
            memory_size=128,
            timeout=cdk.Duration.seconds(30),
            role=role,
            log_group=log_group,
            environment={"OUTPUT_URIS": cdk.Fn.join(",", [weekly.output_s3_uri, fresh.output_s3_uri])},
        )
        storage.grant_read_output(consumer)
        consumer.node.add_dependency(weekly, fresh)
        weekly.on_state_change("Ended", target=targets.LambdaFunction(consumer))

        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, storage.output_bucket.arn_for_objects('*'))}]",
            "The consumer reads every result file the jobs write; their keys are chosen at deploy time.",
        )


def build(app: cdk.App) -> None:
    SharedStorageStack(app, "PersonalizeSharedStorage")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
