"""The job constructs' metrics and failure alarm name what the check function publishes."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from constructs_lib import BatchInferenceJob, BatchInferenceStorage, DatasetImportJob, SolutionVersion
from constructs_lib._metrics import names
from tests.handlers.testkit import LAMBDA_DIR  # noqa: F401  (puts lambda/ on sys.path)

import run_metrics  # isort: skip

ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"


def _stack() -> tuple[cdk.Stack, BatchInferenceJob]:
    stack = cdk.Stack(cdk.App(), "Recs", env=cdk.Environment(account="123456789012", region="us-east-1"))
    storage = BatchInferenceStorage(stack, "Storage")
    job = BatchInferenceJob(
        stack, "Weekly", solution_version_arn=f"{ARN}/1a2b", input_path="u/", storage=storage
    )
    return stack, job


def test_constructs_and_check_function_read_one_definition_of_the_metrics() -> None:
    for name in ("NAMESPACE", "STACK_DIMENSION", "JOB_DIMENSION", "RUNS_FAILED", "RUN_DURATION"):
        assert getattr(names, name) == getattr(run_metrics, name)


def test_a_jobs_metrics_carry_its_stack_name_and_logical_id() -> None:
    stack, job = _stack()
    metric = job.metric_runs_failed()
    assert (metric.namespace, metric.metric_name, metric.statistic) == (
        "CdkPersonalizeJobs",
        "RunsFailed",
        "Sum",
    )
    logical_id = stack.resolve(stack.get_logical_id(job.resource.node.default_child))  # type: ignore[arg-type]
    assert stack.resolve(metric.dimensions) == {"StackName": "Recs", "JobId": logical_id}
    template = Template.from_stack(stack).find_resources("Custom::PersonalizeBatchInferenceJob")
    assert list(template) == [logical_id]
    assert job.metric_run_duration().statistic == "Maximum"
    assert job.metric_records_written(period=cdk.Duration.hours(1)).period.to_seconds() == 3600
    assert job.metric_runs_succeeded().metric_name == "RunsSucceeded"


def test_alarm_on_failure_goes_off_on_one_failed_run_and_takes_an_sns_action() -> None:
    stack, job = _stack()
    topic = sns.Topic(stack, "Alerts", enforce_ssl=True)
    job.alarm_on_failure("Failed").add_alarm_action(cw_actions.SnsAction(topic))
    template = Template.from_stack(stack)
    logical_id = stack.resolve(stack.get_logical_id(job.resource.node.default_child))  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "CdkPersonalizeJobs",
            "MetricName": "RunsFailed",
            "Dimensions": Match.array_with(
                [{"Name": "JobId", "Value": logical_id}, {"Name": "StackName", "Value": "Recs"}]
            ),
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": Match.string_like_regexp("Alerts")}],
        },
    )


def test_every_kind_offers_the_metrics() -> None:
    stack, job = _stack()
    version = SolutionVersion(stack, "Version", solution_arn=ARN)
    imported = DatasetImportJob(
        stack,
        "Import",
        dataset_arn="arn:aws:personalize:us-east-1:123456789012:dataset/g/ITEMS",
        data_path="d/",
        storage=job.storage,
    )
    for each in (version, imported):
        dimensions = stack.resolve(each.metric_runs_failed().dimensions)
        assert dimensions["JobId"] == stack.resolve(stack.get_logical_id(each.resource.node.default_child))  # type: ignore[arg-type]
