"""The CDK Provider framework, as the job resource's ServiceToken function would behave: build the
CloudFormation request, invoke the user's on-event function with it, and turn its return value (or its
exception) into the answer CloudFormation would get.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from constructs_lib._contract import contract
from constructs_lib.rehearsal.lambdas import FunctionSpec, InvocationError, LambdaRuntime

# The framework's physical id for a resource whose Create failed; its Delete is a no-op.
CREATE_FAILED_MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


@dataclass(frozen=True)
class ProviderAnswer:
    """What the Provider framework would send back to CloudFormation."""

    ok: bool
    physical_id: str
    data: dict[str, Any]
    reason: str = ""


class ProviderFramework:
    def __init__(self, runtime: LambdaRuntime, base_url: str, after_invoke: Callable[[], None]) -> None:
        self._runtime = runtime
        self._base_url = base_url
        self._after_invoke = after_invoke
        self._requests = 0

    def event(
        self,
        *,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        request_type: str,
        properties: dict[str, Any],
        old: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        """A CloudFormation custom resource request (Create, Update or Delete)."""
        self._requests += 1
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken", ""),
            "ResponseURL": f"{self._base_url}/custom-resource-response/{self._requests}",
            "StackId": stack_id,
            "RequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"rehearsal-request:{self._requests}")),
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": properties,
        }
        if old is not None:
            event["OldResourceProperties"] = old
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        return event

    def send(
        self, on_event: FunctionSpec, event: dict[str, Any], framework: FunctionSpec | None = None
    ) -> ProviderAnswer:
        """Invoke the user's on-event function and check its answer as the framework does."""
        physical_id = event.get("PhysicalResourceId")
        if event["RequestType"] == "Delete" and physical_id == CREATE_FAILED_MARKER:
            return ProviderAnswer(True, CREATE_FAILED_MARKER, {}, "never created: nothing to delete")
        denied = self._framework_denied(framework, on_event)
        if denied is not None:
            return ProviderAnswer(False, physical_id or CREATE_FAILED_MARKER, {}, denied)
        try:
            invocation = self._runtime.invoke(on_event, {**event, "ResponseURL": "..."})
        except InvocationError as error:
            self._after_invoke()
            return ProviderAnswer(False, physical_id or CREATE_FAILED_MARKER, {}, error.message)
        self._after_invoke()
        result = invocation.result if isinstance(invocation.result, dict) else {}
        answer_id = str(result.get("PhysicalResourceId") or physical_id or event["RequestId"])
        data = dict(result.get("Data") or {})
        if event["RequestType"] == "Delete" and answer_id != physical_id:
            reason = (
                f"DELETE: cannot change the physical resource ID from {physical_id} to {answer_id} "
                "during deletion"
            )
            return ProviderAnswer(False, str(physical_id), data, reason)
        response = {
            "Status": "SUCCESS",
            "PhysicalResourceId": answer_id,
            "Data": data,
            **{key: event[key] for key in ("StackId", "RequestId", "LogicalResourceId")},
        }
        if len(json.dumps(response).encode()) > contract.RESPONSE_LIMIT_BYTES:
            return ProviderAnswer(False, answer_id, data, "Response object is too long.")
        return ProviderAnswer(True, answer_id, data)

    def _framework_denied(self, framework: FunctionSpec | None, on_event: FunctionSpec) -> str | None:
        """The framework function's role must be allowed to get and invoke the on-event function."""
        enforcer = self._runtime.enforcer
        if enforcer is None or framework is None or framework is on_event:
            return None
        for action in ("lambda:GetFunction", "lambda:InvokeFunction"):
            denial = enforcer.check(
                framework.role_arn,
                action,
                {"FunctionName": on_event.arn},
                region=framework.region,
                account=framework.account,
            )
            if denial is not None:
                return denial.describe()
        return None


def cfn_properties(value: Any) -> Any:
    """Properties as CloudFormation sends them to a custom resource: every scalar a string."""
    if isinstance(value, dict):
        return {str(k): cfn_properties(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [cfn_properties(item) for item in value if item is not None]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
