"""The fuzzers' in-process path to the stand-ins (tests/fuzz/transport.py) answers a botocore call as the
loopback server does: the same parsed answer, the same error, from a thread that is not the caller's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from constructs_lib.rehearsal.sandbox import Sandbox
from tests.fuzz.transport import in_process

ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/nothing-here"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(region="us-east-1") as made:
        yield made


def _client(sandbox: Sandbox) -> Any:
    return boto3.client(
        "personalize",
        region_name="us-east-1",
        endpoint_url=sandbox.server.url,
        aws_access_key_id="ASIA123456789012REHEARSAL",
        aws_secret_access_key="rehearsal",
    )


def _calls(sandbox: Sandbox) -> tuple[dict[str, Any], dict[str, Any]]:
    client = _client(sandbox)
    listed = client.list_dataset_import_jobs()
    listed.pop("ResponseMetadata")
    with pytest.raises(ClientError) as raised:
        client.describe_dataset_import_job(datasetImportJobArn=ARN)
    return listed, raised.value.response["Error"]


def test_an_answer_in_process_is_the_loopback_answer(sandbox: Sandbox) -> None:
    over_loopback = _calls(sandbox)
    with in_process(sandbox.server):
        answered_here = _calls(sandbox)
    assert answered_here == over_loopback
    assert over_loopback[1]["Code"] == "ResourceNotFoundException"


def _s3_calls(sandbox: Sandbox, key: str) -> tuple[bytes, list[str], str]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=sandbox.s3.url,
        aws_access_key_id="rehearsal",
        aws_secret_access_key="rehearsal",
    )
    sandbox.s3.ensure_bucket("transport-bucket")
    client.put_object(Bucket="transport-bucket", Key=key, Body=b"line 1\nline 2\n")
    body = client.get_object(Bucket="transport-bucket", Key=key)["Body"].read()
    listed = client.list_objects_v2(Bucket="transport-bucket", Prefix="in/")
    with pytest.raises(ClientError) as raised:
        client.get_object(Bucket="transport-bucket", Key="in/missing.json")
    return body, sorted(item["Key"] for item in listed["Contents"]), raised.value.response["Error"]["Code"]


def test_s3_in_process_is_moto_over_loopback(sandbox: Sandbox) -> None:
    over_loopback = _s3_calls(sandbox, "in/one.json")
    with in_process(sandbox.server, sandbox.s3):
        answered_here = _s3_calls(sandbox, "in/two.json")
    assert over_loopback == (b"line 1\nline 2\n", ["in/one.json"], "NoSuchKey")
    assert answered_here == (b"line 1\nline 2\n", ["in/one.json", "in/two.json"], "NoSuchKey")


def test_the_stand_ins_answer_on_a_thread_of_their_own(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rehearsal checks a function's IAM policy on the function's thread: a stand-in's own calls are
    # not the function's.
    threads: list[int] = []
    real = sandbox.server.answer_json

    def answer_json(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(sandbox.server, "answer_json", answer_json)
    with in_process(sandbox.server):
        _client(sandbox).list_dataset_import_jobs()
    assert threads and threading.get_ident() not in threads
