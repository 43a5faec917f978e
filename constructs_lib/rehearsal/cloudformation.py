"""CloudFormation's DescribeStacks and DescribeStackResource, for the monitor: the engine's stacks with
their status (and their resources') at that moment.

The monitor asks for its stack's status when a check is denied (lambda/monitor.py, on_error): while an
update runs, the runtime's shared policies lose a removed job's statements before the cleanup
(``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``) deletes the job's resource and stops its monitor. CloudFormation
speaks the query protocol (a form-encoded POST, an XML answer); only DescribeStacks by StackId or name is
modelled, with the statuses as CloudFormation spells them (engine.py sets them as an operation goes),
and ``LastUpdatedTime`` when the stack's last update (or an update's rollback) began on the simulated
clock, absent for a stack never updated (API Reference, ``Stack``: "only returned if the stack has been
updated at least once"); a run request compares it with when it was due (lambda/scheduled.py).
Source: the CloudFormation user guide, "Update behaviors of stack resources" and the stack status codes
(UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the cleanup deletes removed and replaced resources after the update).

A run request still denied once its stack has settled asks whether the stack still holds its job
(lambda/scheduled.py, held_resource): DescribeStackResource by StackId or name and LogicalResourceId
answers the resource's status (``StackResourceDetail``); a resource the stack does not hold is
CloudFormation's ``ValidationError`` "Resource <LogicalId> does not exist for stack <name>", an unknown
stack "Stack with id <name> does not exist"; a deleted stack (by its StackId) still describes its
resources, as ``DELETE_COMPLETE``. Source: the CloudFormation API Reference, ``API_DescribeStackResource``
("For deleted stacks, DescribeStackResource returns resource information for up to 90 days after the
stack has been deleted"; deleted stacks by their unique stack ID only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
CONTENT_TYPE = "text/xml"


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str | None
    status: str


@dataclass(frozen=True)
class StackStatus:
    name: str
    stack_id: str
    status: str
    resources: tuple[StackResource, ...] = ()
    # When its last update (or an update's rollback) began; None for a stack never updated.
    last_updated: datetime | None = None


class CloudFormationStandIn:
    """Answers DescribeStacks and DescribeStackResource from ``source`` (the engine's stacks now: set by
    whoever owns the engine)."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[StackStatus]] = list
        self._gone: dict[str, StackStatus] = {}  # stacks seen before that are no longer deployed

    def answer(self, body: bytes) -> tuple[int, str]:
        """The HTTP status and XML of a query protocol request's answer."""
        form = {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        action = form.get("Action", "")
        if action == "DescribeStacks":
            return self._describe(form.get("StackName"))
        if action == "DescribeStackResource":
            return self._describe_resource(form.get("StackName"), form.get("LogicalResourceId"))
        return _error(400, "InvalidAction", f"The rehearsal does not model CloudFormation's {action!r}")

    def _find(self, name: str | None) -> list[StackStatus]:
        """The stacks ``name`` names now (every one without a name), a deleted one by its StackId only."""
        stacks = list(self.source())
        for stack in stacks:
            self._gone.pop(stack.stack_id, None)
        if name is None:
            found = stacks
        else:
            found = [stack for stack in stacks if name in (stack.stack_id, stack.name)]
            if not found and name in self._gone:
                # A deleted stack is still described by its StackId (not by its name).
                found = [self._gone[name]]
        for stack in stacks:
            self._gone[stack.stack_id] = _deleted(stack)
        return found

    def _describe(self, name: str | None) -> tuple[int, str]:
        found = self._find(name)
        if not found:
            return _error(400, "ValidationError", f"Stack with id {name} does not exist")
        members = "".join(_member(stack) for stack in found)
        return 200, (
            f'<DescribeStacksResponse xmlns="{NAMESPACE}"><DescribeStacksResult><Stacks>{members}</Stacks>'
            "</DescribeStacksResult><ResponseMetadata><RequestId>rehearsal</RequestId></ResponseMetadata>"
            "</DescribeStacksResponse>"
        )

    def _describe_resource(self, name: str | None, logical_id: str | None) -> tuple[int, str]:
        if not name or not logical_id:
            missing = "StackName" if not name else "LogicalResourceId"
            return _error(400, "ValidationError", f"1 validation error detected: {missing} must not be null")
        found = self._find(name)
        if not found:
            return _error(400, "ValidationError", f"Stack with id {name} does not exist")
        stack = found[0]
        resource = next((r for r in stack.resources if r.logical_id == logical_id), None)
        if resource is None:
            return _error(
                400, "ValidationError", f"Resource {logical_id} does not exist for stack {stack.name}"
            )
        updated = datetime(2024, 1, 1, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        physical = (
            f"<PhysicalResourceId>{escape(resource.physical_id)}</PhysicalResourceId>"
            if resource.physical_id
            else ""
        )
        return 200, (
            f'<DescribeStackResourceResponse xmlns="{NAMESPACE}"><DescribeStackResourceResult>'
            f"<StackResourceDetail><StackName>{escape(stack.name)}</StackName>"
            f"<StackId>{escape(stack.stack_id)}</StackId>"
            f"<LogicalResourceId>{escape(resource.logical_id)}</LogicalResourceId>{physical}"
            f"<ResourceType>{escape(resource.type)}</ResourceType>"
            f"<LastUpdatedTimestamp>{updated}</LastUpdatedTimestamp>"
            f"<ResourceStatus>{escape(resource.status)}</ResourceStatus>"
            "</StackResourceDetail></DescribeStackResourceResult>"
            "<ResponseMetadata><RequestId>rehearsal</RequestId></ResponseMetadata>"
            "</DescribeStackResourceResponse>"
        )


def _deleted(stack: StackStatus) -> StackStatus:
    """How a stack is described once deleted: DELETE_COMPLETE, its resources too."""
    resources = tuple(
        StackResource(r.logical_id, r.type, r.physical_id, "DELETE_COMPLETE") for r in stack.resources
    )
    return StackStatus(stack.name, stack.stack_id, "DELETE_COMPLETE", resources, stack.last_updated)


def _member(stack: StackStatus) -> str:
    created = datetime(2024, 1, 1, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # LastUpdatedTime: "The time the stack was last updated. This field will only be returned if the
    # stack has been updated at least once" (API Reference, Stack).
    updated = (
        f"<LastUpdatedTime>{_iso(stack.last_updated)}</LastUpdatedTime>"
        if stack.last_updated is not None
        else ""
    )
    return (
        f"<member><StackName>{escape(stack.name)}</StackName><StackId>{escape(stack.stack_id)}</StackId>"
        f"<CreationTime>{created}</CreationTime>{updated}<StackStatus>{escape(stack.status)}</StackStatus>"
        "</member>"
    )


def _iso(moment: datetime) -> str:
    """CloudFormation's timestamps: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _error(status: int, code: str, message: str) -> tuple[int, str]:
    return status, (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>rehearsal</RequestId></ErrorResponse>"
    )
