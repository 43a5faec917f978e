"""Old Lambda-runtime SDKs: the bundled model is what gets the new fields onto the wire.

Each old botocore gets its own venv (created here when missing: `python -m venv` + pip install; CI
creates it fresh). The handler's create path runs there against a loopback server standing in for
Personalize and Step Functions, reached through AWS_ENDPOINT_URL_PERSONALIZE / AWS_ENDPOINT_URL_SFN,
which captures each JSON request body. The same old botocore without the bundled model rejects the
fields it does not know: that is what the shim fixes.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .testkit import REPO_ROOT, STATE_MACHINE_ARN, base_properties, cfn_event, request_of

PROBE = Path(__file__).resolve().parent / "oldsdk_probe.py"
JOB_ARN_PREFIX = "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/"
NEW_FIELDS = ("batchInferenceJobMode", "themeGenerationConfig", "rankingInfluence")
THEME_PROPERTIES = base_properties(
    Mode="THEME_GENERATION",
    ThemeItemNameField="title",
    RankingInfluence={"POPULARITY": "0.5", "FRESHNESS": "0.2"},
    ItemExplorationConfig={"explorationWeight": "0.3"},
)


@dataclass(frozen=True)
class OldSdk:
    botocore: str
    boto3: str
    venv: str
    lacks: tuple[str, ...]  # request fields its own Personalize model does not know


OLD_SDKS = (
    # Long bundled by the Python 3.12/3.13 runtimes: knows mode and theme, not rankingInfluence.
    OldSdk("1.34.162", "1.34.162", ".venv-oldsdk", ("rankingInfluence",)),
    # Older still (Python 3.11/3.12 runtimes of late 2023): knows none of the three.
    OldSdk("1.31.85", "1.28.85", ".venv-oldsdk-1.31", NEW_FIELDS),
)


def ensure_venv(sdk: OldSdk) -> Path:
    """The venv's python, after creating the venv and installing the pinned SDK if needed."""
    venv = REPO_ROOT / sdk.venv
    python = venv / "bin" / "python"
    stamp = venv / f".installed-botocore-{sdk.botocore}-boto3-{sdk.boto3}"
    if python.exists() and stamp.exists():
        return python
    # make setup creates them; a bare pytest run with several workers creates each once.
    with open(REPO_ROOT / f"{sdk.venv}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (python.exists() and stamp.exists()):
            _create_venv(sdk, venv, python, stamp)
    return python


def _create_venv(sdk: OldSdk, venv: Path, python: Path, stamp: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"botocore=={sdk.botocore}",
            f"boto3=={sdk.boto3}",
        ],
        check=True,
    )
    stamp.touch()


@pytest.fixture(scope="session", params=OLD_SDKS, ids=lambda sdk: f"botocore-{sdk.botocore}")
def old_sdk(request: pytest.FixtureRequest) -> tuple[OldSdk, Path]:
    sdk: OldSdk = request.param
    return sdk, ensure_venv(sdk)


class FakeAws:
    """Loopback JSON-protocol endpoint: records every request body by X-Amz-Target, and the targets in
    order; answers success, except that no monitor execution exists yet (a first delivery)."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[dict[str, Any]]] = {}
        self.targets: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.bodies.setdefault(target, []).append(body)
                fake.targets.append(target)
                missing = target.endswith(".DescribeExecution")
                reply = (
                    {"__type": "ExecutionDoesNotExist", "message": "Execution Does Not Exist"}
                    if missing
                    else fake.answer(target, body)
                )
                answer = json.dumps(reply).encode()
                self.send_response(400 if missing else 200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    @staticmethod
    def answer(target: str, body: dict[str, Any]) -> dict[str, Any]:
        if target.endswith(".CreateBatchInferenceJob"):
            return {"batchInferenceJobArn": f"{JOB_ARN_PREFIX}{body['jobName']}"}
        if target.endswith(".ListExecutions"):
            return {"executions": []}
        return {
            "executionArn": f"{STATE_MACHINE_ARN}:x".replace(":stateMachine:", ":execution:"),
            "startDate": 1714557600,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def created(self) -> list[dict[str, Any]]:
        return self.bodies.get("AmazonPersonalize.CreateBatchInferenceJob", [])

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fake_aws() -> Iterator[FakeAws]:
    fake = FakeAws()
    yield fake
    fake.close()


def probe(python: Path, mode: str, payload: dict[str, Any], fake: FakeAws) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PYTHON"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_ENDPOINT_URL_PERSONALIZE=fake.url,
        AWS_ENDPOINT_URL_SFN=fake.url,
        MONITOR_STATE_MACHINE_ARN=STATE_MACHINE_ARN,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    completed = subprocess.run(
        [str(python), str(PROBE), mode],
        input=json.dumps(payload),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    output: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return output


def test_handler_create_path_sends_mode_theme_and_ranking_influence_with_old_botocore(
    old_sdk: tuple[OldSdk, Path], fake_aws: FakeAws
) -> None:
    sdk, python = old_sdk
    output = probe(python, "handler", {"event": cfn_event("Create", THEME_PROPERTIES)}, fake_aws)
    assert output["botocore"] == sdk.botocore
    assert output["result"]["Data"]["Status"] == "PENDING"
    (sent,) = fake_aws.created()
    assert sent == request_of(THEME_PROPERTIES)
    assert sent["batchInferenceJobMode"] == "THEME_GENERATION"
    assert sent["themeGenerationConfig"] == {"fieldsForThemeGeneration": {"itemName": "title"}}
    assert sent["batchInferenceJobConfig"]["rankingInfluence"] == {"FRESHNESS": 0.2, "POPULARITY": 0.5}
    assert fake_aws.targets == [
        "AWSStepFunctions.DescribeExecution",  # this request's monitor: none yet, a first delivery
        "AmazonPersonalize.CreateBatchInferenceJob",
        "AWSStepFunctions.ListExecutions",
        "AWSStepFunctions.StartExecution",
    ]


def test_old_botocore_without_the_bundled_model_rejects_the_fields_it_lacks(
    old_sdk: tuple[OldSdk, Path], fake_aws: FakeAws
) -> None:
    sdk, python = old_sdk
    output = probe(python, "plain", {"request": request_of(THEME_PROPERTIES)}, fake_aws)
    assert output["botocore"] == sdk.botocore
    outcome = output["result"]
    for field in sdk.lacks:
        assert outcome[field].startswith("rejected: ") and field in outcome[field], outcome[field]
    assert all(outcome[field] == "sent" for field in NEW_FIELDS if field not in sdk.lacks)
    assert len(fake_aws.created()) == len(NEW_FIELDS) - len(sdk.lacks)
