"""examples/weekly.py rehearsed for 29 simulated days (issue 22): every Monday's delivery, the skipped weeks,
the chained runs after each import, and a failing chained run that stays an event; the schedule
expressions the rehearsal reads."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from constructs_lib.rehearsal import rehearse
from constructs_lib.rehearsal.recurring import ScheduleExpressionError, occurrences, scheduler_time
from constructs_lib.rehearsal.result import Result

UTC = timezone.utc


@pytest.fixture(scope="module")
def weekly_out(example_apps: Mapping[str, Any]) -> Path:
    """The session's synth of examples/weekly.py (tests/conftest.py), with the compliance packs."""
    outdir: Path = example_apps["weekly"].outdir
    return outdir


@pytest.fixture(scope="module")
def four_weeks(weekly_four_weeks: Result) -> Result:
    """The deploy, then 29 days; new interactions land on day 15 only (rehearsed once per session)."""
    return weekly_four_weeks


def _notes(result: Result, run: str) -> list[tuple[str, dict[str, object]]]:
    return [(entry.key, entry.data) for entry in result.timeline if entry.data.get("run") == run]


def test_four_mondays_deliver_at_six_in_berlin(four_weeks: Result) -> None:
    delivered = [data["scheduledTime"] for _, data in _notes(four_weeks, "scheduled")]
    # Mondays at 06:00 Europe/Berlin are 05:00 UTC in winter; the deploy starts Monday 5 January 09:00 UTC.
    assert delivered == [
        "2026-01-12T05:00:00Z",
        "2026-01-19T05:00:00Z",
        "2026-01-26T05:00:00Z",
        "2026-02-02T05:00:00Z",
    ]


def test_weeks_without_new_data_are_skipped_with_nothing_after_them(four_weeks: Result) -> None:
    assert four_weeks.exit_code == 0, four_weeks.report
    skipped = _notes(four_weeks, "skipped")
    assert [data["scheduledTime"] for _, data in skipped] == ["2026-01-19T05:00:00Z", "2026-02-02T05:00:00Z"]
    assert all(key == "PersonalizeWeekly/WeeklyImport25E86F57" for key, _ in skipped)
    assert all("Unchanged" in str(data["reason"]) for _, data in skipped)


def test_each_import_that_ran_chains_two_trainings_and_the_two_batch_jobs(four_weeks: Result) -> None:
    scheduled = [row for row in four_weeks.jobs if row.phase == "schedule"]
    chained = [row for row in four_weeks.jobs if row.phase == "chain"]
    # Week 1 (the deploy's data, never imported by a run without a deploy) and week 3 (new data).
    assert [(row.construct_id, row.status) for row in scheduled] == [("WeeklyImport", "ACTIVE")] * 2
    assert Counter(row.construct_id for row in chained) == {
        "RecommendationsVersion": 2,
        "SegmentationVersion": 2,
        "WeeklyRecommendations": 2,
        "WeeklyAudiences": 2,
    }
    assert all(row.status == "ACTIVE" for row in chained)
    # Every run is a new job of its own; the batch runs wrote their results.
    names = [row.job_name for row in [*scheduled, *chained]]
    assert len(set(names)) == len(names) == 10
    assert all(row.outputs for row in chained if row.kind.startswith("batch"))
    # The deploy's own runs are untouched, and nothing was left running.
    assert [row.phase for row in four_weeks.jobs[:5]] == ["create"] * 5
    assert four_weeks.operations[-1].endswith("DELETE_COMPLETE")


def test_a_failing_chained_run_is_an_event_and_never_a_stack_failure(weekly_out: Path) -> None:
    result = rehearse(
        weekly_out, days=8, update=False, fail_scheduled={"WeeklyAudiences": "Segment quota exceeded"}
    )
    assert result.exit_code == 0, result.report
    (failed,) = [row for row in result.jobs if row.phase == "chain" and row.construct_id == "WeeklyAudiences"]
    assert failed.status == "CREATE FAILED" and "Segment quota exceeded" in str(failed.failure_reason)
    assert all(row.status == "ACTIVE" for row in result.jobs if row.construct_id != "WeeklyAudiences")
    assert [operation.split(" -> ")[1] for operation in result.operations] == [
        "CREATE_COMPLETE",
        "DELETE_COMPLETE",
    ]


# --- schedule expressions ----------------------------------------------------------------------------


START = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)


def _times(expression: str, zone: str | None = None, days: int = 14) -> list[str]:
    end = START + timedelta(days=days)
    return [scheduler_time(t) for t in occurrences(expression, zone, created=START, start=START, end=end)]


def test_a_cron_in_a_time_zone_follows_its_daylight_saving_time() -> None:
    # Berlin moves to summer time on Sunday 29 March 2026: 06:00 local is 05:00 UTC, then 04:00 UTC.
    assert _times("cron(0 6 ? * MON *)", "Europe/Berlin") == ["2026-03-23T05:00:00Z", "2026-03-30T04:00:00Z"]


def test_a_rate_fires_at_the_schedules_creation_then_every_step() -> None:
    # "Schedule types": a rate schedule without a StartDate starts invoking its target immediately.
    assert _times("rate(3 days)", days=7) == [
        "2026-03-23T00:00:00Z",
        "2026-03-26T00:00:00Z",
        "2026-03-29T00:00:00Z",
    ]


def test_a_cron_fires_once_when_the_clocks_go_back() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026: 02:30 local is first 00:30 UTC (CEST), then
    # 01:30 UTC (CET). EventBridge Scheduler runs it once (Knowledge Center eventbridge-scheduler-adjust-dst).
    start = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    times = occurrences(
        "cron(30 2 * * ? *)", "Europe/Berlin", created=start, start=start, end=start + timedelta(days=2)
    )
    assert [scheduler_time(t) for t in times] == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]


def test_an_at_schedule_fires_once_in_its_time_zone() -> None:
    assert _times("at(2026-03-25T09:30:00)", "America/New_York") == ["2026-03-25T13:30:00Z"]


def test_cron_ranges_steps_and_names() -> None:
    # After the start (a delivery at the very time of the deploy went before it), to the end included.
    assert _times("cron(0 */12 ? * MON-TUE *)", days=3) == [
        "2026-03-23T12:00:00Z",
        "2026-03-24T00:00:00Z",
        "2026-03-24T12:00:00Z",
    ]


def test_an_expression_the_rehearsal_cannot_read_says_so() -> None:
    with pytest.raises(ScheduleExpressionError, match="rate"):
        _times("every monday")


def test_a_scheduled_option_naming_no_job_is_refused(weekly_out: Path) -> None:
    from constructs_lib.rehearsal import RehearsalError

    with pytest.raises(RehearsalError, match="--new-input Nope: no job has that construct id"):
        rehearse(weekly_out, days=1, new_input=[("Nope", 1)])


def test_a_daily_batch_job_skips_what_the_deploy_run_read_and_runs_on_new_input(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_scheduler as scheduler

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Daily")
    BatchInferenceJob(
        stack,
        "DailyRecs",
        solution_version_arn="arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        input_path="users/",
        storage=BatchInferenceStorage(stack, "Storage"),
        schedule=scheduler.ScheduleExpression.rate(cdk.Duration.days(1)),
    )
    app.synth()
    result = rehearse(
        tmp_path, days=3.5, update=False, input_exists=["DailyRecs"], new_input=[("DailyRecs", 2.5)]
    )
    assert result.exit_code == 0, result.report
    runs = [row for row in result.jobs if row.phase == "schedule"]
    # IAM enforced: the deploy run's monitor and each check list users/ and read latest.json.
    assert [row.status for row in runs] == ["ACTIVE"]
    assert all(row.outputs for row in runs)
    skipped = _notes(result, "skipped")
    deliveries = [data["scheduledTime"] for _, data in _notes(result, "scheduled")]
    # The rate schedule fires at its creation (right after the deploy run), then daily: the deploy run
    # recorded what it read, so the first three deliveries skip, and the one after the new input runs.
    assert [time[:10] for time in deliveries] == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
    assert [data["scheduledTime"] for _, data in skipped] == deliveries[:3]
    deploy_run = next(row.job_name for row in result.jobs if row.phase not in ("schedule", "chain"))
    assert f"the last successful run {deploy_run} read" in str(skipped[0][1]["reason"])
    assert "the job's definition are those" in str(skipped[1][1]["reason"])


# --- a stack delete while a run without a deploy runs ----------------------------------------------------

STOPPED_OR_ENDED = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")


@pytest.mark.parametrize(
    ("days", "running"),
    [
        # Day 7, 05:00 UTC: the scheduled import (new data landed on day 1), then both chained trainings,
        # which still train at 6.75 days: each training resource's Delete stops its run's version.
        (6.75, {"RecommendationsVersion": "CREATE STOPPED", "SegmentationVersion": "CREATE STOPPED"}),
        # 6.705 days: the scheduled import runs; the import resource's Delete waits for its end (it
        # cannot be stopped), and its stopped monitor chains nothing after it.
        (6.705, {"WeeklyImport": "ACTIVE"}),
    ],
)
def test_a_stack_deleted_during_a_run_without_a_deploy_deletes_cleanly_and_leaves_nothing_running(
    weekly_out: Path, days: float, running: dict[str, str]
) -> None:
    result = rehearse(weekly_out, days=days, update=False, new_input=[("WeeklyImport", 1)])
    assert result.exit_code == 0 and not result.stuck, result.report
    assert [operation.split(" -> ")[1] for operation in result.operations] == [
        "CREATE_COMPLETE",
        "DELETE_COMPLETE",
    ]
    runs = [row for row in result.jobs if row.phase in ("schedule", "chain")]
    assert {row.construct_id: row.status for row in runs if row.construct_id in running} == running
    # Nothing left running: every job the stand-in ran had stopped or ended when the stack was gone, and
    # no monitor outlived its functions (a monitor left running fails on the deleted check function).
    (deleted,) = [operation for operation in result.stack_operations if operation.kind == "DELETE"]
    assert all(row.status in STOPPED_OR_ENDED for row in result.jobs), [(r.job_name, r.status) for r in runs]
    assert all(row.ended_at is not None and row.ended_at <= deleted.ended_at for row in result.jobs)
    assert not [warning for warning in result.warnings if "monitor execution" in warning], result.warnings
    # The runs after the one the delete met never started (the chain rules went with their jobs).
    assert len(runs) == 1 + (2 if "RecommendationsVersion" in running else 0)


def test_the_delete_may_stop_and_list_the_runs_of_its_own_monitor_only(weekly_out: Path) -> None:
    # What a Delete calls for its runs, checked by the rehearsal's offline IAM evaluator against the
    # synthesized policies: the stack's monitor and its executions, nothing of another state machine.
    import json

    from constructs_lib.rehearsal.enforce import Enforcer
    from constructs_lib.rehearsal.intrinsics import Resolver

    template = json.loads((weekly_out / "PersonalizeWeekly.template.json").read_text())
    resolver = Resolver(template, stack_name="PersonalizeWeekly", account="123456789012", region="us-east-1")
    enforcer = Enforcer(lambda: [resolver])
    (on_event,) = [arn for arn, label in enforcer.account.labels.items() if "OnEventFunctionRole" in label]
    (machine,) = [
        resolver.resolve({"Ref": logical_id})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    other = machine.rsplit(":", 1)[0] + ":SomeoneElsesMachine"

    def denied(action: str, params: dict[str, str]) -> bool:
        found = enforcer.check(on_event, action, params, region="us-east-1", account="123456789012")
        return found is not None

    def execution(of: str) -> str:
        return f"{of.replace(':stateMachine:', ':execution:')}:run-Job-0123abcd-0123456789ab"

    calls = [
        ("states:ListExecutions", {"stateMachineArn": machine}),
        ("states:StopExecution", {"executionArn": execution(machine)}),
        ("states:DescribeExecution", {"executionArn": execution(machine)}),
    ]
    assert [denied(action, params) for action, params in calls] == [False, False, False]
    elsewhere = [
        ("states:ListExecutions", {"stateMachineArn": other}),
        ("states:StopExecution", {"executionArn": execution(other)}),
        ("states:DescribeExecution", {"executionArn": execution(other)}),
    ]
    assert [denied(action, params) for action, params in elsewhere] == [True, True, True]


def test_a_training_after_two_scheduled_imports_trains_again_after_the_one_that_ended_while_it_trained(
    tmp_path: Path,
) -> None:
    import json as json_module

    import aws_cdk as cdk
    from aws_cdk import aws_personalize as personalize
    from aws_cdk import aws_scheduler as scheduler

    from constructs_lib import BatchInferenceStorage, DatasetImportJob, SolutionVersion
    from examples.weekly import INTERACTIONS_SCHEMA, USER_PERSONALIZATION

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "TwoImports")
    group = personalize.CfnDatasetGroup(stack, "Group", name="two-imports")
    datasets = []
    for id, kind, schema_text in (
        ("Interactions", "Interactions", INTERACTIONS_SCHEMA),
        (
            "Items",
            "Items",
            {
                "type": "record",
                "name": "Items",
                "namespace": "com.amazonaws.personalize.schema",
                "fields": [{"name": "ITEM_ID", "type": "string"}],
                "version": "1.0",
            },
        ),
    ):
        schema = personalize.CfnSchema(
            stack, f"{id}Schema", name=f"two-{id}", schema=json_module.dumps(schema_text)
        )
        datasets.append(
            personalize.CfnDataset(
                stack,
                id,
                dataset_group_arn=group.attr_dataset_group_arn,
                dataset_type=kind,
                name=f"two-{id}",
                schema_arn=schema.attr_schema_arn,
            )
        )
    storage = BatchInferenceStorage(stack, "Storage")
    # 06:00 and 07:00 UTC: the first import ends at about 06:22 and its training trains until about 08:30;
    # the second ends at about 07:22, while that training trains.
    imports = [
        DatasetImportJob(
            stack,
            id,
            dataset_arn=dataset.attr_dataset_arn,
            data_path=path,
            storage=storage,
            schedule=scheduler.ScheduleExpression.cron(minute="0", hour=hour),
        )
        for id, dataset, path, hour in (
            ("InteractionsImport", datasets[0], "interactions/", "6"),
            ("ItemsImport", datasets[1], "items/", "7"),
        )
    ]
    solution = personalize.CfnSolution(
        stack,
        "Solution",
        dataset_group_arn=group.attr_dataset_group_arn,
        name="two-solution",
        recipe_arn=USER_PERSONALIZATION,
    )
    solution.node.add_dependency(*datasets)
    version = SolutionVersion(stack, "Version", solution_arn=solution.attr_solution_arn)
    version.node.add_dependency(*imports)
    app.synth()
    result = rehearse(
        tmp_path,
        days=1.2,
        update=False,
        input_exists=["InteractionsImport", "ItemsImport"],
        new_input=[("InteractionsImport", 0.5), ("ItemsImport", 0.5)],
    )
    assert result.exit_code == 0, result.report
    imported = [row for row in result.jobs if row.phase == "schedule"]
    trained = [row for row in result.jobs if row.phase == "chain" and row.construct_id == "Version"]
    assert sorted(row.construct_id for row in imported) == ["InteractionsImport", "ItemsImport"]
    assert all(row.status == "ACTIVE" for row in imported)
    # Two trainings: after the first import, and, waiting for it, once more after the second import.
    assert [row.status for row in trained] == ["ACTIVE", "ACTIVE"], result.report
    assert trained[1].created_at is not None and trained[0].ended_at is not None
    assert trained[1].created_at >= trained[0].ended_at  # created only once the first had ended


# --- each schedule from its own start, across windows, updates, pauses and rollbacks (Scheduler) -----

DAILY = "DailyRecs"


def _daily_app(
    outdir: Path,
    *,
    days: int = 1,
    path: str = "users/",
    enabled: bool = True,
    after: bool = False,
    window: tuple[datetime, datetime] | None = None,
    cron_hour: str | None = None,
) -> Path:
    """A batch job on a rate schedule (skip_unchanged off: every delivery runs); ``after``: a queue that
    CloudFormation creates after the schedule (to fail an update once the schedule has changed)."""
    import aws_cdk as cdk
    from aws_cdk import aws_scheduler as scheduler

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Daily")
    job = BatchInferenceJob(
        stack,
        DAILY,
        solution_version_arn="arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d",
        input_path=path,
        storage=BatchInferenceStorage(stack, "Storage"),
        schedule=(
            scheduler.ScheduleExpression.cron(minute="0", hour=cron_hour)
            if cron_hour is not None
            else scheduler.ScheduleExpression.rate(cdk.Duration.days(days))
        ),
        schedule_enabled=enabled,
        skip_unchanged=False,
    )
    if window is not None:  # the schedule's StartDate and EndDate
        cfn = job.node.find_child("Schedule").node.default_child
        assert isinstance(cfn, cdk.CfnResource)
        cfn.add_property_override("StartDate", window[0].strftime("%Y-%m-%dT%H:%M:%SZ"))
        cfn.add_property_override("EndDate", window[1].strftime("%Y-%m-%dT%H:%M:%SZ"))
    if after:
        queue = cdk.CfnResource(stack, "After", type="AWS::SQS::Queue")
        queue.node.add_dependency(job.node.find_child("Schedule"))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def daily_versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The versions a team deploys one after another (one jsii process, four small apps)."""
    base = tmp_path_factory.mktemp("daily-versions")
    return {
        "v1": _daily_app(base / "v1"),
        "paused": _daily_app(base / "paused", enabled=False),
        "v2": _daily_app(base / "v2", days=2, path="users-v2/"),
        "failing": _daily_app(base / "failing", days=2, after=True),
        "window": _daily_app(
            base / "window",
            window=(datetime(2026, 1, 8, 0, 0, tzinfo=UTC), datetime(2026, 1, 9, 12, 0, tzinfo=UTC)),
        ),
        "cron": _daily_app(base / "cron", cron_hour="6"),
        "cron-paused": _daily_app(base / "cron-paused", cron_hour="6", enabled=False),
    }


class _Session:
    """A deployed v1, its Recurring, and helpers to read what the scheduler delivered."""

    def __init__(self, versions: dict[str, Path], sandbox: object) -> None:
        from constructs_lib.rehearsal.assembly import read_assembly
        from constructs_lib.rehearsal.driver import Driver, Options
        from constructs_lib.rehearsal.recurring import Recurring

        self.assemblies = {name: read_assembly(path) for name, path in versions.items()}
        options = Options(update=False, input_exists=frozenset({DAILY}))
        self.driver = Driver(self.assemblies["v1"], options, sandbox)  # type: ignore[arg-type]
        self.sandbox = sandbox
        (outcome,) = self.driver.deploy(self.assemblies["v1"], "create")
        assert outcome.operation.status == "CREATE_COMPLETE"
        self.driver.phase = "days"
        self.recurring = self.driver.recurring = Recurring(self.driver)

    def deploy(self, version: str) -> str:
        (outcome,) = self.driver.deploy(self.assemblies[version], "update")
        self.driver.phase = "days"
        return outcome.operation.status

    def schedule_changed_at(self) -> datetime:
        """When CloudFormation last created or updated the schedule (its rate's start)."""
        state = self.driver.states["Daily"]
        (resource,) = [r for r in state.resources.values() if r.type == "AWS::Scheduler::Schedule"]
        clock = self.sandbox.clock  # type: ignore[attr-defined]
        return clock.start + timedelta(seconds=resource.data["changedAt"])  # type: ignore[no-any-return]

    def delivered(self) -> list[tuple[str, str, str]]:
        """(scheduled time, expression, the job's input path) of each delivery, in order."""
        return [
            (
                str(entry.data["scheduledTime"]),
                str(entry.data["expression"]),
                str(dict(entry.data["definition"]).get("InputPath", "")),
            )
            for entry in self.sandbox.timeline.entries()  # type: ignore[attr-defined]
            if entry.data.get("run") == "scheduled"
        ]

    def notes(self, run: str) -> list[dict[str, object]]:
        return [
            entry.data
            for entry in self.sandbox.timeline.entries()  # type: ignore[attr-defined]
            if entry.data.get("run") == run
        ]

    def close(self) -> None:
        self.driver.delete()
        self.driver.settle()


@pytest.fixture(scope="module")
def daily_sandbox() -> Iterator[object]:
    """One sandbox for the module's sessions: its servers and functions' code started once, each
    session starts over on a new clock with empty stand-ins (Sandbox.reset, as the fuzzers do)."""
    from constructs_lib.rehearsal.sandbox import Sandbox

    with Sandbox(region="us-east-1") as sandbox:
        yield sandbox


@pytest.fixture
def daily(daily_versions: dict[str, Path], daily_sandbox: object) -> Iterator[_Session]:
    daily_sandbox.reset()  # type: ignore[attr-defined]
    session = _Session(daily_versions, daily_sandbox)
    try:
        yield session
    finally:
        session.close()


def _at(moment: datetime, days: float = 0) -> str:
    return scheduler_time(moment + timedelta(days=days))


def test_a_rate_schedule_fires_from_its_own_start_not_at_each_window(daily: _Session) -> None:
    # Three windows back to back (0.5, 0.5, 1.25 days): a rate(1 day) created with the stack fires at its
    # creation and every day after it, whatever the windows.
    created = daily.schedule_changed_at()
    for days in (0.5, 0.5, 1.25):
        daily.recurring.run_days(days)
    assert [time for time, _, _ in daily.delivered()] == [_at(created), _at(created, 1), _at(created, 2)]
    assert daily.recurring.missed == 0 and not daily.driver.warnings


def test_an_update_between_windows_restarts_the_rate_and_flags_the_time_it_missed(daily: _Session) -> None:
    # The window ends 20 minutes before the second daily time; the update (a new job definition and
    # rate(2 days)) runs its job for about 50 minutes first, so that time falls outside every window.
    created = daily.schedule_changed_at()
    daily.recurring.run_days(1 - 20 / 1440)
    assert daily.deploy("v2") == "UPDATE_COMPLETE"
    updated = daily.schedule_changed_at()
    daily.recurring.run_days(2.5)
    assert daily.delivered() == [
        (_at(created), "rate(1 day)", "s3://" + daily.delivered()[0][2].split("s3://", 1)[-1]),
        (_at(updated), "rate(2 days)", daily.delivered()[1][2]),
        (_at(updated, 2), "rate(2 days)", daily.delivered()[1][2]),
    ]
    assert daily.delivered()[0][2].endswith("/users/") and daily.delivered()[1][2].endswith("/users-v2/")
    # The time during the update is flagged, never delivered late.
    assert [note["scheduledTime"] for note in daily.notes("missed")] == [_at(created, 1)]
    assert daily.recurring.missed == 1
    assert any("1 scheduled time(s) fell outside" in warning for warning in daily.driver.warnings)


def test_a_delivery_during_an_update_reads_the_schedule_as_it_then_stands(daily: _Session) -> None:
    # The window opens 20 minutes before the second daily time, with the update in it: that time comes
    # while the new definition's deploy run runs (the schedule, after it, still holds the old one); once
    # CloudFormation updates the schedule, rate(2 days) starts, at once, with the new definition.
    created = daily.schedule_changed_at()
    daily.recurring.run_days(1 - 20 / 1440)
    statuses: list[str] = []
    daily.recurring.run_days(0.5, during=lambda: statuses.append(daily.deploy("v2")))
    updated = daily.schedule_changed_at()
    assert statuses == ["UPDATE_COMPLETE"]
    assert _at(created, 1) < _at(updated)
    times = [(time, expression, path.rsplit("/", 2)[-2]) for time, expression, path in daily.delivered()]
    assert times == [
        (_at(created), "rate(1 day)", "users"),
        (_at(created, 1), "rate(1 day)", "users"),
        (_at(updated), "rate(2 days)", "users-v2"),
    ]
    assert daily.recurring.missed == 0
    # Each delivery's run is made from the definition it carried: the one during the update reads users/
    # (the job resource already held users-v2/, the schedule not yet), the one after it users-v2/.
    personalize = daily.sandbox.personalize  # type: ignore[attr-defined]
    read = [
        personalize.job(run.job_name).request["jobInput"]["s3DataSource"]["path"].rsplit("/", 2)[-2]
        for run in daily.driver.runs
        if run.phase == "schedule" and run.job_name
    ]
    assert read == ["users", "users", "users-v2"], read


def test_a_paused_schedule_delivers_nothing_and_resumes_from_its_enabling_without_catching_up(
    daily: _Session,
) -> None:
    created = daily.schedule_changed_at()
    daily.recurring.run_days(0.5)
    assert daily.deploy("paused") == "UPDATE_COMPLETE"
    daily.recurring.run_days(2)  # two daily times pass while it is DISABLED
    assert len(daily.notes("paused")) == 1
    assert daily.deploy("v1") == "UPDATE_COMPLETE"  # ENABLED again: an UpdateSchedule
    enabled = daily.schedule_changed_at()
    daily.recurring.run_days(1.5)
    assert [time for time, _, _ in daily.delivered()] == [_at(created), _at(enabled), _at(enabled, 1)]
    assert daily.recurring.missed == 0  # paused times are not missed ones: nothing is owed


def test_a_rolled_back_update_restores_the_previous_schedule_and_deliveries_follow_it(
    daily: _Session,
) -> None:
    # The update changes the schedule to rate(2 days), then the queue created after it fails: the
    # rollback gives the schedule back its rate(1 day), which starts again from the rollback.
    created = daily.schedule_changed_at()
    daily.recurring.run_days(0.5)
    daily.driver.engine.faults.fail_resources = {"After"}
    statuses: list[str] = []
    daily.recurring.run_days(1.6, during=lambda: statuses.append(daily.deploy("failing")))
    assert statuses == ["UPDATE_ROLLBACK_COMPLETE"]
    restored = daily.schedule_changed_at()
    delivered = [(time, expression) for time, expression, _ in daily.delivered()]
    # The new definition held the schedule for a moment (it delivered once, as Scheduler would), then
    # the restored one: from the rollback, daily; the day-one time of the original start never comes.
    assert delivered[0] == (_at(created), "rate(1 day)")
    assert delivered[1][1] == "rate(2 days)" and delivered[1][0] <= _at(restored)
    assert delivered[2:] == [(_at(restored), "rate(1 day)"), (_at(restored, 1), "rate(1 day)")]
    assert _at(created, 1) not in [time for time, _ in delivered]


def test_a_rate_schedule_with_a_start_date_starts_there_and_stops_at_its_end_date(daily: _Session) -> None:
    # "Schedule types": with a StartDate, the first occurrence is at it; none after the EndDate. The
    # deploy is on Monday 5 January; the window's schedule starts on the 8th and ends on the 9th at noon.
    assert daily.deploy("window") == "UPDATE_COMPLETE"
    daily.recurring.run_days(6)
    times = [time for time, _, _ in daily.delivered()]
    assert times == ["2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z"]
    # The update changed the schedule in the second v1 created it: nothing of v1's fell before it.
    assert daily.recurring.missed == 0


def test_a_paused_cron_schedule_resumes_at_its_next_time_after_its_enabling(daily: _Session) -> None:
    # Daily at 06:00 UTC; the deploy is on Monday 5 January at about 09:50. Paused over the 6th and the
    # 7th, enabled again on the 7th at about 10:00: the next time is the 8th at 06:00, nothing before.
    assert daily.deploy("cron") == "UPDATE_COMPLETE"
    daily.recurring.run_days(0.75)  # to about 03:50 on the 6th
    assert daily.deploy("cron-paused") == "UPDATE_COMPLETE"
    daily.recurring.run_days(1.25)  # the 6th's and the 7th's 06:00 pass while paused
    assert daily.deploy("cron") == "UPDATE_COMPLETE"
    daily.recurring.run_days(1.5)
    assert [time for time, _, _ in daily.delivered()] == ["2026-01-08T06:00:00Z"]
    assert daily.recurring.missed == 0
