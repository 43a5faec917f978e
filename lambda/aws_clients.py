"""boto3 clients for the handlers, with the bundled Personalize model loaded first, and what errors mean.

The Lambda runtime's botocore may not know the newest Personalize fields (``batchInferenceJobMode``,
``themeGenerationConfig``, ``rankingInfluence``) and would reject them. ``models/`` (written by
scripts/trim_personalize_model.py) holds a trimmed, current Personalize service model; it goes to the
front of the botocore loader's search path, so requests are validated and serialized with it. Endpoints,
credentials and every other service still come from the runtime's own botocore. Nothing is downloaded
at run time.

Endpoints are never passed explicitly: ``AWS_ENDPOINT_URL_PERSONALIZE``, ``AWS_ENDPOINT_URL_SFN``,
``AWS_ENDPOINT_URL_EVENTBRIDGE``, ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_CLOUDFORMATION`` (or
``AWS_ENDPOINT_URL``) redirect the clients, as in any boto3 program.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_personalize import PersonalizeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

MODELS_DIR = Path(__file__).resolve().parent / "models"

# A call gives up after two attempts of at most 3 s to connect and 10 s to read: a create under a full
# quota returns QUEUED quickly, and the worst case of a whole invocation stays within the function's
# timeout (tests/handlers/test_time_budget.py adds it up).
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 2
# botocore's standard retry mode sleeps before a second attempt at most 1 s (rand x 2**0 s), and at most
# 5 s more when the service asks for a later retry (x-amz-retry-after).
MAX_BACKOFF_SECONDS = 6
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)


def call_worst_case_seconds() -> float:
    """One call whose every attempt times out: connect and read timeouts each time, and the backoff."""
    attempts = MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
    return float(attempts + (MAX_ATTEMPTS - 1) * MAX_BACKOFF_SECONDS)


ErrorKind = Literal["queue", "exists", "not_found", "transient", "propagation", "fatal"]

# "No free slot or too many requests now": the create is tried again later.
QUEUE_ERROR_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
# Besides any HTTP 5xx: the same call may well succeed on the next try.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# A role or policy created seconds ago may not be in effect everywhere yet (IAM is eventually
# consistent): access denied, or a role Personalize cannot assume yet, is tried again for a while.
# Bounded (monitor.MAX_PROPAGATION_SECONDS): a role that really lacks a permission fails after that.
_PROPAGATION_MESSAGE = re.compile(r"assume|not authorized|access denied|permission", re.IGNORECASE)


@dataclass(frozen=True)
class Clients:
    personalize: PersonalizeClient
    stepfunctions: SFNClient
    events: EventBridgeClient
    s3: S3Client
    # The monitor asks for its stack's status when a check is denied (monitor_ops.stack_status). Typed
    # loosely: mypy_boto3_cloudformation is not a dependency for one call, whose answer is read defensively.
    cloudformation: Any


def make_session() -> boto3.Session:
    """A boto3 session whose loader finds ``models/`` before the runtime's bundled models."""
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
    return boto3.Session(botocore_session=core)


def make_clients(session: boto3.Session | None = None) -> Clients:
    """Fresh clients, from ``session`` (default: a new make_session())."""
    session = session or make_session()
    return Clients(
        personalize=session.client("personalize", config=CLIENT_CONFIG),
        stepfunctions=session.client("stepfunctions", config=CLIENT_CONFIG),
        events=session.client("events", config=CLIENT_CONFIG),
        s3=session.client("s3", config=CLIENT_CONFIG),
        cloudformation=session.client("cloudformation", config=CLIENT_CONFIG),
    )


@functools.cache
def default_clients() -> Clients:
    """One set of clients per Lambda execution environment."""
    return make_clients()


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def error_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


def http_status(error: Exception) -> int | None:
    """The HTTP status of a service error; None for connection errors and timeouts."""
    if isinstance(error, ClientError):
        status: Any = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def classify_error(code: str, status: int | None, message: str = "") -> ErrorKind:
    """What an error code means for the caller's next step."""
    if code in QUEUE_ERROR_CODES:
        return "queue"
    if code == "ResourceAlreadyExistsException":
        return "exists"
    if code == "ResourceNotFoundException":
        return "not_found"
    if code == "AccessDeniedException" or (
        code == "InvalidInputException" and "role" in message.lower() and _PROPAGATION_MESSAGE.search(message)
    ):
        return "propagation"
    if code in TRANSIENT_ERROR_CODES or (status is not None and status >= 500):
        return "transient"
    return "fatal"


def error_kind(error: Exception) -> ErrorKind:
    """What an error means for the next step; no answer at all (connection, timeout) is transient."""
    if isinstance(error, ClientError):
        return classify_error(error_code(error), http_status(error), error_message(error))
    return "transient"


def describe_error(error: Exception) -> str:
    """``Code: message`` as the service said it."""
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {error_message(error)}"
    return f"{type(error).__name__}: {error}"


# Errors a call can end with: the service's answer or no answer at all (connection, timeout).
AwsError = (ClientError, BotoCoreError)
