"""S3 on loopback: moto in server mode, holding the jobs' inputs and outputs.

A bucket a stack creates starts empty; input reaches it through the app (a `BucketDeployment`, a job's
output). Sample input is written only into buckets the app brings, or where the user says the data will
be (`--input-exists`)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from constructs_lib.rehearsal.server import LOOPBACK

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SAMPLE_FILES = {
    "BATCH_INFERENCE": "users.json",
    "THEME_GENERATION": "items.json",
    "SEGMENTS": "items.json",
    "INTERACTIONS": "interactions.csv",
    "USERS_TO_DELETE": "users-to-delete.csv",
}


@dataclass(frozen=True)
class OutputObject:
    uri: str
    records: int


@dataclass(frozen=True)
class InputFile:
    key: str
    lines: list[str]


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b")."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def sample_records(mode: str, count: int) -> list[dict[str, Any]]:
    """JSON lines Personalize accepts: users for recommendations, items for themes and segments."""
    if mode in ("THEME_GENERATION", "SEGMENTS"):
        return [{"itemId": f"item-{index:04d}"} for index in range(1, count + 1)]
    return [{"userId": f"user-{index:04d}"} for index in range(1, count + 1)]


def sample_body(mode: str, count: int) -> str:
    """A sample input file: CSV interactions for a dataset import, JSON lines for a batch job."""
    if mode == "INTERACTIONS":
        rows = [
            f"user-{index % 7:04d},item-{index:04d},{1767600000 + index}" for index in range(1, count + 1)
        ]
        return "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(row + "\n" for row in rows)
    if mode == "USERS_TO_DELETE":  # a data deletion job's input: one USER_ID column
        return "USER_ID\n" + "".join(f"user-{index % 7:04d}\n" for index in range(1, min(count, 3) + 1))
    return "".join(json.dumps(record) + "\n" for record in sample_records(mode, count))


class S3Sandbox:
    """A moto server on 127.0.0.1, and a client for it (for the stand-in and the driver; not the handlers)."""

    def __init__(self, region: str) -> None:
        import boto3
        from botocore.config import Config
        from moto.server import ThreadedMotoServer

        self._werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = self._werkzeug.level
        self._werkzeug.setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._region = region
        self.client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal",
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}),
        )
        self._buckets: set[str] = set()
        # Buckets an `AWS::S3::Bucket` of a rehearsed stack created: they start empty, as in AWS.
        self.created: set[str] = set()

    def reset(self) -> None:
        """Empty S3 (moto's own reset), for a fresh sandbox on the same server."""
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10
        )
        self._buckets.clear()
        self.created.clear()

    def stop(self) -> None:
        # moto's server sees a shutdown at its next poll (0.5 s): a connection wakes it at once.
        host, port = self._server.get_host_and_port()
        stopping = threading.Thread(target=self._server.stop, daemon=True)
        stopping.start()
        while stopping.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((host, port), timeout=0.1).close()
            stopping.join(0.01)
        self._werkzeug.setLevel(self._werkzeug_level)

    def create_bucket(self, name: str) -> None:
        """A bucket the deploy creates (an `AWS::S3::Bucket`): empty. (moto keeps its state per process,
        so a bucket of the same name an earlier rehearsal in this process filled is emptied.)"""
        self.ensure_bucket(name)
        for key in self._keys(name, ""):
            self.client.delete_object(Bucket=name, Key=key)
        self.created.add(name)

    def brought(self, uri: str) -> bool:
        """Is the bucket of ``uri`` one no rehearsed stack created (a bucket the app brings)?"""
        return split_uri(uri)[0] not in self.created

    def put_objects(self, bucket: str, objects: dict[str, bytes]) -> None:
        """Write objects (a `BucketDeployment`'s copy)."""
        self.ensure_bucket(bucket)
        for key, body in objects.items():
            self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def prune(self, bucket: str, prefix: str, keep: set[str]) -> None:
        """Delete every object under ``prefix`` but ``keep`` (a `BucketDeployment` with `Prune`)."""
        if bucket not in self._buckets:
            return
        for key in self._keys(bucket, prefix):
            if key not in keep:
                self.client.delete_object(Bucket=bucket, Key=key)

    def ensure_bucket(self, name: str) -> None:
        if name in self._buckets:
            return
        if self._region == "us-east-1":
            self.client.create_bucket(Bucket=name)
        else:
            self.client.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={"LocationConstraint": self._region},  # type: ignore[typeddict-item]
            )
        self._buckets.add(name)

    def seed_input(self, input_uri: str, mode: str, count: int) -> list[str]:
        """Put a sample JSON lines file at the job's input (a prefix gets one file in it); return its URIs.

        Existing input is left alone.
        """
        bucket, key = split_uri(input_uri)
        self.ensure_bucket(bucket)
        existing = self.read_input(input_uri)
        if existing:
            return [f"s3://{bucket}/{item.key}" for item in existing]
        if not key or key.endswith("/"):
            key = f"{key}{SAMPLE_FILES.get(mode, SAMPLE_FILES['BATCH_INFERENCE'])}"
        self.client.put_object(Bucket=bucket, Key=key, Body=sample_body(mode, count).encode())
        return [f"s3://{bucket}/{key}"]

    def read_input(self, input_uri: str) -> list[InputFile]:
        """The input files of a job, as Personalize reads an S3 path: every object whose key starts with
        the path's key. A path without a trailing `/` is a prefix too: `users` reads `users.json` and
        `users_old.json` (and `users/...`); folder markers (keys ending in `/`) hold no input."""
        bucket, key = split_uri(input_uri)
        if bucket not in self._buckets:
            return []
        keys = [found for found in self._keys(bucket, key) if not found.endswith("/")]
        return [InputFile(k, self._text(bucket, k).splitlines()) for k in keys]

    def write(self, uri: str, body: str) -> None:
        bucket, key = split_uri(uri)
        self.ensure_bucket(bucket)
        self.client.put_object(Bucket=bucket, Key=key, Body=body.encode())

    def outputs(self, prefix_uri: str) -> list[OutputObject]:
        """Every object under `prefix_uri`, with its number of non-empty lines."""
        bucket, prefix = split_uri(prefix_uri)
        if bucket not in self._buckets:
            return []
        return [
            OutputObject(f"s3://{bucket}/{key}", _count_lines(self._text(bucket, key)))
            for key in self._keys(bucket, prefix)
        ]

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        return sorted(keys)

    def _text(self, bucket: str, key: str) -> str:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _count_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())
