"""Usage: storage, a weekly batch inference job, and a function that reads its results once it has ended."""

import os

# Before aws_cdk is imported: jsii, which runs the CDK on Node.js, would print an end-of-life banner
# on Node 20. Another Node version, or a value you set, is left alone.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from constructs_lib import BatchInferenceJob, BatchInferenceStorage

app = cdk.App()
stack = cdk.Stack(app, "Recommendations")

storage = BatchInferenceStorage(stack, "Storage")  # KMS keys, input and output buckets, Personalize's role
job = BatchInferenceJob(
    stack,
    "Weekly",
    solution_version_arn="arn:aws:personalize:us-east-1:123456789012:solution/my-solution/1a2b3c4d",
    input_path="users/",  # a key, or a prefix ending with "/", in storage.input_bucket
    storage=storage,
    num_results=50,
    tags={"team": "recs"},
)

# Your code that uses the recommendations: here a function that reads them.
consumer = lambda_.Function(
    stack,
    "Consumer",
    runtime=lambda_.Runtime.PYTHON_3_14,
    handler="index.handler",
    code=lambda_.Code.from_inline(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'results': os.environ['RESULTS'], 'manifest': os.environ['MANIFEST']}\n"
    ),
    environment={"RESULTS": job.output_s3_uri, "MANIFEST": job.manifest_uri},
)
storage.grant_read_output(consumer)  # S3 read and KMS decrypt on the results
consumer.node.add_dependency(job)  # deployed only once the job has ended ACTIVE

cdk.CfnOutput(stack, "Results", value=job.output_s3_uri)  # s3:// prefix of this run's .out files
cdk.CfnOutput(stack, "Manifest", value=job.manifest_uri)  # latest.json, rewritten after each successful run
app.synth()
