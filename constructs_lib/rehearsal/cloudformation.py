"""CloudFormation's DescribeStacks, for the monitor: the engine's stacks with their status at that moment.

The monitor asks for its stack's status when a check is denied (lambda/monitor.py, on_error): while an
update runs, the runtime's shared policies lose a removed job's statements before the cleanup
(``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``) deletes the job's resource and stops its monitor. CloudFormation
speaks the query protocol (a form-encoded POST, an XML answer); only DescribeStacks by StackId or name is
modelled, with the statuses as CloudFormation spells them (engine.py sets them as an operation goes).
Source: the CloudFormation user guide, "Update behaviors of stack resources" and the stack status codes
(UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the cleanup deletes removed and replaced resources after the update).
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
class StackStatus:
    name: str
    stack_id: str
    status: str


class CloudFormationStandIn:
    """Answers DescribeStacks from ``source`` (the engine's stacks now: set by whoever owns the engine)."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[StackStatus]] = list
        self._gone: dict[str, StackStatus] = {}  # stacks seen before that are no longer deployed

    def answer(self, body: bytes) -> tuple[int, str]:
        """The HTTP status and XML of a query protocol request's answer."""
        form = {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        action = form.get("Action", "")
        if action != "DescribeStacks":
            return _error(400, "InvalidAction", f"The rehearsal does not model CloudFormation's {action!r}")
        return self._describe(form.get("StackName"))

    def _describe(self, name: str | None) -> tuple[int, str]:
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
            if not found:
                return _error(400, "ValidationError", f"Stack with id {name} does not exist")
        for stack in stacks:
            self._gone[stack.stack_id] = StackStatus(stack.name, stack.stack_id, "DELETE_COMPLETE")
        members = "".join(_member(stack) for stack in found)
        return 200, (
            f'<DescribeStacksResponse xmlns="{NAMESPACE}"><DescribeStacksResult><Stacks>{members}</Stacks>'
            "</DescribeStacksResult><ResponseMetadata><RequestId>rehearsal</RequestId></ResponseMetadata>"
            "</DescribeStacksResponse>"
        )


def _member(stack: StackStatus) -> str:
    created = datetime(2024, 1, 1, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return (
        f"<member><StackName>{escape(stack.name)}</StackName><StackId>{escape(stack.stack_id)}</StackId>"
        f"<CreationTime>{created}</CreationTime><StackStatus>{escape(stack.status)}</StackStatus></member>"
    )


def _error(status: int, code: str, message: str) -> tuple[int, str]:
    return status, (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>rehearsal</RequestId></ErrorResponse>"
    )
