"""One loopback HTTP server for the stand-ins: AWS JSON protocol services by `X-Amz-Target`, and PUTs
to WaitCondition handle URLs. It binds 127.0.0.1 on a free port and nothing else.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

LOOPBACK = "127.0.0.1"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/")
# The rehearsal's fake access keys carry the caller's account (see lambdas.py), as AWS maps a key to one.
_ACCOUNT_IN_KEY = re.compile(r"^ASIA(\d{12})")
DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Caller:
    """Who signed the request: the region of its credential scope, the account of its access key."""

    region: str
    account: str


def access_key_for(account: str) -> str:
    return f"ASIA{account}REHEARSAL"


class ServiceError(Exception):
    """An error answer of an AWS JSON protocol service: `{"__type": code, "message": ...}`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class JsonService(Protocol):
    """A stand-in speaking an AWS JSON protocol (`X-Amz-Target: <prefix>.<Operation>`)."""

    target_prefix: str
    content_type: str

    def handle(self, operation: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]: ...


class PutReceiver(Protocol):
    """Receives HTTP PUTs (the WaitCondition handles' presigned URLs)."""

    def receive(self, path: str, content_type: str | None, body: bytes) -> tuple[int, str]: ...


class QueryService(Protocol):
    """A stand-in speaking the AWS query protocol (a form-encoded POST with ``Action``; an XML answer)."""

    def answer(self, body: bytes) -> tuple[int, str]: ...


class LoopbackServer:
    def __init__(self, services: list[JsonService], put_receiver: PutReceiver) -> None:
        self._services = {service.target_prefix: service for service in services}
        self._put_receiver = put_receiver
        # CloudFormation (the only query protocol service the handlers call): set by the sandbox.
        self.query: QueryService | None = None
        self._httpd = ThreadingHTTPServer((LOOPBACK, 0), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            # A short poll: stop() returns within 50 ms instead of the default 0.5 s (a rehearsal each).
            target=lambda: self._httpd.serve_forever(poll_interval=0.05),
            name="rehearsal-stand-ins",
            daemon=True,
        )

    def replace(self, services: list[JsonService], put_receiver: PutReceiver) -> None:
        """Serve other stand-ins from now on (a fresh sandbox on the same port)."""
        self._services = {service.target_prefix: service for service in services}
        self._put_receiver = put_receiver

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._httpd.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def answer_json(self, target: str, body: bytes, authorization: str) -> tuple[int, dict[str, Any], str]:
        prefix, _, operation = target.partition(".")
        service = self._services.get(prefix)
        if service is None:
            error = {"__type": "UnknownOperationException", "message": f"No stand-in serves {target!r}"}
            return 400, error, "application/x-amz-json-1.1"
        try:
            request = json.loads(body) if body else {}
            return 200, service.handle(operation, request, _caller(authorization)), service.content_type
        except ServiceError as error:
            return error.status, {"__type": error.code, "message": error.message}, service.content_type
        except json.JSONDecodeError as error:
            payload = {"__type": "SerializationException", "message": str(error)}
            return 400, payload, service.content_type

    def answer_query(self, body: bytes) -> tuple[int, str, str]:
        """A query protocol request (no ``X-Amz-Target``): the status, the XML and its content type."""
        if self.query is None:
            return 400, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", "text/xml"
        status, text = self.query.answer(body)
        return status, text, "text/xml"

    def answer_put(self, path: str, content_type: str | None, body: bytes) -> tuple[int, str]:
        return self._put_receiver.receive(path, content_type, body)


def _caller(authorization: str) -> Caller:
    match = _CREDENTIAL_SCOPE.search(authorization)
    if not match:
        return Caller("us-east-1", DEFAULT_ACCOUNT)
    account = _ACCOUNT_IN_KEY.match(match.group(1))
    return Caller(match.group(2), account.group(1) if account else DEFAULT_ACCOUNT)


def _handler_class(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, delayed ACKs cost 40 ms a request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self._body()
            if not self.headers.get("X-Amz-Target"):
                status, text, content_type = server.answer_query(body)
                self._send(status, text.encode(), content_type)
                return
            status, payload, content_type = server.answer_json(
                self.headers.get("X-Amz-Target", ""), body, self.headers.get("Authorization", "")
            )
            self._send(status, json.dumps(payload, default=str).encode(), content_type)

        def do_PUT(self) -> None:
            body = self._body()
            status, text = server.answer_put(self.path, self.headers.get("Content-Type"), body)
            self._send(status, text.encode(), "application/xml")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the timeline says what happened."""

    return Handler
