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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from constructs_lib._contract import contract
from constructs_lib.rehearsal.events import ReceivedEvent, matches
from constructs_lib.rehearsal.personalize import DATASET, SOLUTION, PersonalizeStandIn
from constructs_lib.rehearsal.s3 import sample_body
from constructs_lib.rehearsal.server import Caller, ServiceError
from constructs_lib.rehearsal.stepfunctions import Execution

if TYPE_CHECKING:
    from constructs_lib.rehearsal.discovery import JobResource
    from constructs_lib.rehearsal.driver import Driver
    from constructs_lib.rehearsal.engine import StackState

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
    """Every time (UTC) in ``(start, end]`` at which the schedule fires. A rate schedule (without a
    StartDate, as this library makes them) fires at its creation, even at ``start``, then every step
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


class Recurring:
    """The schedules and chain rules of the deployed stacks, delivered on the simulated clock."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._rules: list[_Rule] = []
        self._seen_executions: set[str] = set()
        self.deliveries = 0
        self.skips = 0

    @property
    def _sandbox(self) -> Any:
        return self._driver.sandbox

    def run_days(self, days: float) -> None:
        """Let ``days`` simulated days pass: deliver what fires meanwhile, and let its runs end."""
        clock = self._sandbox.clock
        start = clock.now()
        end = start + timedelta(days=days)
        self._rules = [rule for state in self._driver.states.values() for rule in _rules_of(state)]
        for state in list(self._driver.states.values()):
            for logical_id, resource in state.template.get("Resources", {}).items():
                if resource.get("Type") == SCHEDULE_TYPE:
                    self._plan(state, logical_id, resource, start, end)
        for wanted, day in self._driver.options.new_input:
            self._plan_new_input(wanted, day)
        self._driver.advance(days * DAY)
        self._sandbox.timeline.add(
            "recurring",
            "note",
            f"{days:g} simulated days after the deploy: {self.deliveries} scheduled deliveries, "
            f"{self.skips} runs skipped",
            run="days",
            days=days,
        )

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

    def _plan(
        self, state: StackState, logical_id: str, resource: dict[str, Any], start: datetime, end: datetime
    ) -> None:
        properties = state.resolver.resolve(dict(resource.get("Properties", {})))
        key = state.key(logical_id)
        if str(properties.get("State") or "ENABLED") != "ENABLED":
            self._sandbox.timeline.add(key, "note", "schedule DISABLED (paused): no deliveries", run="paused")
            return
        expression = str(properties["ScheduleExpression"])
        zone = properties.get("ScheduleExpressionTimezone")
        clock = self._sandbox.clock
        for moment in occurrences(expression, zone, created=start, start=start, end=end):
            offset = (moment - clock.start).total_seconds()
            self._sandbox.scheduler.at(
                offset, lambda moment=moment: self._deliver_schedule(state, properties, moment)
            )

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
