"""BatchInferenceJob: wiring, per-stack singletons, wait conditions, IAM, validation."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from constructs import Construct

from constructs_lib import (
    BatchInferenceJob,
    BatchInferenceJobMode,
    BatchInferenceStorage,
    PersonalizeJobRuntime,
)
from tests.conftest import FILTER_ARN, SOLUTION_VERSION_ARN

ENV = cdk.Environment(account="123456789012", region="us-east-1")
JOB_TYPE = "Custom::PersonalizeBatchInferenceJob"


class Stacks:
    """One app for the module: a full-featured job, three jobs sharing a stack, a job without wait."""

    def __init__(self) -> None:
        app = cdk.App()
        self.full = cdk.Stack(app, "Full", env=ENV)
        storage = BatchInferenceStorage(self.full, "Storage")
        self.job = BatchInferenceJob(
            self.full,
            "Job",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="users/",
            storage=storage,
            num_results=50,
            filter_arn=FILTER_ARN,
            item_exploration={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
            ranking_influence={"POPULARITY": 0.5, "FRESHNESS": 0.2},
            tags={"team": "recs", "cost-center": "42"},
            run_token="2026-11-23",
            timeout=cdk.Duration.hours(3),
        )
        self.queue = sqs.Queue(self.full, "Downstream", enforce_ssl=True)
        self.queue.node.add_dependency(self.job)
        self.rule = self.job.on_state_change("Ended", target=targets.SqsQueue(self.queue))

        self.three = cdk.Stack(app, "Three", env=ENV)
        shared = BatchInferenceStorage(self.three, "Storage")
        self.three_jobs = [
            BatchInferenceJob(
                self.three,
                f"Job{i}",
                solution_version_arn=SOLUTION_VERSION_ARN,
                input_path=f"part-{i}/",
                storage=shared,
            )
            for i in range(3)
        ]
        self.theme = cdk.Stack(app, "Theme", env=ENV)
        BatchInferenceJob(
            self.theme,
            "Themes",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="items.json",
            mode=BatchInferenceJobMode.THEME_GENERATION,
            theme_item_name_field="title",
            job_name="themes-for-catalog",
            wait=False,
        )
        # A consumer of one job's results and end events, the CDK way.
        self.events = cdk.Stack(app, "Events", env=ENV)
        self.events_job = BatchInferenceJob(
            self.events, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/"
        )
        self.reader = iam.Role(self.events, "Reader", assumed_by=iam.AccountRootPrincipal())
        self.read_grant = self.events_job.grant_read_results(self.reader)
        self.events_job.on_success("Succeeded", target=targets.SqsQueue(sqs.Queue(self.events, "Ok")))
        self.events_job.on_failure("Failed", description="failed runs")
        self.events_job.on_event(
            "Themed",
            event_pattern=events.EventPattern(detail={"status": ["ACTIVE"]}, account=["123456789012"]),
        )
        self.full_template = Template.from_stack(self.full)
        self.three_template = Template.from_stack(self.three)
        self.theme_template = Template.from_stack(self.theme)
        self.events_template = Template.from_stack(self.events)


@pytest.fixture(scope="module")
def stacks() -> Stacks:
    return Stacks()


def _job_properties(template: Template) -> dict[str, Any]:
    (resource,) = template.find_resources(JOB_TYPE).values()
    return resource["Properties"]


# ---------------------------------------------------------------- the custom resource


def test_job_is_one_custom_resource_with_every_api_field(stacks: Stacks) -> None:
    props = _job_properties(stacks.full_template)
    assert props["SolutionVersionArn"] == SOLUTION_VERSION_ARN
    assert props["FilterArn"] == FILTER_ARN
    assert props["NumResults"] == 50
    assert props["ItemExplorationConfig"] == {"explorationItemAgeCutOff": "30", "explorationWeight": "0.3"}
    assert props["RankingInfluence"] == {"FRESHNESS": 0.2, "POPULARITY": 0.5}
    assert props["Mode"] == "BATCH_INFERENCE"
    assert props["RunToken"] == "2026-11-23"
    assert props["Tags"] == [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "recs"}]
    # The monitor gives up 2 minutes before the WaitCondition's 3 hours, to report its own reason.
    assert props["TimeoutSeconds"] == "10680"


def test_job_reads_from_the_input_bucket_path_and_writes_under_a_per_job_prefix(stacks: Stacks) -> None:
    props = _job_properties(stacks.full_template)
    assert (
        stacks.full.resolve(stacks.job.storage.input_bucket.bucket_name) in props["InputPath"]["Fn::Join"][1]
    )
    assert props["InputPath"]["Fn::Join"][1][-1] == "/users/"
    assert props["OutputPrefix"] == "batch-inference/Full/Job/"
    assert props["OutputBucket"] == stacks.full.resolve(stacks.job.storage.output_bucket.bucket_name)


def test_default_output_prefix_follows_the_construct_path_of_each_job() -> None:
    stack = cdk.Stack(cdk.App(), "Paths", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage")
    group = Construct(stack, "Group")
    slashed = BatchInferenceJob(
        group, "Daily/Users", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", storage=storage
    )
    nested = BatchInferenceJob(
        Construct(group, "Daily"),
        "Users",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="u/",
        storage=storage,
    )
    jobs = Template.from_stack(stack).find_resources(JOB_TYPE).values()
    prefixes = {job["Properties"]["OutputPrefix"] for job in jobs}
    # Two jobs that look alike as ids get two prefixes, each the job's own construct path.
    assert prefixes == {f"batch-inference/{slashed.node.path}/", f"batch-inference/{nested.node.path}/"}
    assert len(prefixes) == 2


def test_job_passes_the_storage_keys_and_role(stacks: Stacks) -> None:
    props = _job_properties(stacks.full_template)
    storage = stacks.job.storage
    assert storage.input_key is not None and storage.output_key is not None
    assert props["InputKmsKeyArn"] == stacks.full.resolve(storage.input_key.key_arn)
    assert props["OutputKmsKeyArn"] == stacks.full.resolve(storage.output_key.key_arn)
    assert props["RoleArn"] == stacks.full.resolve(storage.role.role_arn)


def test_job_name_prefix_is_readable_and_leaves_room_for_the_hash(stacks: Stacks) -> None:
    assert _job_properties(stacks.full_template)["JobNamePrefix"] == "Full-Job"


def test_attributes_are_deploy_time_tokens_from_the_custom_resource(stacks: Stacks) -> None:
    for attribute, name in (
        (stacks.job.job_arn, "JobArn"),
        (stacks.job.job_name, "JobName"),
        (stacks.job.output_s3_uri, "OutputS3Uri"),
        (stacks.job.results_prefix_uri, "ResultsPrefixUri"),
        (stacks.job.manifest_uri, "ManifestUri"),
    ):
        assert cdk.Token.is_unresolved(attribute)
        resolved = stacks.full.resolve(attribute)
        assert resolved["Fn::GetAtt"][1] == name


def test_theme_generation_job_sends_mode_and_item_name_field(stacks: Stacks) -> None:
    props = _job_properties(stacks.theme_template)
    assert props["Mode"] == "THEME_GENERATION"
    assert props["ThemeItemNameField"] == "title"
    assert props["JobName"] == "themes-for-catalog"


def test_a_job_without_storage_creates_its_own(stacks: Stacks) -> None:
    stacks.theme_template.resource_count_is("AWS::S3::Bucket", 3)
    keys = stacks.theme_template.find_resources("AWS::KMS::Key")
    assert sorted(k for k in keys if "Storage" in k) == [
        k
        for k in sorted(keys)
        if k.startswith("ThemesStorageInputKey") or k.startswith("ThemesStorageOutputKey")
    ]
    assert len([k for k in keys if k.startswith("ThemesStorage")]) == 2


# ---------------------------------------------------------------- waiting


def test_waited_job_has_a_wait_condition_on_its_handle_with_the_timeout(stacks: Stacks) -> None:
    template = stacks.full_template
    (handle_id,) = template.find_resources("AWS::CloudFormation::WaitConditionHandle")
    (condition,) = template.find_resources("AWS::CloudFormation::WaitCondition").values()
    assert condition["Properties"] == {"Handle": {"Ref": handle_id}, "Timeout": "10800", "Count": 1}
    assert _job_properties(template)["WaitHandle"] == {"Ref": handle_id}


def test_wait_condition_depends_on_the_job_resource(stacks: Stacks) -> None:
    template = stacks.full_template
    (job_id,) = template.find_resources(JOB_TYPE)
    (condition,) = template.find_resources("AWS::CloudFormation::WaitCondition").values()
    assert job_id in condition["DependsOn"]


def test_job_is_created_after_its_storage_policies(stacks: Stacks) -> None:
    template = stacks.full_template
    (job,) = template.find_resources(JOB_TYPE).values()
    policies = [
        *template.find_resources("AWS::IAM::ManagedPolicy"),
        *template.find_resources("AWS::S3::BucketPolicy"),
    ]
    storage_policies = [p for p in policies if p.startswith("Storage")]
    assert len(storage_policies) == 4  # role policy, input, output and log bucket policies
    assert set(storage_policies) <= set(job["DependsOn"])


def test_a_dependency_on_the_job_waits_for_its_end(stacks: Stacks) -> None:
    template = stacks.full_template
    (condition_id,) = template.find_resources("AWS::CloudFormation::WaitCondition")
    (queue,) = template.find_resources("AWS::SQS::Queue").values()
    assert condition_id in queue["DependsOn"]


def test_job_without_wait_has_no_handle_or_condition(stacks: Stacks) -> None:
    stacks.theme_template.resource_count_is("AWS::CloudFormation::WaitCondition", 0)
    stacks.theme_template.resource_count_is("AWS::CloudFormation::WaitConditionHandle", 0)
    assert "WaitHandle" not in _job_properties(stacks.theme_template)


def _wait_ids(**overrides: Any) -> set[str]:
    props: dict[str, Any] = {"solution_version_arn": SOLUTION_VERSION_ARN, "input_path": "users/"}
    props.update(overrides)
    stack = cdk.Stack(cdk.App(), "Ids", env=ENV)
    job = BatchInferenceJob(stack, "Job", **props)
    return {c.node.id for c in job.node.children if c.node.id.startswith("Wait")}


@pytest.mark.parametrize(
    "change",
    [
        {"input_path": "other/"},
        {"num_results": 10},
        {"filter_arn": FILTER_ARN},
        {"run_token": "again"},
        {"ranking_influence": {"POPULARITY": 1.0}},
        {"timeout": cdk.Duration.hours(2)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_wait_condition_ids_change_with_job_definition_or_timeout(change: dict[str, Any]) -> None:
    assert _wait_ids() != _wait_ids(**change)


def test_wait_condition_ids_stay_when_only_tags_change() -> None:
    assert _wait_ids() == _wait_ids(tags={"team": "other"})


# ---------------------------------------------------------------- shared runtime


def test_three_jobs_share_one_provider_one_handler_and_one_monitor(stacks: Stacks) -> None:
    template = stacks.three_template
    template.resource_count_is(JOB_TYPE, 3)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.resource_count_is("AWS::Lambda::Function", 3)  # on-event, check, provider framework
    tokens = {str(r["Properties"]["ServiceToken"]) for r in template.find_resources(JOB_TYPE).values()}
    assert len(tokens) == 1


def test_handler_functions_are_recent_python_on_arm_with_explicit_memory_timeout_and_logs(
    stacks: Stacks,
) -> None:
    functions = stacks.three_template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Runtime": Match.string_like_regexp("python")}}
    )
    assert len(functions) == 2
    for function in functions.values():
        props = function["Properties"]
        major, minor = map(int, props["Runtime"].removeprefix("python").split("."))
        assert (major, minor) >= (3, 13)
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == 256
        assert 60 <= props["Timeout"] <= 900
        assert "LogGroup" in props["LoggingConfig"]
    assert {f["Properties"]["Handler"] for f in functions.values()} == {"handler.on_event", "monitor.check"}


def test_log_groups_have_retention(stacks: Stacks) -> None:
    groups = stacks.three_template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4
    assert all(g["Properties"]["RetentionInDays"] == 90 for g in groups.values())


def test_monitor_is_a_logged_traced_wait_check_choice_loop(stacks: Stacks) -> None:
    (machine,) = stacks.three_template.find_resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    definition = "".join(p if isinstance(p, str) else "" for p in props["DefinitionString"]["Fn::Join"][1])
    assert '"SecondsPath":"$.waitSeconds"' in definition
    assert '"Variable":"$.done","BooleanEquals":true' in definition
    assert '"now.$":"$$.State.EnteredTime"' in definition


def test_monitor_reports_any_error_it_cannot_handle_instead_of_leaving_the_stack_waiting(
    stacks: Stacks,
) -> None:
    (machine,) = stacks.three_template.find_resources("AWS::StepFunctions::StateMachine").values()
    definition = json.loads(
        "".join(
            p if isinstance(p, str) else "ARN"
            for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        )
    )
    check = definition["States"]["Check"]
    (catch,) = check["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "ReportMonitorFailure"}
    assert any("Lambda.TooManyRequestsException" in r["ErrorEquals"] for r in check["Retry"])
    report = definition["States"]["ReportMonitorFailure"]
    assert report["Parameters"]["abort.$"] == "$.caught"
    assert report["Next"] == "MonitorFailed"


# ---------------------------------------------------------------- IAM


def _policy_statements(template: Template, id_fragment: str) -> list[dict[str, Any]]:
    """The statements of the function's policies: the runtime's own, and those kept for the stack's
    resources that jobs are made from (its storage, a solution)."""
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    grants = f"{id_fragment.removesuffix('Function')}Grants"
    found = [
        p
        for logical_id, p in policies.items()
        if f"{id_fragment}Policy" in logical_id or grants in logical_id
    ]
    assert found
    return [s for p in found for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _join(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_join(p) for p in value["Fn::Join"][1])
    return "<" + next(iter(value)) + ">"


@pytest.mark.parametrize("function", ["OnEventFunction", "CheckFunction"])
def test_personalize_actions_are_limited_to_this_stacks_job_names_in_one_statement(
    stacks: Stacks, function: str
) -> None:
    statements = _policy_statements(stacks.three_template, function)
    (statement,) = [s for s in statements if s.get("Sid") == "JobsBatchInference"]
    assert "personalize:CreateBatchInferenceJob" in statement["Action"]
    assert _join(statement["Resource"]) == "arn:<Ref>:personalize:<Ref>:<Ref>:batch-inference-job/Three-*"


def test_explicit_job_name_gets_exactly_its_own_arn_beside_the_stacks_generated_names(stacks: Stacks) -> None:
    # The generated names stay granted: a change between an explicit and a generated name updates the
    # policy before the resource, while the old job's monitor still works on the old job.
    statements = _policy_statements(stacks.theme_template, "OnEventFunction")
    (personalize,) = [s for s in statements if s.get("Sid") == "JobsBatchInference"]
    resources = sorted(_join(resource) for resource in personalize["Resource"])
    prefix = f"{stacks.theme.stack_name}-*"
    assert [r.rsplit(":batch-inference-job/", 1)[1] for r in resources] == sorted(
        [prefix, "themes-for-catalog"]
    )


@pytest.mark.parametrize("function", ["OnEventFunction", "CheckFunction"])
def test_pass_role_names_the_job_role_for_personalize_only(stacks: Stacks, function: str) -> None:
    statements = _policy_statements(stacks.full_template, function)
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}
    assert pass_role["Resource"] == stacks.full.resolve(stacks.job.storage.role.role_arn)


def test_only_the_on_event_function_starts_the_monitor(stacks: Stacks) -> None:
    on_event = _policy_statements(stacks.full_template, "OnEventFunction")
    check = _policy_statements(stacks.full_template, "CheckFunction")
    (start,) = [s for s in on_event if s.get("Sid") == "StartAndListMonitors"]
    assert start["Action"] == ["states:StartExecution", "states:ListExecutions"]
    assert list(start["Resource"]) == ["Ref"]
    (stop,) = [s for s in on_event if s.get("Sid") == "StopMonitors"]
    # Its own executions only: stop other monitors of a job, find a re-sent request's own monitor.
    assert stop["Action"] == ["states:StopExecution", "states:DescribeExecution"]
    assert _join(stop["Resource"]).endswith(":execution:<Fn::GetAtt>:*")
    assert not [s for s in check if "states:StartExecution" in s["Action"]]


def test_only_the_check_function_puts_events_on_the_default_bus(stacks: Stacks) -> None:
    check = _policy_statements(stacks.full_template, "CheckFunction")
    (put,) = [s for s in check if s["Action"] == "events:PutEvents"]
    assert _join(put["Resource"]).endswith(":event-bus/default")
    assert not [
        s
        for s in _policy_statements(stacks.full_template, "OnEventFunction")
        if s["Action"] == "events:PutEvents"
    ]


# ---------------------------------------------------------------- events


def _own_runs(stack: cdk.Stack, job: BatchInferenceJob) -> dict[str, Any]:
    """What a job's end rules match: every run of its resource (deploy, scheduled, chained), by the
    stack's id and the resource's logical id, as the chain rules do (issue 22 review: not one jobArn)."""
    return {
        "stackId": [{"Ref": "AWS::StackId"}],
        "logicalId": [stack.resolve(job.resource.node.default_child.logical_id)],
    }


def test_on_state_change_matches_this_jobs_end_events(stacks: Stacks) -> None:
    stacks.full_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["constructs_lib.personalize"],
                "detail-type": ["Personalize Batch Inference Job State Change"],
                "detail": _own_runs(stacks.full, stacks.job),
            },
            "Targets": [Match.object_like({"Arn": Match.any_value()})],
        },
    )


def _rule_patterns(template: Template) -> dict[str, dict[str, Any]]:
    return {
        logical_id: rule["Properties"]["EventPattern"]
        for logical_id, rule in template.find_resources("AWS::Events::Rule").items()
    }


def test_on_success_and_on_failure_match_the_end_events_result(stacks: Stacks) -> None:
    own = _own_runs(stacks.events, stacks.events_job)
    patterns = _rule_patterns(stacks.events_template)
    (succeeded,) = [p for logical_id, p in patterns.items() if logical_id.startswith("JobSucceeded")]
    (failed,) = [p for logical_id, p in patterns.items() if logical_id.startswith("JobFailed")]
    assert succeeded == {
        "source": ["constructs_lib.personalize"],
        "detail-type": ["Personalize Batch Inference Job State Change"],
        "detail": {**own, "result": ["SUCCESS"]},
    }
    assert failed["detail"] == {**own, "result": ["FAILURE"]}


def test_on_event_adds_the_given_pattern_to_the_jobs_own(stacks: Stacks) -> None:
    patterns = _rule_patterns(stacks.events_template)
    (themed,) = [p for logical_id, p in patterns.items() if logical_id.startswith("JobThemed")]
    assert themed["detail"] == {"status": ["ACTIVE"], **_own_runs(stacks.events, stacks.events_job)}
    assert themed["account"] == ["123456789012"]
    assert themed["source"] == ["constructs_lib.personalize"]


def test_grant_read_results_covers_only_the_jobs_prefix_and_the_output_key(stacks: Stacks) -> None:
    assert isinstance(stacks.read_grant, iam.Grant) and stacks.read_grant.success
    job = stacks.events_job
    (policy,) = stacks.events_template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("Reader")}]}}
    ).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    assert _join(by_action['"s3:GetObject"']["Resource"]).endswith(f"/{job.output_prefix}*")
    listing = by_action['"s3:ListBucket"']
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{job.output_prefix}*"]}}
    assert by_action['"kms:Decrypt"']["Resource"] == stacks.events.resolve(job.storage.output_key.key_arn)  # type: ignore[union-attr]
    assert not any("s3:PutObject" in json.dumps(s["Action"]) for s in statements)


def test_runtime_grants_are_iam_grants_the_job_resource_waits_for(stacks: Stacks) -> None:
    runtime = stacks.events_job.runtime
    grant = runtime.grant_pass_role(stacks.reader)
    assert isinstance(grant, iam.Grant) and grant.success
    (statement,) = grant.principal_statements
    assert statement.to_statement_json()["Action"] == "iam:PassRole"
    # The job's resource depends on the policies its grants were placed in (those of the storage).
    depends_on = stacks.events_template.find_resources(JOB_TYPE)
    (job,) = depends_on.values()
    assert any("OnEventGrants" in d for d in job["DependsOn"])
    assert any("CheckGrants" in d for d in job["DependsOn"])


# ---------------------------------------------------------------- validation


def _make(**overrides: Any) -> BatchInferenceJob:
    props: dict[str, Any] = {"solution_version_arn": SOLUTION_VERSION_ARN, "input_path": "users/"}
    props.update(overrides)
    return BatchInferenceJob(cdk.Stack(cdk.App(), "V", env=ENV), "Job", **props)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"job_name": ""}, r"job_name='' is 0 characters; use 1 to 63"),
        ({"job_name": "x" * 64}, r"job_name='x{64}' is 64 characters"),
        ({"job_name": "-starts-with-dash"}, r"job_name='-starts-with-dash' does not match"),
        ({"job_name": "has space"}, r"job_name='has space' does not match"),
        (
            {"solution_version_arn": "solution/1"},
            r"solution_version_arn='solution/1' is not a Personalize ARN; expected solution version ARN",
        ),
        (
            {"filter_arn": "arn:aws:s3:::bucket"},
            r"filter_arn='arn:aws:s3:::bucket' is not a Personalize ARN; expected filter ARN",
        ),
        ({"num_results": 0}, r"num_results=0 must be a whole number of at least 1"),
        (
            {"ranking_influence": {"RECENCY": 0.5}},
            r"ranking_influence key 'RECENCY' is unknown; use one of POPULARITY, FRESHNESS",
        ),
        (
            {"ranking_influence": {"POPULARITY": 1.5}},
            r"ranking_influence\['POPULARITY'\]=1.5 must be a number from 0 to 1",
        ),
        ({"item_exploration": {"weight": "0.3"}}, r"item_exploration key 'weight' is unknown"),
        (
            {"item_exploration": {"explorationWeight": 0.3}},
            r"item_exploration\['explorationWeight'\]=0.3 must be a string",
        ),
        (
            {"tags": {f"k{i}": "v" for i in range(50)}},
            r"tags has 50 entries; Personalize keeps at most 50 tags on a job, and one is the library's",
        ),
        ({"tags": {"k" * 129: "v"}}, r"tags key 'k+' is 129 characters; use 1 to 128"),
        (
            {"tags": {"constructs-lib:end-reported": "x"}},
            r"tags key 'constructs-lib:end-reported' is the library's own mark of a reported end",
        ),
        ({"tags": {"k": "v" * 257}}, r"tags\['k'\] is 257 characters; use at most 256"),
        ({"timeout": cdk.Duration.hours(13)}, r"timeout=13 hours is longer than 12 hours"),
        ({"timeout": cdk.Duration.seconds(0)}, r"timeout=0 seconds is shorter than 5 minutes"),
        ({"timeout": cdk.Duration.seconds(30)}, r"timeout=30 seconds is shorter than 5 minutes"),
        (
            {"mode": BatchInferenceJobMode.THEME_GENERATION},
            r"theme_item_name_field is required when mode=THEME_GENERATION",
        ),
        (
            {"theme_item_name_field": "title"},
            r"theme_item_name_field='title' is only used when mode=THEME_GENERATION",
        ),
        (
            {"input_path": "/users/"},
            r"input_path='/users/' must be a key or prefix inside the input bucket",
        ),
        ({"input_path": "s3://b/users/"}, r"input_path='s3://b/users/' names the bucket 'b'"),
        ({"output_prefix": "recs"}, r"output_prefix='recs' must end with '/'"),
        ({"run_token": "2", "job_name": "fixed"}, r"run_token='2' starts a new job, but job_name='fixed'"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_props_fail_at_synth_naming_prop_value_and_fix(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _make(**overrides)


def test_every_bad_prop_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as raised:
        _make(job_name="bad name", num_results=0, timeout=cdk.Duration.hours(24))
    lines = [line for line in str(raised.value).splitlines() if line.startswith("  - ")]
    assert len(lines) == 3


def test_an_error_names_the_construct_path_of_the_job_at_fault() -> None:
    stack = cdk.Stack(cdk.App(), "MyStack", env=ENV)
    scope = Construct(stack, "Weekly")
    with pytest.raises(ValueError) as raised:
        BatchInferenceJob(scope, "Recs", solution_version_arn="nope", input_path="u/", num_results=0)
    first, *lines = str(raised.value).splitlines()
    assert first == "BatchInferenceJob at 'MyStack/Weekly/Recs': invalid props:"
    assert len(lines) == 2 and all(line.startswith("  - ") for line in lines)


def test_storage_and_runtime_errors_name_the_path_they_would_have() -> None:
    stack = cdk.Stack(cdk.App(), "MyStack", env=ENV)
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:user/not-a-role", mutable=False)
    storage_error = r"^BatchInferenceStorage at 'MyStack/Store': invalid props:\n  - role"
    with pytest.raises(ValueError, match=storage_error):
        BatchInferenceStorage(stack, "Store", role=role)
    with pytest.raises(ValueError, match=r"^PersonalizeJobRuntime at 'MyStack/Rt': invalid props:\n  - vpc_"):
        PersonalizeJobRuntime(stack, "Rt", vpc_subnets=ec2.SubnetSelection())


def test_brought_role_arn_must_be_an_iam_role_arn() -> None:
    stack = cdk.Stack(cdk.App(), "R", env=ENV)
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:user/not-a-role", mutable=False)
    with pytest.raises(
        ValueError, match=r"role='arn:aws:iam::123456789012:user/not-a-role' is not an IAM role ARN"
    ):
        BatchInferenceStorage(stack, "Storage", role=role)


def test_tokens_are_accepted_without_validation() -> None:
    stack = cdk.Stack(cdk.App(), "Tokens", env=ENV)
    arn = cdk.CfnParameter(stack, "SolutionVersionArn").value_as_string
    count = cdk.CfnParameter(stack, "NumResults", type="Number").value_as_number
    name = cdk.CfnParameter(stack, "JobName").value_as_string
    job = BatchInferenceJob(
        stack,
        "Job",
        solution_version_arn=arn,
        input_path=cdk.CfnParameter(stack, "InputPath").value_as_string,
        num_results=int(count) if not cdk.Token.is_unresolved(count) else count,  # type: ignore[arg-type]
        job_name=name,
        filter_arn=cdk.Fn.import_value("FilterArn"),
        wait=False,
    )
    props = _job_properties(Template.from_stack(stack))
    assert props["SolutionVersionArn"] == {"Ref": "SolutionVersionArn"}
    assert props["JobName"] == {"Ref": "JobName"}
    assert job.job_arn


def test_job_name_prefix_is_sanitized_for_personalize() -> None:
    stack = cdk.Stack(cdk.App(), "S" * 60, env=ENV)
    BatchInferenceJob(stack, "Job #1.x", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/")
    prefix = _job_properties(Template.from_stack(stack))["JobNamePrefix"]
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*", prefix)
    assert len(prefix) == 50


# ---------------------------------------------------------------- compliance-minded wiring


def test_runtime_roles_have_no_inline_policies(stacks: Stacks) -> None:
    stacks.three_template.resource_count_is("AWS::IAM::Policy", 0)
    for role in stacks.three_template.find_resources("AWS::IAM::Role").values():
        assert "Policies" not in role["Properties"]


def test_runtime_log_groups_are_encrypted_with_a_rotating_key(stacks: Stacks) -> None:
    template = stacks.three_template
    keys = template.find_resources("AWS::KMS::Key")
    (logs_key,) = [k for k in keys if "LogsKey" in k]
    assert keys[logs_key]["Properties"]["EnableKeyRotation"] is True
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [logs_key, "Arn"]}


def test_handler_functions_trace_with_xray(stacks: Stacks) -> None:
    functions = stacks.three_template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Runtime": Match.string_like_regexp("python")}}
    )
    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in functions.values())


def test_vpc_places_every_runtime_function_in_it() -> None:
    stack = cdk.Stack(cdk.App(), "Vpc", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    BatchInferenceJob(stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", vpc=vpc)
    template = Template.from_stack(stack)
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 3
    assert all("SubnetIds" in f["Properties"]["VpcConfig"] for f in functions.values())
    statements = [
        s
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(s.get("Sid") == "UseVpc" and "ec2:CreateNetworkInterface" in s["Action"] for s in statements)


def test_vpc_on_a_job_warns_that_it_belongs_to_the_runtime_and_is_still_honoured() -> None:
    stack = cdk.Stack(cdk.App(), "JobVpc", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1)
    job = BatchInferenceJob(stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/", vpc=vpc)
    assert job.runtime.vpc is vpc
    warnings = [
        entry.data
        for entry in job.node.metadata
        if entry.type == "aws:cdk:warning" and "constructs-lib:jobVpcDeprecated" in str(entry.data)
    ]
    assert len(warnings) == 1 and "PersonalizeJobRuntime(stack, vpc=" in str(warnings[0])
    plain = BatchInferenceJob(stack, "Plain", solution_version_arn=SOLUTION_VERSION_ARN, input_path="u/")
    assert plain.runtime is job.runtime
    assert not [entry for entry in plain.node.metadata if entry.type == "aws:cdk:warning"]


def test_jobs_of_one_stack_must_share_the_vpc() -> None:
    stack = cdk.Stack(cdk.App(), "TwoVpcs", env=ENV)
    BatchInferenceJob(
        stack,
        "A",
        solution_version_arn=SOLUTION_VERSION_ARN,
        input_path="u/",
        vpc=ec2.Vpc(stack, "One", max_azs=1),
    )
    with pytest.raises(
        ValueError, match=r"vpc: the stack's jobs share one runtime .* already exists with another vpc"
    ):
        BatchInferenceJob(
            stack,
            "B",
            solution_version_arn=SOLUTION_VERSION_ARN,
            input_path="u/",
            vpc=ec2.Vpc(stack, "Two", max_azs=1),
        )
