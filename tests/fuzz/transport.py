"""The fuzzers' shortcut past the loopback socket: a botocore request to the sandbox's stand-in server is
answered in this process, by the same code the server runs (``LoopbackServer.answer_json``, and
``answer_query`` for CloudFormation's query protocol), so the
request is still signed, serialized and parsed by botocore and checked against the service model; only
the HTTP round trip through another thread is left out (a third of a sequence's time). S3 requests go to
moto's WSGI application in process, the one its server runs.

The loopback path itself stays what the rehearsal uses (``python -m constructs_lib.rehearsal``, and every
rehearsal test); the WaitCondition signals (urllib) still go over loopback here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.httpsession import URLLib3Session
from urllib3._collections import HTTPHeaderDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

from constructs_lib.rehearsal.s3 import S3Sandbox
from constructs_lib.rehearsal.server import LoopbackServer


class _Body:
    """What botocore reads a response body from (``raw.stream()``, or ``raw.read()`` for a streaming
    output such as S3's GetObject)."""

    def __init__(self, payload: bytes) -> None:
        self._payload = io.BytesIO(payload)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._payload.read(amt)

    def close(self) -> None:
        self._payload.close()


def _request_body(request: AWSPreparedRequest) -> bytes:
    body: Any = request.body
    if body is None:
        return b""
    if hasattr(body, "read"):
        body = body.read()
    return body.encode() if isinstance(body, str) else bytes(body)


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def query_answer(server: LoopbackServer, request: AWSPreparedRequest) -> AWSResponse:
    """The stand-ins' answer to a query protocol request (CloudFormation's), as the server would send it."""
    status, text, content_type = server.answer_query(_request_body(request))
    body = text.encode()
    headers = HTTPHeaderDict(
        {"Content-Type": content_type, "Content-Length": str(len(body)), "x-amzn-RequestId": "in-process"}
    )
    return AWSResponse(request.url, status, headers, _Body(body))


def answer(server: LoopbackServer, request: AWSPreparedRequest) -> AWSResponse:
    """The stand-ins' answer to a JSON protocol request, as the server would send it."""
    status, payload, content_type = server.answer_json(
        _header(request, "X-Amz-Target"), _request_body(request), _header(request, "Authorization")
    )
    body = json.dumps(payload, default=str).encode()
    headers = HTTPHeaderDict(
        {"Content-Type": content_type, "Content-Length": str(len(body)), "x-amzn-RequestId": "in-process"}
    )
    return AWSResponse(request.url, status, headers, _Body(body))


_s3_backends: dict[int, Any] = {}


def s3_answer(app: Any, request: AWSPreparedRequest) -> AWSResponse:
    """moto's answer to an S3 request, from the WSGI application its server runs (one state per process:
    the same buckets), without the server's socket and thread."""
    parts = urlsplit(request.url)
    headers = {
        name: value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
        if name.lower() != "content-length"
    }
    environ = EnvironBuilder(
        path=parts.path,
        query_string=parts.query,
        method=request.method,
        headers=headers,
        data=_request_body(request),
        base_url=f"{parts.scheme}://{parts.netloc}",
    ).get_environ()
    # moto's dispatcher looks for the service of every request among its modules on disk; every request
    # here is S3's, so its application is looked up once.
    backend = _s3_backends.get(id(app))
    if backend is None:
        backend = _s3_backends[id(app)] = app.get_application(environ)
    body, status, answer_headers = run_wsgi_app(backend, environ, buffered=True)
    try:
        payload = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return AWSResponse(
        request.url, int(status.split()[0]), HTTPHeaderDict(list(answer_headers.items())), _Body(payload)
    )


@contextmanager
def in_process(server: LoopbackServer, s3: S3Sandbox | None = None) -> Iterator[None]:
    """While open, botocore's JSON protocol requests to ``server`` (its POSTs) are answered in process.

    The answer is computed on one thread of its own, as the server's threads would: the rehearsal checks
    the IAM policy of a function's calls on the function's thread only, and a stand-in's own calls (to S3)
    are not the function's."""
    base = server.url
    s3_base = s3.url if s3 is not None else None
    # The WSGI application of the sandbox's ThreadedMotoServer (its werkzeug server's).
    s3_app = s3._server._server.app if s3 is not None else None  # type: ignore[union-attr]
    real_send = URLLib3Session.send
    with ThreadPoolExecutor(1, thread_name_prefix="fuzz-stand-ins") as answering:

        def send(session: URLLib3Session, request: AWSPreparedRequest) -> AWSResponse:
            ours = request.url.startswith(base) and request.method == "POST"
            if ours and "X-Amz-Target" in request.headers:
                return answering.submit(answer, server, request).result()
            if ours:  # the query protocol (CloudFormation): no X-Amz-Target
                return answering.submit(query_answer, server, request).result()
            if s3_base is not None and request.url.startswith(s3_base):
                return s3_answer(s3_app, request)
            return real_send(session, request)

        URLLib3Session.send = send  # type: ignore[method-assign]
        try:
            yield
        finally:
            URLLib3Session.send = real_send  # type: ignore[method-assign]
