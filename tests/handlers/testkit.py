"""Helpers for the deploy-time handler tests: CloudFormation events, stubbed clients, a handle server.

Importing this module puts lambda/, scripts/ and benchmarks/ on sys.path (lambda/ is not a package:
`lambda` is a keyword), as the Lambda runtime does with the asset's root.
"""

from __future__ import annotations

import http.server
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from botocore.stub import Stubber

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = REPO_ROOT / "lambda"
SCRIPTS_DIR = REPO_ROOT / "scripts"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
for path in (LAMBDA_DIR, SCRIPTS_DIR, BENCHMARKS_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_clients  # noqa: E402  (lambda/ is on sys.path only from here on)
import job_logic  # noqa: E402

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/RecsStack/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
)
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:RecsStack-Monitor"
SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeBatchRole"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/no-bought"
CLOSED_ENDPOINT = "http://127.0.0.1:9"


def base_properties(**overrides: Any) -> dict[str, Any]:
    """ResourceProperties as CloudFormation passes them: every scalar a string."""
    properties: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider-framework-onEvent",
        "SolutionVersionArn": SOLUTION_VERSION_ARN,
        "InputPath": "s3://in-bucket/users/",
        "OutputBucket": "out-bucket",
        "OutputPrefix": "batch-inference/RecsStack/Job/",
        "RoleArn": ROLE_ARN,
        "Mode": "BATCH_INFERENCE",
        "JobNamePrefix": "RecsStack-Job",
        "NumResults": "25",
        "TimeoutSeconds": "21600",
        "Tags": [{"Key": "team", "Value": "recs"}],
    }
    properties.update(overrides)
    return {key: value for key, value in properties.items() if value is not None}


def cfn_event(
    request_type: str,
    properties: dict[str, Any],
    *,
    old_properties: dict[str, Any] | None = None,
    physical_id: str | None = None,
    logical_id: str = "Job",
    stack_id: str = STACK_ID,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties.get("ServiceToken", ""),
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": stack_id,
        "RequestId": "7bfc1a6e-0000-4000-8000-000000000001",
        "LogicalResourceId": logical_id,
        "ResourceType": "Custom::PersonalizeBatchInferenceJob",
        "ResourceProperties": properties,
    }
    if old_properties is not None:
        event["OldResourceProperties"] = old_properties
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


@dataclass
class Stubs:
    """The handlers' clients and their active stubbers."""

    clients: aws_clients.Clients
    personalize: Stubber
    stepfunctions: Stubber
    events: Stubber
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def params_of(self, operation: str) -> list[dict[str, Any]]:
        """Parameters of every call of `operation` made so far, in order."""
        return [params for name, params in self.calls if name == operation]


class HandleServer:
    """Loopback stand-in for a WaitConditionHandle URL: records each PUT, answers queued statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: deque[int] = deque()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                self.send_response(server.statuses.popleft() if server.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/cloudformation-waitcondition/handle?X-Amz-Signature=abc&Expires=1"

    def __enter__(self) -> HandleServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def props_of(properties: dict[str, Any]) -> job_logic.JobProps:
    return job_logic.parse_properties(properties)


def name_of(properties: dict[str, Any], logical_id: str = "Job", stack_id: str = STACK_ID) -> str:
    return job_logic.derive_job_name(props_of(properties), stack_id, logical_id)


def arn_of(name: str) -> str:
    return job_logic.job_arn(job_logic.parse_stack_arn(STACK_ID), name)


def request_of(properties: dict[str, Any], logical_id: str = "Job") -> dict[str, Any]:
    return job_logic.build_create_request(props_of(properties), name_of(properties, logical_id))


def describe_response(
    request: dict[str, Any], status: str, failure_reason: str | None = None, **changes: Any
) -> dict[str, Any]:
    """A DescribeBatchInferenceJob answer for the job `request` created."""
    job = {key: value for key, value in request.items() if key != "tags"}
    job.update(
        batchInferenceJobArn=arn_of(request["jobName"]),
        status=status,
        creationDateTime=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
        lastUpdatedDateTime=datetime(2024, 5, 1, 10, 5, tzinfo=timezone.utc),
    )
    if failure_reason is not None:
        job["failureReason"] = failure_reason
    job.update(changes)
    return {"batchInferenceJob": job}


def start_execution_response(name: str = "exec") -> dict[str, Any]:
    return {
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:RecsStack-Monitor:{name}",
        "startDate": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
    }


PUT_EVENTS_OK: dict[str, Any] = {
    "FailedEntryCount": 0,
    "Entries": [{"EventId": "11111111-2222-3333-4444-555555555555"}],
}


T0 = "2024-05-01T10:00:00.000Z"


def at(seconds: float) -> str:
    """Step Functions' `$$.State.EnteredTime`, `seconds` after T0."""
    moment = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def monitor_state(
    properties: dict[str, Any],
    *,
    logical_id: str = "Job",
    created: bool = True,
    status: str = "PENDING",
    wait_handle: str | None = None,
    started_at: str | None = None,
    checks: int = 0,
) -> dict[str, Any]:
    """The monitor's state (docs/handler-contract.md) for the job of `properties`."""
    request = request_of(properties, logical_id)
    name = request["jobName"]
    state: dict[str, Any] = {
        "jobArn": arn_of(name),
        "jobName": name,
        "outputS3Uri": request["jobOutput"]["s3DataDestination"]["path"],
        "created": created,
        "waitHandle": wait_handle,
        "timeoutSeconds": int(properties["TimeoutSeconds"]),
        "startedAt": started_at,
        "stackId": STACK_ID,
        "logicalId": logical_id,
        "checks": checks,
        "status": status,
        "waitSeconds": 0,
        "done": False,
    }
    if not created:
        state["createRequest"] = request
    return state
