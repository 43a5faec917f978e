"""Integration test in a real account: a batch inference job that succeeds, and one that fails.

An aws-cdk integ-tests app (``IntegTest``, assertions made by AWS API calls from an assertion stack),
run by integ-runner: it synthesizes this file with ``python <file>`` in this directory, compares the
test stacks with ``integ_batch_inference.py.snapshot/``, and with ``--force`` deploys each test case,
runs its assertions and destroys it. From the repository root, in the activated virtualenv (the app
and the clean-up hook run as ``python``)::

    aws ssm put-parameter --name /constructs-lib/integ/solution-version-arn --type String \\
        --value arn:aws:personalize:<region>:<account>:solution/<solution>/<version id>
    AWS_REGION=<region> npx integ-runner --directory tests/integ --language python \\
        --parallel-regions <region> --force

Two test cases, one stack each:

``Succeeds/DefaultTest`` (stack ``IntegBatchInferenceSucceeds``): a ``BatchInferenceStorage`` whose
input bucket receives five users at deploy time (an ``AwsCustomResource`` PutObject, allowed by the
library's own ``storage.grant_write_input``), one ``BatchInferenceJob`` on them, and the job's end event
routed to an SQS queue by ``job.on_state_change``. The deploy itself shows the job ended ACTIVE (its
WaitCondition holds the stack until then); the assertions check what a user relies on afterwards:
DescribeBatchInferenceJob says ACTIVE, the results ``users.json.out`` exist under the job's output
prefix, and the end event reached the queue (polled with ``wait_for_assertions``).

``FailsWithTheJobsReason`` (stack ``IntegBatchInferenceFails``): a job whose input file does not exist.
The library promises that such a deploy fails with the job's own failure reason, and integ-tests can
say exactly that: the case's ``cdk_command_options.deploy`` has ``expect_error`` and an
``expected_message`` that integ-runner matches against the deploy error, which ends with the failed
WaitCondition's reason (the monitor's signal: ``The batch inference job failed: <Personalize's
failureReason>``). An assertion could not: integ-runner deploys a case's assertion stack only after its
test stacks deployed. The case is an ``IntegTestCaseStack`` because these options are per test case;
an app holds one ``IntegTest`` (a second one would overwrite the first in integ.json).

The solution version comes from the SSM parameter ``/constructs-lib/integ/solution-version-arn`` of the
test's account and region, resolved by CloudFormation at deploy time: integ-runner passes no ``-c``
options, and an ARN written into the templates would differ from the snapshot on every real run. For a
plain ``cdk deploy --app "python integ_batch_inference.py"``, ``-c integSolutionVersionArn=arn:...``
overrides it. The solution must take user ids as input (User-Personalization, Popularity-Count).

Test stacks have ``stack_update_workflow=False``: deploying the previous snapshot first would run every
job twice; integ-runner then keeps no copy of their assets in the snapshot either.

The storages use RemovalPolicy.DESTROY, but S3 deletes only empty buckets, and the output bucket holds
the results: each case's pre-destroy hook (``python integ_batch_inference.py --empty-buckets <stack>``)
stops access log delivery into the stack's buckets and deletes every object version in them. Hooks run
with integ-runner's own environment, hence ``AWS_REGION`` above.

``python tests/integ/snapshot.py`` rewrites the snapshot offline; ``tests/test_integ.py`` checks it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# Before aws_cdk is imported: jsii's end-of-life banner for Node 20 stays out of the run's output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import cloud_assembly_schema as schema
from aws_cdk import custom_resources as cr
from aws_cdk import integ_tests_alpha as integ

from constructs_lib import BatchInferenceJob, BatchInferenceStorage

SOLUTION_VERSION_PARAMETER = "/constructs-lib/integ/solution-version-arn"
SUCCEEDS_STACK = "IntegBatchInferenceSucceeds"
FAILS_STACK = "IntegBatchInferenceFails"
INPUT_KEY = "users/users.json"
MISSING_INPUT_KEY = "missing/users.json"
USERS = [f"integ-user-{n}" for n in range(1, 6)]
OUTPUT_PREFIX = "integ/"
NUM_RESULTS = 10
# A small job takes tens of minutes, most of them queued and starting; a stuck one fails the test
# long before the default six hours.
JOB_TIMEOUT = cdk.Duration.hours(2)
EXPECTED_FAILURE = r"The batch inference job failed: \S"
EVENT_SOURCE = "constructs_lib.personalize"
EVENT_DETAIL_TYPE = "Personalize Batch Inference Job State Change"


def solution_version_arn(stack: cdk.Stack) -> str:
    """``-c integSolutionVersionArn=...`` if given, else the SSM parameter, resolved at deploy time.

    Not ``solutionVersionArn``: the repository's cdk.json sets that one to the demo's placeholder.
    """
    given = stack.node.try_get_context("integSolutionVersionArn")
    if given:
        return str(given)
    return ssm.StringParameter.value_for_string_parameter(stack, SOLUTION_VERSION_PARAMETER)


def empty_buckets_hook(stack_name: str) -> schema.Hooks:
    # integ-runner runs hooks in this file's directory.
    return schema.Hooks(pre_destroy=[f"python {Path(__file__).name} --empty-buckets {stack_name}"])


def fails_with_the_jobs_reason(app: cdk.App) -> integ.IntegTestCaseStack:
    stack = integ.IntegTestCaseStack(
        app,
        "FailsWithTheJobsReason",
        stack_name=FAILS_STACK,
        stack_update_workflow=False,
        cdk_command_options=schema.CdkCommands(
            deploy=schema.DeployCommand(expect_error=True, expected_message=EXPECTED_FAILURE)
        ),
        hooks=empty_buckets_hook(FAILS_STACK),
    )
    storage = BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)
    BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=solution_version_arn(stack),
        input_path=MISSING_INPUT_KEY,
        storage=storage,
        output_prefix=OUTPUT_PREFIX,
        timeout=JOB_TIMEOUT,
    )
    # integ-tests gives a case stack two assertion stacks (its own and its test case's). Both stay
    # empty: this case's deploy must fail, so there is nothing to assert afterwards.
    for child in stack.node.find_all():
        if isinstance(child, cdk.Stack) and child is not stack:
            cdk.Validations.of(child).acknowledge(
                cdk.Acknowledgment(
                    id="CloudFormation-Validate::F0001",
                    reason="Empty assertion stack of a test case whose deploy is expected to fail; "
                    "integ-runner never deploys it.",
                )
            )
    return stack


def build(app: cdk.App) -> integ.IntegTest:
    """The whole integ app: the ``Succeeds`` test with its assertions, and the failing case."""
    failing_case = fails_with_the_jobs_reason(app)
    stack = cdk.Stack(app, SUCCEEDS_STACK)
    storage = BatchInferenceStorage(stack, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)
    upload = cr.AwsCustomResource(
        stack,
        "Input",
        on_create=cr.AwsSdkCall(
            service="S3",
            action="putObject",
            parameters={
                "Bucket": storage.input_bucket.bucket_name,
                "Key": INPUT_KEY,
                "Body": "".join(json.dumps({"userId": user}) + "\n" for user in USERS),
            },
            physical_resource_id=cr.PhysicalResourceId.of(INPUT_KEY),
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
            resources=[storage.input_bucket.arn_for_objects(INPUT_KEY)]
        ),
        install_latest_aws_sdk=False,
        # Its function's log group would otherwise be kept (integ-runner's feature flags create one).
        log_group=logs.LogGroup(
            stack,
            "InputLogs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        ),
    )
    # The library's own grant (PutObject and the input key), in place before the upload runs.
    storage.grant_write_input(upload).apply_before(upload)
    job = BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=solution_version_arn(stack),
        input_path=INPUT_KEY,
        storage=storage,
        output_prefix=OUTPUT_PREFIX,
        num_results=NUM_RESULTS,
        timeout=JOB_TIMEOUT,
    )
    job.node.add_dependency(upload)
    end_events = sqs.Queue(stack, "EndEvents", enforce_ssl=True, retention_period=cdk.Duration.hours(12))
    job.on_state_change("Ended", target=targets.SqsQueue(end_events))

    test = integ.IntegTest(
        app,
        "Succeeds",
        test_cases=[stack, failing_case],
        stack_update_workflow=False,
        hooks=empty_buckets_hook(SUCCEEDS_STACK),
    )
    test.assertions.aws_api_call(
        "Personalize", "describeBatchInferenceJob", {"batchInferenceJobArn": job.job_arn}
    ).expect(
        integ.ExpectedResult.object_like(
            {"batchInferenceJob": {"batchInferenceJobArn": job.job_arn, "status": "ACTIVE"}}
        )
    )

    listing = test.assertions.aws_api_call(
        "S3", "listObjectsV2", {"Bucket": storage.output_bucket.bucket_name, "Prefix": OUTPUT_PREFIX}
    )
    # The SDK's ListObjectsV2 is the IAM action s3:ListBucket (listing needs no key).
    listing.provider.add_to_role_policy(
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [storage.output_bucket.bucket_arn]}
    )
    # Each run writes under <output_prefix><job name>/, and Personalize names the results <input file>.out.
    results_key = f"{OUTPUT_PREFIX}{job.job_name}/{INPUT_KEY.rsplit('/', 1)[-1]}.out"
    listing.expect(
        integ.ExpectedResult.object_like(
            {"Contents": integ.Match.array_with([integ.Match.object_like({"Key": results_key})])}
        )
    )

    end_event = integ.Match.object_like(
        {
            "source": EVENT_SOURCE,
            "detail-type": EVENT_DETAIL_TYPE,
            "detail": {"jobArn": job.job_arn, "status": "ACTIVE", "result": "SUCCESS"},
        }
    )
    test.assertions.aws_api_call(
        "SQS",
        "receiveMessage",
        {"QueueUrl": end_events.queue_url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 10},
    ).expect(
        integ.ExpectedResult.object_like(
            {
                "Messages": integ.Match.array_with(
                    [integ.Match.object_like({"Body": integ.Match.serialized_json(end_event)})]
                )
            }
        )
    ).wait_for_assertions(total_timeout=cdk.Duration.minutes(5), interval=cdk.Duration.seconds(20))
    return test


# ------------------------------------------------------------------- the pre-destroy hook


def empty_buckets(stack_name: str) -> None:
    """Make the stack's buckets deletable: no more access log delivery, no object version left."""
    import boto3
    from botocore.exceptions import ClientError

    cloudformation, s3 = boto3.client("cloudformation"), boto3.resource("s3")
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        resources = [r for page in pages for r in page["StackResourceSummaries"]]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        print(f"{stack_name}: no such stack, nothing to empty")
        return
    for resource in resources:
        name = resource.get("PhysicalResourceId")
        if resource["ResourceType"] != "AWS::S3::Bucket" or not name:
            continue
        try:
            _stop_log_delivery(s3.BucketPolicy(name))
            # DeleteObjects reports the objects it could not delete in its answer, not as an error.
            failed = [
                e for answer in s3.Bucket(name).object_versions.delete() for e in answer.get("Errors", [])
            ]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
            continue
        if failed:
            raise RuntimeError(f"{stack_name}: could not empty {name}: {failed[:3]}")
        print(f"{stack_name}: emptied {name}")


def _stop_log_delivery(policy: Any) -> None:
    """Drop the statement letting S3 deliver access logs, so that none arrive once the bucket is empty."""
    from botocore.exceptions import ClientError

    try:
        document = json.loads(policy.policy)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return
        raise
    statements = document["Statement"]
    kept = [s for s in statements if not _delivers_logs(s)]
    if kept and len(kept) < len(statements):
        policy.put(Policy=json.dumps({**document, "Statement": kept}))


def _delivers_logs(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    return "logging.s3.amazonaws.com" in ([services] if isinstance(services, str) else services)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--empty-buckets"] and len(argv) == 2:
        empty_buckets(argv[1])
        return
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main(sys.argv[1:])
