"""Two jobs sharing one storage, and a consumer Lambda granted read access to the results.

The consumer depends on both jobs, so it is deployed only once both have ended ACTIVE.
"""

from __future__ import annotations

import os
from pathlib import Path

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage
from constructs_lib.compliance import acknowledge, nag_resource

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/user-personalization/1a2b3c4d"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/exclude-purchased"
# Copied into the input bucket at deploy time: weekly/users.json and fresh/users.json.
SAMPLE_INPUT = Path(__file__).resolve().parent / "data" / "shared_storage"

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
        # The input bucket the stack creates starts empty: the input ships with the app, and both jobs
        # wait for the copy.
        storage.deploy_input("SampleInput", sources=[s3deploy.Source.asset(str(SAMPLE_INPUT))])
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

        consumer = self._consumer(storage, [weekly, fresh])
        consumer.node.add_dependency(weekly, fresh)

    def _consumer(self, storage: BatchInferenceStorage, jobs: list[BatchInferenceJob]) -> lambda_.Function:
        """A function reading the jobs' results, started by the weekly job's end event."""
        logs_key = kms.Key(self, "ConsumerLogsKey", enable_key_rotation=True)
        logs_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        log_group = logs.LogGroup(
            self, "ConsumerLogs", retention=logs.RetentionDays.THREE_MONTHS, encryption_key=logs_key
        )
        # Events that could not be delivered or processed land here instead of being lost.
        dead_letters = sqs.Queue(
            self,
            "ConsumerDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue; it has no further queue to redrive to.",
        )
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
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=dead_letters,
            environment={"OUTPUT_URIS": cdk.Fn.join(",", [job.output_s3_uri for job in jobs])},
        )
        storage.grant_read_output(consumer)
        jobs[0].on_state_change(
            "Ended", target=targets.LambdaFunction(consumer, dead_letter_queue=dead_letters)
        )

        policy = role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, storage.output_bucket.arn_for_objects('*'))}]",
            "The consumer reads every result file the jobs write; their keys are chosen at deploy time.",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray trace writes support no resource-level permissions.",
        )
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                policy,
                f"{pack}-IAMNoInlinePolicy",
                "CDK grants (storage.grant_read_output, log and trace permissions) write the role's default "
                "policy, each statement scoped to this example's bucket, key and log group.",
            )
            acknowledge(
                consumer,
                f"{pack}-LambdaInsideVPC",
                "The example consumer reads S3 only; place it in a VPC with an S3 endpoint if you need to.",
            )
            if pack != "PCI.DSS.321":
                acknowledge(
                    consumer,
                    f"{pack}-LambdaConcurrency",
                    "Reserved concurrency would take from the account's unreserved pool; new accounts "
                    "refuse any reservation.",
                )
        return consumer


def build(app: cdk.App) -> None:
    SharedStorageStack(app, "PersonalizeSharedStorage")


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
