"""schedule= on the four kinds (issue 22): the schedule, its role, the check's policy and the chain rules
in the template; an app without schedules keeps its template."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_scheduler as scheduler

from constructs_lib import BatchInferenceJob, BatchInferenceStorage, DatasetImportJob

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d"
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/recs-group/INTERACTIONS"


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


@pytest.fixture(scope="module")
def weekly_template(example_apps: Any) -> dict[str, Any]:
    """The weekly example, synthesized once per session with the compliance packs (a finding fails synth)."""
    template: dict[str, Any] = example_apps["weekly"].templates["PersonalizeWeekly"]
    return template


def _input(properties: dict[str, Any]) -> str:
    """A target's input as text, deploy-time values as their references (JSON of the Fn::Join)."""
    return json.dumps(properties)


def test_the_scheduled_import_has_one_schedule_starting_the_monitor_with_its_definition(
    weekly_template: dict[str, Any],
) -> None:
    (schedule,) = _resources(weekly_template, "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]
    assert (properties["ScheduleExpression"], properties["ScheduleExpressionTimezone"]) == (
        "cron(0 6 ? * MON *)",
        "Europe/Berlin",
    )
    assert properties["State"] == "ENABLED"
    target = properties["Target"]
    assert target["Arn"] == {"Ref": "PersonalizeBatchInferenceRuntimeMonitor2F025100"}
    text = _input(target["Input"])
    for part in (
        '\\"trigger\\":\\"schedule\\"',
        "<aws.scheduler.scheduled-time>",
        "Custom::PersonalizeDatasetImportJob",
        '\\"DataLocation\\":\\"s3://',
        '\\"skipUnchanged\\":true',
    ):
        assert part in text, part
    assert "WaitHandle" not in text  # a run without a deploy signals no WaitCondition
    # The first delivery comes once the deploy's own run has ended and the check may make its calls.
    assert any(dependency.startswith("WeeklyImportWaitCondition") for dependency in schedule["DependsOn"])


def test_the_scheduler_role_may_only_start_the_monitor(weekly_template: dict[str, Any]) -> None:
    schedule = next(iter(_resources(weekly_template, "AWS::Scheduler::Schedule").values()))
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = weekly_template["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    _trusts_only_sources_of_the_account(statement, ":scheduler:", ":schedule-group/default")
    assert "Policies" not in role
    (policy_ref,) = role["ManagedPolicyArns"]
    policy = weekly_template["Resources"][policy_ref["Ref"]]["Properties"]["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Action": "states:StartExecution",
            "Effect": "Allow",
            "Resource": {"Ref": "PersonalizeBatchInferenceRuntimeMonitor2F025100"},
            "Sid": "StartMonitor",
        }
    ]


def _trusts_only_sources_of_the_account(statement: dict[str, Any], service: str, resource: str) -> None:
    """Confused-deputy prevention: the source account, and the source ARN of this account and region."""
    account = {"Ref": "AWS::AccountId"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    ((key, pattern),) = statement["Condition"]["ArnLike"].items()
    (parts,) = pattern["Fn::Join"][1:]
    assert key == "aws:SourceArn"
    partition, region = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}
    assert parts == ["arn:", partition, service, region, ":", account, resource]


def test_the_chain_rules_role_is_trusted_by_rules_of_the_account_only(
    weekly_template: dict[str, Any],
) -> None:
    (role_id,) = {
        target["RoleArn"]["Fn::GetAtt"][0]
        for rule in _resources(weekly_template, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if "RoleArn" in target
    }
    role = weekly_template["Resources"][role_id]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    _trusts_only_sources_of_the_account(statement, ":events:", ":rule/*")


def test_the_check_may_start_runs_and_list_what_it_compares(weekly_template: dict[str, Any]) -> None:
    policies = {
        key: value
        for key, value in _resources(weekly_template, "AWS::IAM::ManagedPolicy").items()
        if key.startswith("PersonalizeBatchInferenceRuntimeScheduledRunsPolicy")
    }
    ((_, policy),) = policies.items()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert actions == {
        "states:ListExecutions",
        "states:StartExecution",
        "personalize:ListDatasetImportJobs",
        "personalize:ListDatasets",
        "personalize:DescribeSolution",
        "s3:ListBucket",
    }
    listing = [statement for statement in statements if statement["Action"] == "s3:ListBucket"]
    prefixes = sorted(json.dumps(statement["Condition"]["StringLike"]["s3:prefix"]) for statement in listing)
    assert prefixes == ['["interactions/*"]', '["items/*"]', '["users/*"]']
    (role,) = policy["Properties"]["Roles"]
    assert role["Ref"].startswith("PersonalizeBatchInferenceRuntimeCheckFunctionRole")


def test_each_job_after_the_scheduled_import_runs_after_each_successful_run_of_its_upstream(
    weekly_template: dict[str, Any],
) -> None:
    rules = _resources(weekly_template, "AWS::Events::Rule")
    chains = {key: rule for key, rule in rules.items() if "After" in key}
    assert sorted(key[:-8] for key in chains) == [
        "RecommendationsVersionAfterWeeklyImport",
        "SegmentationVersionAfterWeeklyImport",
        "WeeklyAudiencesAfterSegmentationVersion",
        "WeeklyRecommendationsAfterRecommendationsVersion",
    ]
    for key, rule in chains.items():
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["detail"]["result"] == ["SUCCESS"]
        assert pattern["detail"]["trigger"] == ["schedule", "chain"]  # a deploy's run chains by deploy
        (target,) = rule["Properties"]["Targets"]
        template = _input(target["InputTransformer"]["InputTemplate"])
        assert '\\"trigger\\":\\"chain\\"' in template and "<detail-jobArn>" in template
        if key.startswith("Weekly"):
            assert '\\"sourceProp\\":\\"SolutionVersionArn\\"' in template, key


def test_a_job_without_schedule_adds_nothing(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Plain")
    storage = BatchInferenceStorage(stack, "Storage")
    BatchInferenceJob(
        stack, "Job", solution_version_arn=SOLUTION_VERSION_ARN, input_path="users/", storage=storage
    )
    template = app.synth().get_stack_by_name("Plain").template
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert "AWS::Scheduler::Schedule" not in types and "AWS::Events::Rule" not in types
    assert not [key for key in template["Resources"] if "Schedule" in key or "ChainRules" in key]


def test_a_paused_schedule_is_kept_disabled_and_skip_unchanged_false_forces(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Paused")
    storage = BatchInferenceStorage(stack, "Storage")
    DatasetImportJob(
        stack,
        "Import",
        dataset_arn=DATASET_ARN,
        data_path="interactions/",
        storage=storage,
        schedule=scheduler.ScheduleExpression.rate(cdk.Duration.days(7)),
        schedule_enabled=False,
        skip_unchanged=False,
    )
    template = app.synth().get_stack_by_name("Paused").template
    (schedule,) = _resources(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["State"] == "DISABLED"
    assert schedule["Properties"]["ScheduleExpression"] == "rate(7 days)"
    assert '\\"skipUnchanged\\":false' in _input(schedule["Properties"]["Target"]["Input"])


def test_schedule_with_a_job_name_is_refused_naming_both() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Named")
    with pytest.raises(ValueError, match="job_name='weekly-import' with schedule="):
        DatasetImportJob(
            stack,
            "Import",
            dataset_arn=DATASET_ARN,
            data_path="interactions/",
            storage=BatchInferenceStorage(stack, "Storage"),
            job_name="weekly-import",
            schedule=scheduler.ScheduleExpression.rate(cdk.Duration.days(7)),
        )


# --- the reviewer's findings (issue 22) -----------------------------------------------------------------


def _batch(stack: cdk.Stack, id: str, version: str, **options: Any) -> BatchInferenceJob:
    storage = stack.node.try_find_child("Storage") or BatchInferenceStorage(stack, "Storage")
    assert isinstance(storage, BatchInferenceStorage)
    return BatchInferenceJob(
        stack, id, solution_version_arn=version, input_path="users/", storage=storage, **options
    )


DAILY = scheduler.ScheduleExpression.rate(cdk.Duration.days(1))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"schedule": "rate(1 day)"},
            r"schedule='rate\(1 day\)': not an aws_scheduler.ScheduleExpression\. Use",
        ),
        ({"schedule": DAILY, "skip_unchanged": "no"}, r"skip_unchanged='no': must be True or False"),
        ({"schedule": DAILY, "schedule_enabled": 0}, r"schedule_enabled=0: must be True or False"),
    ],
)
def test_schedule_options_of_the_wrong_type_are_refused_naming_the_prop(
    options: dict[str, Any], expected: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Typed")
    with pytest.raises(ValueError, match=expected):
        _batch(stack, "Job", SOLUTION_VERSION_ARN, **options)


def test_schedule_on_an_export_or_a_deletion_is_refused_at_synth() -> None:
    from constructs_lib import DatasetExportJob

    stack = cdk.Stack(cdk.App(), "Export")
    with pytest.raises(ValueError, match=r"schedule= on a dataset export job: only dataset imports"):
        DatasetExportJob(
            stack,
            "Export",
            dataset_arn=DATASET_ARN,
            storage=BatchInferenceStorage(stack, "Storage"),
            schedule=DAILY,
        )


def test_a_scheduled_job_made_from_a_scheduled_training_is_refused() -> None:
    from constructs_lib import SolutionVersion

    stack = cdk.Stack(cdk.App(), "Twice")
    version = SolutionVersion(
        stack,
        "Version",
        solution_arn="arn:aws:personalize:us-east-1:123456789012:solution/recs",
        schedule=DAILY,
    )
    with pytest.raises(ValueError, match=r"schedule= on Twice/Recs, made from Twice/Version.*Drop schedule="):
        _batch(stack, "Recs", version.solution_version_arn, schedule=DAILY)


def test_a_scheduled_batch_jobs_deploy_run_records_its_input_and_its_end_rules_see_every_run(
    tmp_path: Path,
) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Records")
    daily_job = _batch(stack, "Daily", SOLUTION_VERSION_ARN, schedule=DAILY)
    daily_job.on_event("Ended")
    daily_job.on_success("Succeeded")
    _batch(stack, "Plain", SOLUTION_VERSION_ARN)
    template = app.synth().get_stack_by_name("Records").template
    _end_rules_see_scheduled_runs(template)
    jobs = _resources(template, "Custom::PersonalizeBatchInferenceJob")
    daily = next(value for key, value in jobs.items() if key.startswith("Daily"))
    plain = next(value for key, value in jobs.items() if key.startswith("Plain"))
    assert daily["Properties"]["RecordInput"] == "true" and "RecordInput" not in plain["Properties"]
    (policy,) = _resources(template, "AWS::IAM::ManagedPolicy").keys() & {
        key
        for key in template["Resources"]
        if key.startswith("PersonalizeBatchInferenceRuntimeScheduledRunsPolicy")
    }
    assert policy in daily["DependsOn"]


def _end_rules_see_scheduled_runs(template: dict[str, Any]) -> None:
    """on_event / on_success match the resource's scheduled runs (issue 22 review: not only the deploy
    run's jobArn); on_event also sees a skipped run, on_success does not."""
    from constructs_lib.rehearsal.events import matches

    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/Records/1"
    (logical_id,) = [
        key for key in _resources(template, "Custom::PersonalizeBatchInferenceJob") if key.startswith("Daily")
    ]
    rules = _resources(template, "AWS::Events::Rule")
    patterns = {
        key: json.loads(
            json.dumps(rule["Properties"]["EventPattern"]).replace(
                '{"Ref": "AWS::StackId"}', json.dumps(stack_id)
            )
        )
        for key, rule in rules.items()
    }
    (ended,) = [p for key, p in patterns.items() if key.startswith("DailyEnded")]
    (succeeded,) = [p for key, p in patterns.items() if key.startswith("DailySucceeded")]

    def event(result: str) -> dict[str, Any]:
        return {
            "source": "constructs_lib.personalize",
            "detail-type": "Personalize Batch Inference Job State Change",
            "detail": {
                "jobArn": "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/R-1",
                "stackId": stack_id,
                "logicalId": logical_id,
                "result": result,
                "trigger": "schedule",
            },
        }

    assert matches(ended, event("SUCCESS")) and matches(succeeded, event("SUCCESS"))
    assert matches(ended, event("SKIPPED")) and not matches(succeeded, event("SKIPPED"))
    other = event("SUCCESS")
    other["detail"]["logicalId"] = "PlainJob"
    assert not matches(ended, other)


def test_chains_do_not_depend_on_the_order_the_jobs_are_visited_and_cross_stack_ones_are_refused(
    tmp_path: Path,
) -> None:
    from constructs import Construct

    from constructs_lib import SolutionVersion

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Order")
    first = Construct(stack, "A")  # visited before B, which holds the training the batch job runs after
    later = Construct(stack, "B")
    storage = BatchInferenceStorage(stack, "Storage")
    imported = DatasetImportJob(
        later, "Import", dataset_arn=DATASET_ARN, data_path="i/", storage=storage, schedule=DAILY
    )
    version = SolutionVersion(
        later, "Version", solution_arn="arn:aws:personalize:us-east-1:123456789012:solution/r"
    )
    second = DatasetImportJob(
        later,
        "Items",
        dataset_arn=DATASET_ARN.replace("INTERACTIONS", "ITEMS"),
        data_path="t/",
        storage=storage,
        schedule=DAILY,
    )
    version.node.add_dependency(imported, second)
    BatchInferenceJob(
        first, "Recs", solution_version_arn=version.solution_version_arn, input_path="u/", storage=storage
    )
    template = app.synth().get_stack_by_name("Order").template
    rules = {key for key in _resources(template, "AWS::Events::Rule")}
    assert any(key.startswith("ARecsAfterVersion") for key in rules), rules
    assert any(key.startswith("BVersionAfterImport") for key in rules), rules
    # Each import starts it (a run meeting another in progress waits for it: lambda/scheduled.py).
    assert any(key.startswith("BVersionAfterItems") for key in rules), rules

    other_app = cdk.App(outdir=str(tmp_path / "cross"))
    upstream = cdk.Stack(
        other_app, "Upstream", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    downstream = cdk.Stack(
        other_app, "Downstream", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    trained = SolutionVersion(
        upstream,
        "Version",
        solution_arn="arn:aws:personalize:us-east-1:123456789012:solution/r",
        schedule=DAILY,
    )
    _batch(downstream, "Recs", trained.solution_version_arn)
    with pytest.raises(Exception, match=r"Downstream/Recs is made from Upstream/Version in another stack"):
        other_app.synth()


def test_an_end_rule_in_another_stack_keeps_the_job_arn_export_it_imported_before(tmp_path: Path) -> None:
    # Before 0.2.0 the rule matched the job's ARN, imported from the job's stack: CloudFormation refuses to
    # delete an export another stack imports, so the export stays beside the stack id's.
    app = cdk.App(outdir=str(tmp_path))
    env = cdk.Environment(account="123456789012", region="us-east-1")
    jobs, rules = cdk.Stack(app, "Jobs", env=env), cdk.Stack(app, "Rules", env=env)
    _batch(jobs, "Job", SOLUTION_VERSION_ARN).on_event("Ended", cross_stack_scope=rules)
    assembly = app.synth()
    exported = [
        json.dumps(output["Value"])
        for output in assembly.get_stack_by_name("Jobs").template["Outputs"].values()
    ]
    assert any("JobArn" in value for value in exported) and any("AWS::StackId" in value for value in exported)
    (rule,) = _resources(assembly.get_stack_by_name("Rules").template, "AWS::Events::Rule").values()
    assert "Fn::ImportValue" in json.dumps(rule["Properties"]["EventPattern"]["detail"]["stackId"])


def test_a_scheduled_job_in_a_stage_is_chained(tmp_path: Path) -> None:
    # Aspects do not cross a Stage: the chain rules are added on the job's stage, not on the app.
    from constructs_lib import SolutionVersion

    app = cdk.App(outdir=str(tmp_path))
    stage = cdk.Stage(app, "Prod")
    stack = cdk.Stack(stage, "Recs")
    imported = DatasetImportJob(
        stack,
        "Import",
        dataset_arn=DATASET_ARN,
        data_path="i/",
        storage=BatchInferenceStorage(stack, "S"),
        schedule=DAILY,
    )
    version = SolutionVersion(
        stack, "Version", solution_arn="arn:aws:personalize:us-east-1:123456789012:solution/r"
    )
    version.node.add_dependency(imported)
    app.synth()
    template = stage.synth().get_stack_by_name(stack.stack_name).template
    assert any(key.startswith("VersionAfterImport") for key in _resources(template, "AWS::Events::Rule"))


def test_the_scheduled_runs_policy_counts_towards_the_check_roles_managed_policy_quota() -> None:
    """The check function's role holds its own two policies, the scheduled runs' policy and one per
    solution its trainings are made from: 7 solutions make IAM's default of 10, an 8th is one too many."""
    from aws_cdk import aws_personalize as personalize
    from aws_cdk.assertions import Annotations, Match

    from constructs_lib import SolutionVersion
    from examples.end_to_end import USER_PERSONALIZATION

    stack = cdk.Stack(
        cdk.App(), "ScheduledQuota", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    group = personalize.CfnDatasetGroup(stack, "Group", name="quota")

    def version(index: int, **options: Any) -> None:
        solution = personalize.CfnSolution(
            stack, f"Solution{index}", dataset_group_arn=group.attr_dataset_group_arn, name=f"quota-{index}",
            recipe_arn=USER_PERSONALIZATION,
        )  # fmt: skip
        SolutionVersion(stack, f"Version{index}", solution_arn=solution.attr_solution_arn, **options)

    version(0, schedule=scheduler.ScheduleExpression.rate(cdk.Duration.days(7)))
    for index in range(1, 7):
        version(index)
    quota = Match.string_like_regexp("managedPolicyQuota")
    assert not Annotations.from_stack(stack).find_warning("*", quota)
    version(7)
    Annotations.from_stack(stack).has_warning(
        "/ScheduledQuota/PersonalizeBatchInferenceRuntime",
        Match.string_like_regexp(
            r"Check function's role takes more than 10 managed policies.*scheduled jobs"
        ),
    )
