"""Runs without a deploy, rehearsed: ``--days N`` lets N simulated days pass after the deploy, in which
EventBridge Scheduler delivers every deployed ``AWS::Scheduler::Schedule`` (rate, cron with a time zone,
at) to its target, and EventBridge delivers each end event a deployed rule matches to its monitor target
(the chain rules), with the rule's input transformer.

The deliveries start the stack's monitor as the services would (the scheduler's and the rule's role
checked by the offline IAM evaluator); the monitor's first check then skips the run or starts it
(``lambda/scheduled.py``). Every delivery, skip and run is put on the timeline under the job's
resource key (kind ``note``, with ``data``: ``run`` = ``scheduled``, ``chained``, ``skipped`` or
``started``, ``trigger``, ``scheduledTime``, ``reason``), and each run's job joins the report's rows
(phase ``schedule`` or ``chain``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from constructs_lib._contract import contract
from constructs_lib.rehearsal.clock import Timer
from constructs_lib.rehearsal.events import ReceivedEvent, matches
from constructs_lib.rehearsal.personalize import DATASET, SOLUTION, PersonalizeStandIn
from constructs_lib.rehearsal.s3 import sample_body
from constructs_lib.rehearsal.server import Caller, ServiceError
from constructs_lib.rehearsal.stepfunctions import Execution

if TYPE_CHECKING:
    from constructs_lib.rehearsal.discovery import JobResource
    from constructs_lib.rehearsal.driver import Driver
    from constructs_lib.rehearsal.engine import ResourceState, StackState

SCHEDULE_TYPE = "AWS::Scheduler::Schedule"
RULE_TYPE = "AWS::Events::Rule"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
DAY = 86_400.0
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {
    name: index
    for index, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}


class ScheduleExpressionError(ValueError):
    """A schedule expression the rehearsal cannot read."""


# --- when a schedule fires ---------------------------------------------------------------------------


def occurrences(
    expression: str, time_zone: str | None, *, created: datetime, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Every time (UTC) in ``(start, end]`` at which the schedule fires. A rate schedule fires at its
    start ``created`` (its creation or last update, or its StartDate), even at ``start``, then every step
    ("Schedule types": without a StartDate it "starts invoking the target immediately"); cron and at are
    read in ``time_zone`` (default UTC), and a local time the clocks go back over fires once, at its first
    occurrence (Knowledge Center eventbridge-scheduler-adjust-dst: it "runs only once and doesn't
    repeat its invocation"); a local time they skip does not fire."""
    zone = ZoneInfo(time_zone or "UTC")
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        step = timedelta(seconds=int(rate[1]) * _UNIT_SECONDS[rate[2].rstrip("s")])
        moment = created
        if moment < start:  # the steps before the window: skipped, not walked
            moment += step * ((start - moment) // step)
        while moment <= end:
            if moment > start or moment == created >= start:
                yield moment
            moment += step
        return
    at = _AT.match(text)
    if at:
        moment = datetime.fromisoformat(at[1]).replace(tzinfo=zone).astimezone(timezone.utc)
        if start < moment <= end:
            yield moment
        return
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleExpressionError(f"{expression!r} is not rate(...), cron(...) or at(...)")
    fields = cron[1].split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"{expression!r}: a cron expression has 6 fields")
    minutes, hours, days, months, weekdays, years = fields
    moment = (start + timedelta(minutes=1)).replace(second=0, microsecond=0)
    while moment <= end:
        local = moment.astimezone(zone)
        if local.fold:  # the repeated hour when the clocks go back: fired at its first occurrence
            moment += timedelta(minutes=1)
            continue
        weekday = (local.isoweekday() % 7) + 1  # SUN = 1 ... SAT = 7
        if (
            _field(minutes, local.minute, 0, 59)
            and _field(hours, local.hour, 0, 23)
            and _field(months, local.month, 1, 12, _MONTHS)
            and _field(years, local.year, 1970, 2199)
            and (days == "?" or _field(days, local.day, 1, 31))
            and (weekdays == "?" or _field(weekdays, weekday, 1, 7, _WEEKDAYS))
        ):
            yield moment
        moment += timedelta(minutes=1)


def _field(spec: str, value: int, low: int, high: int, names: dict[str, int] | None = None) -> bool:
    """One cron field: ``*``, numbers, names, ``a-b``, ``*/n``, ``a/n``, lists of those."""
    for part in spec.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _number(first_text, names), _number(last_text, names)
        else:
            first = _number(base, names)
            last = high if step_text else first
        if first <= value <= last and (value - first) % step == 0:
            return True
    return False


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    try:
        return int(text)
    except ValueError:
        raise ScheduleExpressionError(f"cron field value {text!r} is not supported offline") from None


def scheduler_time(moment: datetime) -> str:
    """``<aws.scheduler.scheduled-time>`` as EventBridge Scheduler writes it: ``2026-01-12T05:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the deliveries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    stack: str
    logical_id: str
    pattern: dict[str, Any]
    targets: tuple[dict[str, Any], ...]


@dataclass
class _Track:
    """One deployed schedule as the rehearsal's scheduler follows it."""

    state: StackState
    resource: ResourceState  # as the engine holds it: its definition and when it last changed
    covered: datetime  # its times up to here are accounted for (delivered, paused or missed)
    definition: dict[str, Any] = field(default_factory=dict)  # as last read (before a change)
    anchor: datetime | None = None  # ... and its start then
    generation: int = 0  # bumped at each change: a delivery planned before it is dropped
    timers: list[Timer] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.state.key(self.resource.logical_id)


class Recurring:
    """The schedules and chain rules of the deployed stacks, delivered on the simulated clock.

    Each schedule is followed from its own start (when its ``AWS::Scheduler::Schedule`` was created or
    last updated, a rollback included, or its ``StartDate``), across every ``run_days`` window. A window
    delivers the times that fall in it, with the definition the schedule holds at each: a stack operation
    run inside the window (``run_days(days, during=...)``) changes the schedule when CloudFormation
    reaches it, so a delivery before that reads the old definition and one after the new. Times that fall
    outside every window (during a deploy between two windows) are not delivered: each is flagged on the
    timeline (``run`` = ``missed``) and in the warnings."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._rules: list[_Rule] = []
        self._seen_executions: set[str] = set()
        self._tracks: dict[str, _Track] = {}
        self._horizon: datetime | None = None  # the end of the window under way (None: no window)
        self.deliveries = 0
        self.skips = 0
        self.missed = 0  # scheduled times outside every window (flagged, not delivered)
        self._warned = 0  # ... of which a warning already told
        driver.engine.on_schedule = self._changed
        for state in driver.states.values():  # the schedules deployed before it: followed from their start
            for resource in state.resources.values():
                if resource.type == SCHEDULE_TYPE and resource.status != "DELETE_COMPLETE":
                    self._track(state, resource)

    @property
    def _sandbox(self) -> Any:
        return self._driver.sandbox

    def run_days(self, days: float, *, during: Callable[[], object] | None = None) -> None:
        """Let ``days`` simulated days pass: deliver what fires meanwhile, and let its runs end.
        ``during`` (a stack operation, such as ``lambda: driver.deploy(assembly, "update")``) runs at the
        window's start, while the schedules deliver."""
        clock = self._sandbox.clock
        start = clock.now()
        end = start + timedelta(days=days)
        self._rules = [rule for state in self._driver.states.values() for rule in _rules_of(state)]
        self._horizon = end
        for state in list(self._driver.states.values()):
            for resource in list(state.resources.values()):
                if resource.type == SCHEDULE_TYPE and resource.status != "DELETE_COMPLETE":
                    self._plan(self._track(state, resource), end)
        for wanted, day in self._driver.options.new_input:
            self._plan_new_input(wanted, day)
        try:
            if during is not None:
                during()
            if clock.now() < end:
                self._driver.advance((end - clock.now()).total_seconds())
        finally:
            self._horizon = None
        for key, track in list(self._tracks.items()):
            if not self._alive(track):
                del self._tracks[key]  # deleted with its stack, or by an update
                continue
            self._flag_missed(track, clock.now())  # after the window's end, if ``during`` outlasted it
            track.covered = max(track.covered, clock.now())
        missed, self._warned = self.missed - self._warned, self.missed
        if missed:
            self._driver.warnings.append(
                f"{missed} scheduled time(s) fell outside the --days windows (during a stack operation "
                "before the window) and were not delivered: see the timeline's 'missed' notes"
            )
        self._sandbox.timeline.add(
            "recurring",
            "note",
            f"{days:g} simulated days after the deploy: {self.deliveries} scheduled deliveries, "
            f"{self.skips} runs skipped",
            run="days",
            days=days,
        )

    # --- the schedules as Scheduler holds them -----------------------------------------------------

    def _track(self, state: StackState, resource: ResourceState) -> _Track:
        """The schedule's track; a new one for a schedule created again (a new stack, a replacement)."""
        key = state.key(resource.logical_id)
        track = self._tracks.get(key)
        if track is None or track.resource is not resource:
            # Its own start counts: a rate schedule fires at it.
            start = self._start_of(state, resource)
            definition = self._definition(state, resource)
            covered = start - timedelta(microseconds=1)
            track = self._tracks[key] = _Track(state, resource, covered, definition, start)
        return track

    def _definition(self, state: StackState, resource: ResourceState) -> dict[str, Any]:
        """The schedule's properties as the engine last applied them (resolved)."""
        if resource.properties:
            return resource.properties
        template = state.template.get("Resources", {}).get(resource.logical_id, {})
        return dict(state.resolver.resolve(dict(template.get("Properties", {}))))

    def _start_of(self, state: StackState, resource: ResourceState) -> datetime:
        """When the schedule starts: its StartDate, else its creation or last update (UpdateSchedule
        sets every field it is not given to its default: no StartDate, so it starts again then)."""
        start_date = self._definition(state, resource).get("StartDate")
        if start_date:
            return _utc(str(start_date))
        clock = self._sandbox.clock
        changed = resource.data.get("changedAt")
        moment: datetime = clock.now() if changed is None else clock.start + timedelta(seconds=float(changed))
        return moment

    def _changed(self, state: StackState, resource: ResourceState) -> None:
        """The engine created or updated a schedule (CreateSchedule, UpdateSchedule, a rollback's): the
        times planned from the old definition are dropped; inside a window, the new ones are planned."""
        track = self._track(state, resource)
        for timer in track.timers:
            timer.cancel()
        track.timers.clear()
        track.generation += 1
        now = self._sandbox.clock.now()
        # The old definition's times since the last accounted one, outside a window, were not delivered
        # (inside one, every time up to its end is planned already).
        self._flag_missed(track, now)
        track.definition = self._definition(state, resource)
        track.anchor = self._start_of(state, resource)
        track.covered = min(self._start_of(state, resource), now) - timedelta(microseconds=1)
        if self._horizon is not None and now <= self._horizon:
            self._plan(track, self._horizon)

    def _alive(self, track: _Track) -> bool:
        state = track.state
        return (
            self._driver.engine.stacks.get(state.name) is state
            and state.resources.get(track.resource.logical_id) is track.resource
            and track.resource.status != "DELETE_COMPLETE"
        )

    def _plan(self, track: _Track, end: datetime) -> None:
        """Plan the track's times up to ``end``. Times that fell before now: the last minute's are
        delivered now (Scheduler's 60-second precision), older ones were missed (outside a window)."""
        state, resource = track.state, track.resource
        clock = self._sandbox.clock
        now = clock.now()
        properties = self._definition(state, resource)
        if str(properties.get("State") or "ENABLED") != "ENABLED":
            # Paused: nothing is delivered, nor caught up once enabled again (that is an update).
            self._sandbox.timeline.add(
                track.key, "note", "schedule DISABLED (paused): no deliveries", run="paused"
            )
            track.covered = max(track.covered, end)
            return
        start = self._start_of(state, resource)
        track.definition, track.anchor = properties, start
        expression = str(properties["ScheduleExpression"])
        zone = properties.get("ScheduleExpressionTimezone")
        end_date = _utc(str(properties["EndDate"])) if properties.get("EndDate") else None
        generation = track.generation
        for moment in occurrences(expression, zone, created=start, start=track.covered, end=end):
            if moment < start or (end_date is not None and moment > end_date):
                continue
            if moment < now - timedelta(seconds=60):
                self._missed(track, moment)
                continue
            offset = (max(moment, now) - clock.start).total_seconds()
            track.timers.append(
                self._sandbox.scheduler.at(
                    offset, lambda moment=moment: self._fire(track, generation, moment)
                )
            )
        track.covered = max(track.covered, end)

    def _flag_missed(self, track: _Track, until: datetime) -> None:
        """The times of the track's last definition after its last accounted one and before ``until``,
        outside every window: flagged."""
        definition, anchor = track.definition, track.anchor
        if not definition or anchor is None or str(definition.get("State") or "ENABLED") != "ENABLED":
            return
        expression = str(definition["ScheduleExpression"])
        zone = definition.get("ScheduleExpressionTimezone")
        for moment in occurrences(expression, zone, created=anchor, start=track.covered, end=until):
            if anchor <= moment < until:
                self._missed(track, moment)

    def _missed(self, track: _Track, moment: datetime) -> None:
        self.missed += 1
        track.covered = max(track.covered, moment)
        self._sandbox.timeline.add(
            track.key,
            "note",
            f"scheduled time {scheduler_time(moment)} fell outside the --days windows: not delivered by "
            "the rehearsal",
            run="missed",
            scheduledTime=scheduler_time(moment),
        )

    def _fire(self, track: _Track, generation: int, moment: datetime) -> None:
        """A planned time comes: delivered with the definition the schedule holds now."""
        if generation != track.generation or not self._alive(track):
            return
        self._deliver_schedule(track.state, self._definition(track.state, track.resource), moment)

    def _plan_new_input(self, wanted: str, day: float) -> None:
        """New data lands under the input path of job ``wanted`` on ``day`` after the deploy (as whatever
        collects it would upload it): a new object, unlike every object before it."""
        for state in self._driver.states.values():
            for job in state.model.jobs.values():
                if not job_named(job, wanted):
                    continue
                resource = state.template["Resources"][job.logical_id]
                properties = state.resolver.resolve(dict(resource.get("Properties", {})))
                path = str(properties.get("DataLocation") or properties.get("InputPath") or "")
                if not path:
                    continue
                mode = "INTERACTIONS" if "DataLocation" in properties else "BATCH_INFERENCE"
                extension = ".csv" if mode == "INTERACTIONS" else ".json"
                uri = f"{path}new-day-{day:g}{extension}"
                body = sample_body(mode, self._driver.options.records + int(day))

                def land(uri: str = uri, body: str = body, key: str = job.key) -> None:
                    self._sandbox.s3.write(uri, body)
                    self._sandbox.timeline.add(
                        key, "note", f"new input landed: {uri}", run="new-input", uri=uri
                    )

                offset = self._sandbox.clock.elapsed + day * DAY
                self._sandbox.scheduler.at(offset, land)

    def _deliver_schedule(self, state: StackState, properties: dict[str, Any], moment: datetime) -> None:
        target = properties["Target"]
        text = str(target.get("Input") or "{}").replace(SCHEDULED_TIME, scheduler_time(moment))
        request = json.loads(text)
        key = f"{state.name}/{request.get('logicalId')}"
        self.deliveries += 1
        self._sandbox.timeline.add(
            key,
            "note",
            f"scheduled delivery ({scheduler_time(moment)})",
            run="scheduled",
            trigger="schedule",
            scheduledTime=scheduler_time(moment),
            # The definition delivered (the schedule's as it stood then): its expression and job.
            expression=properties.get("ScheduleExpression"),
            definition=request.get("properties"),
        )
        self._start(key, str(target.get("RoleArn") or ""), str(target["Arn"]), text)

    def on_event(self, event: ReceivedEvent) -> None:
        """An end event: a skip goes on the timeline; each rule it matches starts its monitor target."""
        detail = event.detail
        stack_id = str(detail.get("stackId") or "")
        if not stack_id.startswith("arn:"):
            return  # not an event of a job of a rehearsed stack
        key = f"{_stack_name(stack_id)}/{detail.get('logicalId')}"
        region, account = stack_id.split(":")[3:5]
        if detail.get("result") == "SKIPPED":
            self.skips += 1
            self._sandbox.timeline.add(
                key,
                "note",
                f"run skipped: {detail.get('reason')}",
                run="skipped",
                trigger=detail.get("trigger"),
                scheduledTime=detail.get("scheduledTime"),
                reason=detail.get("reason"),
            )
        document = {
            "version": "0",
            "id": event.event_id,
            "detail-type": event.detail_type,
            "source": event.source,
            "account": account,
            "region": region,
            "resources": event.resources,
            "detail": detail,
        }
        for rule in self._rules:
            if not matches(rule.pattern, document):
                continue
            for target in rule.targets:
                text = _transformed(target, document)
                request = json.loads(text)
                downstream = f"{rule.stack}/{request.get('logicalId')}"
                self._sandbox.timeline.add(
                    downstream,
                    "note",
                    f"chained after {detail.get('jobName')} ({rule.logical_id})",
                    run="chained",
                    trigger="chain",
                    upstream=detail.get("jobArn"),
                )
                self._start(downstream, str(target.get("RoleArn") or ""), str(target["Arn"]), text)

    def _start(self, key: str, role: str, machine: str, text: str) -> None:
        """StartExecution as the scheduler or the rule's target does it, under its role."""
        sandbox = self._sandbox
        region, account = machine.split(":")[3:5]
        enforcer = self._driver.enforcer
        if enforcer is not None:
            denial = enforcer.check(
                role, "states:StartExecution", {"stateMachineArn": machine}, region=region, account=account
            )
            if denial is not None:
                self._driver.failures.append(f"{key}: delivery denied: {denial.describe()}")
                sandbox.timeline.add(key, "note", f"delivery denied: {denial.describe()}")
                return
        try:
            sandbox.stepfunctions.handle(
                "StartExecution", {"stateMachineArn": machine, "input": text}, Caller(region, account)
            )
        except ServiceError as error:
            self._driver.failures.append(f"{key}: the delivery could not start the monitor: {error}")
            return
        self._driver.drain()

    def on_execution(self, execution: Execution) -> None:
        """A run's own monitor (its input names the run's job): the job joins the report, and a failure
        asked for with ``--fail`` is injected into it."""
        if execution.arn in self._seen_executions:
            return
        self._seen_executions.add(execution.arn)
        try:
            state = json.loads(execution.input_text)
        except json.JSONDecodeError:
            return
        if not isinstance(state, dict) or state.get("trigger") not in ("schedule", "chain"):
            return
        if "jobName" not in state:
            return
        self._driver.scheduled_run_started(state)


def job_named(job: JobResource, wanted: str) -> bool:
    """Whether ``wanted`` (a construct id, logical id or path) names ``job``."""
    return wanted in (job.construct_id, job.logical_id, job.path, job.key)


def _rules_of(state: StackState) -> list[_Rule]:
    """The stack's rules that start a state machine (the chain rules), resolved."""
    found: list[_Rule] = []
    for logical_id, resource in state.template.get("Resources", {}).items():
        if resource.get("Type") != RULE_TYPE:
            continue
        properties = state.resolver.resolve(dict(resource.get("Properties", {})))
        if str(properties.get("State") or "ENABLED") != "ENABLED" or not properties.get("EventPattern"):
            continue
        targets = tuple(
            target for target in properties.get("Targets", []) if ":states:" in str(target.get("Arn"))
        )
        if targets:
            found.append(_Rule(state.name, logical_id, dict(properties["EventPattern"]), targets))
    return found


def _transformed(target: dict[str, Any], document: dict[str, Any]) -> str:
    """The target's input for ``document``: Input, InputPath or an InputTransformer, as EventBridge."""
    if "Input" in target:
        return str(target["Input"])
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(document)
    text = str(transformer["InputTemplate"])
    for name, path in dict(transformer.get("InputPathsMap") or {}).items():
        value: Any = document
        for part in str(path).removeprefix("$.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        quoted = f'"<{name}>"'
        if quoted in text:  # inside quotes: the text itself
            text = text.replace(quoted, json.dumps(value if isinstance(value, str) else json.dumps(value)))
        text = text.replace(f"<{name}>", json.dumps(value))
    return text


def _utc(text: str) -> datetime:
    """A StartDate or EndDate (ISO 8601; UTC when it names no offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _stack_name(stack_id: str) -> str:
    """``arn:...:stack/NAME/id`` -> NAME."""
    return stack_id.split(":stack/", 1)[-1].split("/", 1)[0]


# --- what the skip checks read from Personalize ----------------------------------------------------------


def listings(standin: PersonalizeStandIn) -> dict[str, Callable[[dict[str, Any], Caller], dict[str, Any]]]:
    """The stand-in's answers to the skip checks' calls (ListDatasetImportJobs, ListDatasets,
    DescribeSolution), from the jobs it ran and the native resources the stacks created."""

    def imports(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        dataset = request.get("datasetArn")
        jobs = [
            job
            for job in standin.jobs()
            if job.kind is contract.DATASET_IMPORT
            and (dataset is None or job.request.get("datasetArn") == dataset)
        ]
        return {
            "datasetImportJobs": [
                {
                    "datasetImportJobArn": job.arn,
                    "jobName": job.name,
                    "status": job.status,
                    **standin._times(job),
                }
                for job in jobs
            ]
        }

    def datasets(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        group = request.get("datasetGroupArn")
        return {
            "datasets": [
                {"datasetArn": native.arn, "status": "ACTIVE"}
                for native in standin.natives.values()
                if native.type == DATASET and native.dataset_group == group
            ]
        }

    def solution(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        arn = str(request.get("solutionArn"))
        native = standin.natives.get(arn)
        if native is None or native.type != SOLUTION:
            raise ServiceError("ResourceNotFoundException", f"Could not find resource with ARN {arn}.")
        return {"solution": {"solutionArn": arn, "datasetGroupArn": native.dataset_group, "status": "ACTIVE"}}

    return {"ListDatasetImportJobs": imports, "ListDatasets": datasets, "DescribeSolution": solution}
