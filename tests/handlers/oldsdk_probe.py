"""Run inside an old-botocore venv by test_old_sdk.py (not a test module).

    python oldsdk_probe.py handler < {"event": <CloudFormation Create event>}
        handler.handle_event with the handlers' own clients (bundled model); prints its response.
    python oldsdk_probe.py plain < {"request": <CreateBatchInferenceJob params>}
        a plain boto3 client (the old SDK's own model) sends the request once per new field;
        prints, per field, "sent" or "rejected: <validation error>".

Prints one JSON document: {"botocore": version, "result": ...}. Endpoints come from the
AWS_ENDPOINT_URL_* variables the test sets.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda"))

import boto3
import botocore
import handler
from aws_clients import make_clients
from botocore.exceptions import ParamValidationError


def one_new_field_each(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = {
        key: value
        for key, value in request.items()
        if key not in ("batchInferenceJobMode", "themeGenerationConfig", "batchInferenceJobConfig")
    }
    return {
        "batchInferenceJobMode": {**base, "batchInferenceJobMode": request["batchInferenceJobMode"]},
        "themeGenerationConfig": {**base, "themeGenerationConfig": request["themeGenerationConfig"]},
        "rankingInfluence": {
            **base,
            "batchInferenceJobConfig": {
                "rankingInfluence": request["batchInferenceJobConfig"]["rankingInfluence"]
            },
        },
    }


def plain(request: dict[str, Any]) -> dict[str, str]:
    # The loopback stand-in the test started; never a real endpoint.
    client = boto3.client("personalize", endpoint_url=os.environ["AWS_ENDPOINT_URL_PERSONALIZE"])
    outcome: dict[str, str] = {}
    for field, params in one_new_field_each(request).items():
        try:
            client.create_batch_inference_job(**params)
            outcome[field] = "sent"
        except ParamValidationError as error:
            outcome[field] = f"rejected: {error}"
    return outcome


def main() -> None:
    payload = json.load(sys.stdin)
    if sys.argv[1] == "handler":
        result: Any = handler.handle_event(payload["event"], make_clients(), "oldsdk-probe")
    else:
        result = plain(payload["request"])
    print(json.dumps({"botocore": botocore.__version__, "result": result}))


if __name__ == "__main__":
    main()
