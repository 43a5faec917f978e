"""A job in one stack, its reader in another: the consumer imports only attributes that stay the same.

``results_prefix_uri`` and ``manifest_uri`` name the job's output prefix and its ``latest.json``, the
same for every run, so a new run never has to update the export. ``output_s3_uri`` names one run and
changes with each; CloudFormation refuses to change an export another stack imports, so it must
not cross stacks.
"""

from __future__ import annotations

import os
from pathlib import Path

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import BatchInferenceJob, BatchInferenceStorage
from constructs_lib.compliance import acknowledge

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/user-personalization/1a2b3c4d"
# Copied into the input bucket at deploy time: daily/users.json.
SAMPLE_INPUT = Path(__file__).resolve().parent / "data" / "two_stacks"

READER_CODE = """
import json
import os

def handler(event, context):
    # latest.json names the newest successful run's result files, under RESULTS_PREFIX_URI.
    return {"manifest": os.environ["MANIFEST_URI"], "results": os.environ["RESULTS_PREFIX_URI"]}
"""


class ProducerStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, num_results: int = 20, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.storage = BatchInferenceStorage(self, "Storage")
        # The input bucket the stack creates starts empty: the input ships with the app.
        self.storage.deploy_input("SampleInput", sources=[s3deploy.Source.asset(str(SAMPLE_INPUT))])
        self.job = BatchInferenceJob(
            self,
            "DailyRecommendations",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="daily/",
            storage=self.storage,
            num_results=num_results,  # a change starts a new run: the consumer's imports stay as they are
        )


class ConsumerStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        storage: BatchInferenceStorage,
        job: BatchInferenceJob,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        logs_key = kms.Key(self, "ReaderLogsKey", enable_key_rotation=True)
        logs_key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        log_group = logs.LogGroup(
            self, "ReaderLogs", retention=logs.RetentionDays.THREE_MONTHS, encryption_key=logs_key
        )
        # Asynchronous invocations that fail land here instead of being lost.
        dead_letters = sqs.Queue(
            self,
            "ReaderDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue; it has no further queue to redrive to.",
        )
        role = iam.Role(self, "ReaderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        self.reader = lambda_.Function(
            self,
            "Reader",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(READER_CODE),
            memory_size=128,
            timeout=cdk.Duration.seconds(30),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=dead_letters,
            environment={
                # Stable across runs: safe to import. job.output_s3_uri is not.
                "RESULTS_PREFIX_URI": job.results_prefix_uri,
                "MANIFEST_URI": job.manifest_uri,
            },
        )
        storage.grant_read_output(self.reader)

        policy = role.node.find_child("DefaultPolicy")
        output_bucket_arn = _export_name(cdk.Stack.of(storage), storage.output_bucket.bucket_arn)
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{output_bucket_arn}/*]",
            "The reader reads the result files of every run, whose keys Personalize chooses at deploy time; "
            "the wildcard is limited to the producer's output bucket.",
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
                "policy, each statement scoped to the producer's output bucket and key and this log group.",
            )
            acknowledge(
                self.reader,
                f"{pack}-LambdaInsideVPC",
                "The reader calls only the S3 API; place it in a VPC with an S3 endpoint if you need to.",
            )
            if pack != "PCI.DSS.321":
                acknowledge(
                    self.reader,
                    f"{pack}-LambdaConcurrency",
                    "Reserved concurrency would take from the account's unreserved pool; new accounts "
                    "refuse any reservation.",
                )


def _export_name(producer: cdk.Stack, value: str) -> str:
    """The name of the export CDK makes when another stack uses ``producer``'s ``value``: cdk-nag names
    an imported ARN by it. ``export_value`` makes that same export, and its import says the name."""
    imported = producer.resolve(producer.export_value(value))
    return str(imported["Fn::ImportValue"])


def build(app: cdk.App, *, num_results: int = 20) -> None:
    producer = ProducerStack(app, "Producer", num_results=num_results)
    ConsumerStack(app, "Consumer", storage=producer.storage, job=producer.job)


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
