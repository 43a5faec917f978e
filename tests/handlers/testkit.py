"""Helpers for the deploy-time handler tests: CloudFormation events, stubbed clients, a handle server.

Importing this module puts lambda/, scripts/ and benchmarks/ on sys.path (lambda/ is not a package:
`lambda` is a keyword), as the Lambda runtime does with the asset's root.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from botocore.stub import ANY, Stubber

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = REPO_ROOT / "lambda"
SCRIPTS_DIR = REPO_ROOT / "scripts"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
for path in (LAMBDA_DIR, SCRIPTS_DIR, BENCHMARKS_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_clients  # noqa: E402  (lambda/ is on sys.path only from here on)
import contract  # noqa: E402
import definitions  # noqa: E402
import names  # noqa: E402
import props  # noqa: E402

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/RecsStack/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
)
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:RecsStack-Monitor"
SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs/1a2b3c4d"
SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
DATASET_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/recs-group/INTERACTIONS"
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/recs-group"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeBatchRole"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/no-bought"
CLOSED_ENDPOINT = "http://127.0.0.1:9"
REQUEST_ID = "7bfc1a6e-0000-4000-8000-000000000001"
HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/handle?sig=1"
OLD_HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/old?sig=1"
NEW_HANDLE = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/new?sig=2"
BI = contract.BATCH_INFERENCE
SEGMENT = contract.BATCH_SEGMENT
DATASET_IMPORT = contract.DATASET_IMPORT
SOLUTION_VERSION = contract.SOLUTION_VERSION


def base_properties(**overrides: Any) -> dict[str, Any]:
    """A batch inference job's ResourceProperties as CloudFormation passes them: every scalar a string."""
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


def kind_properties(kind: contract.JobKind, **overrides: Any) -> dict[str, Any]:
    """ResourceProperties of any kind's resource."""
    if kind is BI:
        return base_properties(**overrides)
    common: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider-framework-onEvent",
        "JobNamePrefix": "RecsStack-Job",
        "TimeoutSeconds": "21600",
    }
    specific: dict[str, dict[str, Any]] = {
        SEGMENT.key: {
            "SolutionVersionArn": SOLUTION_VERSION_ARN,
            "InputPath": "s3://in-bucket/items/",
            "OutputBucket": "out-bucket",
            "OutputPrefix": "batch-segment/RecsStack/Job/",
            "RoleArn": ROLE_ARN,
        },
        DATASET_IMPORT.key: {
            "DatasetArn": DATASET_ARN,
            "DataLocation": "s3://in-bucket/interactions.csv",
            "RoleArn": ROLE_ARN,
            "ImportMode": "FULL",
        },
        SOLUTION_VERSION.key: {"SolutionArn": SOLUTION_ARN, "TrainingMode": "FULL"},
        contract.DATA_DELETION.key: {
            "DatasetGroupArn": DATASET_GROUP_ARN,
            "DataLocation": "s3://in-bucket/erase/users.csv",
            "RoleArn": ROLE_ARN,
        },
        contract.DATASET_EXPORT.key: {
            "DatasetArn": DATASET_ARN,
            "IngestionMode": "ALL",
            "RoleArn": ROLE_ARN,
            "OutputBucket": "out-bucket",
            "OutputPrefix": "dataset-export/RecsStack/Job/",
        },
    }
    properties = {**common, **specific[kind.key], **overrides}
    return {key: value for key, value in properties.items() if value is not None}


def cfn_event(
    request_type: str,
    properties: dict[str, Any],
    *,
    old_properties: dict[str, Any] | None = None,
    physical_id: str | None = None,
    logical_id: str = "Job",
    stack_id: str = STACK_ID,
    kind: contract.JobKind = BI,
    request_id: str = REQUEST_ID,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties.get("ServiceToken", ""),
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": kind.resource_type,
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
    s3: Stubber
    cloudformation: Stubber
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def params_of(self, operation: str) -> list[dict[str, Any]]:
        """Parameters of every call of ``operation`` made so far, in order."""
        return [params for name, params in self.calls if name == operation]

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    # -- CloudFormation, as the monitor asks it after a denied check

    def expect_stack_status(
        self, status: str, stack_id: str = STACK_ID, last_updated: datetime | None = None
    ) -> None:
        """DescribeStacks of the job's stack answers with ``status`` (and ``LastUpdatedTime``, which
        CloudFormation omits for a stack never updated)."""
        stack: dict[str, Any] = {
            "StackName": "RecsStack",
            "StackId": stack_id,
            "CreationTime": datetime(2024, 5, 1, tzinfo=timezone.utc),
            "StackStatus": status,
        }
        if last_updated is not None:
            stack["LastUpdatedTime"] = last_updated
        self.cloudformation.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": stack_id})

    def expect_stack_resource(
        self, logical_id: str, status: str | None, stack_id: str = STACK_ID, stack_name: str = "RecsStack"
    ) -> None:
        """DescribeStackResource of ``logical_id`` answers with its ``status``, or (None) with
        CloudFormation's ValidationError for a resource the stack does not hold."""
        expected = {"StackName": stack_id, "LogicalResourceId": logical_id}
        if status is None:
            self.cloudformation.add_client_error(
                "describe_stack_resource",
                "ValidationError",
                f"Resource {logical_id} does not exist for stack {stack_name}",
                400,
                expected_params=expected,
            )
            return
        self.cloudformation.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "StackName": stack_name,
                    "StackId": stack_id,
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": f"{stack_name}-{logical_id}",
                    "ResourceType": "Custom::PersonalizeBatchInferenceJob",
                    "LastUpdatedTimestamp": datetime(2024, 5, 1, tzinfo=timezone.utc),
                    "ResourceStatus": status,
                }
            },
            expected,
        )

    # -- Step Functions, as the handler calls it

    def expect_list_monitors(self, *running: str) -> None:
        """ListExecutions answers with these execution names running."""
        self.stepfunctions.add_response(
            "list_executions",
            {
                "executions": [
                    {
                        "executionArn": names.execution_arn(STATE_MACHINE_ARN, name),
                        "stateMachineArn": STATE_MACHINE_ARN,
                        "name": name,
                        "status": "RUNNING",
                        "startDate": datetime(2024, 5, 1, tzinfo=timezone.utc),
                    }
                    for name in running
                ]
            },
            {"stateMachineArn": STATE_MACHINE_ARN, "statusFilter": "RUNNING", "maxResults": 1000},
        )

    def expect_first_delivery(self, execution: str | None = None) -> None:
        """DescribeExecution of this request's monitor: it does not exist (the request's first delivery)."""
        arn = ANY if execution is None else names.execution_arn(STATE_MACHINE_ARN, execution)
        self.stepfunctions.add_client_error(
            "describe_execution",
            "ExecutionDoesNotExist",
            "no such execution",
            expected_params={"executionArn": arn},
        )

    def expect_first_delivery_of(self, job_arn: str) -> None:
        """``expect_first_delivery`` of this request's monitor of ``job_arn``: the handler checks for it
        (``handler.already_done``) before it creates, adopts, keeps or refuses the job."""
        self.expect_first_delivery(names.execution_name(job_arn, REQUEST_ID))

    def expect_own_monitor(self, job_arn: str, status: str, state: dict[str, Any] | None = None) -> None:
        """DescribeExecution of this request's monitor of ``job_arn``: it exists, with ``status``."""
        arn = names.execution_arn(STATE_MACHINE_ARN, names.execution_name(job_arn, REQUEST_ID))
        self.stepfunctions.add_response(
            "describe_execution",
            {
                "executionArn": arn,
                "stateMachineArn": STATE_MACHINE_ARN,
                "status": status,
                "startDate": datetime(2024, 5, 1, tzinfo=timezone.utc),
                "input": json.dumps(state or {"jobArn": job_arn}),
            },
            {"executionArn": arn},
        )

    def expect_execution_status(self, execution_arn: str, status: str = "RUNNING") -> None:
        """DescribeExecution of a monitor execution (does it still run?) answers with ``status``: asked
        by a monitor before it creates a queued job or writes latest.json."""
        self.stepfunctions.add_response(
            "describe_execution",
            {
                "executionArn": execution_arn,
                "stateMachineArn": STATE_MACHINE_ARN,
                "status": status,
                "startDate": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
            },
            {"executionArn": execution_arn},
        )

    def expect_stop(self, execution: str | None = None) -> None:
        arn = ANY if execution is None else names.execution_arn(STATE_MACHINE_ARN, execution)
        self.stepfunctions.add_response(
            "stop_execution",
            {"stopDate": datetime(2024, 5, 1, tzinfo=timezone.utc)},
            {"executionArn": arn, "error": "ResourceGone", "cause": ANY},
        )

    def expect_start(self, *running: str) -> None:
        """A monitor start: the listing of the job's running monitors (these), then StartExecution."""
        self.expect_list_monitors(*running)
        for name in running:
            self.expect_stop(name)
        self.stepfunctions.add_response(
            "start_execution",
            start_execution_response(),
            {"stateMachineArn": STATE_MACHINE_ARN, "name": ANY, "input": ANY},
        )

    # -- S3, as a monitor writes latest.json at the end of its run

    def expect_manifest_put(self, key: Any = ANY, bucket: str = "out-bucket") -> None:
        """PutObject of the resource's latest.json (``key``: its full key)."""
        self.s3.add_response(
            "put_object", {}, {"Bucket": bucket, "Key": key, "Body": ANY, "ContentType": "application/json"}
        )

    def monitor_input(self) -> dict[str, Any]:
        (params,) = self.params_of("StartExecution")
        state: dict[str, Any] = json.loads(params["input"])
        return state


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


def props_of(properties: dict[str, Any], kind: contract.JobKind = BI) -> props.JobProps:
    return props.parse_properties(kind, properties)


def name_of(
    properties: dict[str, Any],
    logical_id: str = "Job",
    stack_id: str = STACK_ID,
    kind: contract.JobKind = BI,
) -> str:
    return names.derive_job_name(props_of(properties, kind), stack_id, logical_id)


def arn_of(name: str, kind: contract.JobKind = BI) -> str:
    arn = names.job_arn(kind, STACK_ID, name)
    assert arn is not None
    return arn


def request_of(
    properties: dict[str, Any], logical_id: str = "Job", kind: contract.JobKind = BI
) -> dict[str, Any]:
    return definitions.build_create_request(
        props_of(properties, kind), name_of(properties, logical_id, kind=kind)
    )


def describe_response(
    request: dict[str, Any],
    status: str,
    failure_reason: str | None = None,
    kind: contract.JobKind = BI,
    arn: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A Describe answer for the job ``request`` created (what the service echoes, plus its status)."""
    job = {key: value for key, value in request.items() if key != "tags"}
    job.update(
        {
            kind.arn_member: arn or arn_of(request[kind.name_member], kind),
            "status": status,
            "creationDateTime": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
            "lastUpdatedDateTime": datetime(2024, 5, 1, 10, 5, tzinfo=timezone.utc),
        }
    )
    if failure_reason is not None:
        job["failureReason"] = failure_reason
    job.update(changes)
    return {kind.described: job}


def start_execution_response(name: str = "exec") -> dict[str, Any]:
    return {
        "executionArn": names.execution_arn(STATE_MACHINE_ARN, name),
        "startDate": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
    }


PUT_EVENTS_OK: dict[str, Any] = {
    "FailedEntryCount": 0,
    "Entries": [{"EventId": "11111111-2222-3333-4444-555555555555"}],
}


T0 = "2024-05-01T10:00:00.000Z"


def at(seconds: float) -> str:
    """Step Functions' ``$$.State.EnteredTime``, ``seconds`` after T0."""
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
    kind: contract.JobKind = BI,
    job_arn: str | None = None,
) -> dict[str, Any]:
    """The monitor's state (docs/handler-contract.md) for the job of ``properties``."""
    import monitor_state as state_module

    parsed = props_of(properties, kind)
    name = name_of(properties, logical_id, kind=kind)
    request = definitions.build_create_request(parsed, name)
    state = state_module.initial_state(
        parsed,
        job_name=name,
        job_arn=job_arn or arn_of(name, kind),
        status=status,
        stack_id=STACK_ID,
        logical_id=logical_id,
        create_request=None if created else request,
    )
    state["waitHandle"] = wait_handle
    state["startedAt"] = started_at
    state["checks"] = checks
    return dict(state)


def execution_of(job_arn: str, request_id: str = REQUEST_ID) -> str:
    return names.execution_name(job_arn, request_id)
