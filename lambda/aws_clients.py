"""boto3 clients for the handlers, with the bundled Personalize model loaded first.

The Lambda runtime's botocore may not know `batchInferenceJobMode`, `themeGenerationConfig` or
`rankingInfluence` and would reject them. `models/` (written by scripts/trim_personalize_model.py)
holds a trimmed, current Personalize service model; it goes to the front of the botocore loader's
search path, so the request is validated and serialized with it. Endpoints (rule set), credentials and
every other service still come from the runtime's own botocore. Nothing is downloaded at run time.

Endpoints are never passed explicitly: `AWS_ENDPOINT_URL_PERSONALIZE`, `AWS_ENDPOINT_URL_SFN` and
`AWS_ENDPOINT_URL_EVENTBRIDGE` (or `AWS_ENDPOINT_URL`) redirect the clients, as in any boto3 program.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from job_logic import ErrorKind, classify_error

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_personalize import PersonalizeClient
    from mypy_boto3_stepfunctions import SFNClient

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Standard retries back off on throttling (LimitExceededException included) but only a few times:
# a create under the quota of pending jobs must return QUEUED quickly, not burn the Lambda's time.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
)


@dataclass(frozen=True)
class Clients:
    personalize: PersonalizeClient
    stepfunctions: SFNClient
    events: EventBridgeClient


def make_session() -> boto3.Session:
    """A boto3 session whose loader finds `models/` before the runtime's bundled models."""
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
    return boto3.Session(botocore_session=core)


def make_clients(session: boto3.Session | None = None) -> Clients:
    """Fresh clients, from `session` (default: a new make_session())."""
    session = session or make_session()
    return Clients(
        personalize=session.client("personalize", config=CLIENT_CONFIG),
        stepfunctions=session.client("stepfunctions", config=CLIENT_CONFIG),
        events=session.client("events", config=CLIENT_CONFIG),
    )


@functools.cache
def default_clients() -> Clients:
    """One set of clients per Lambda execution environment."""
    return make_clients()


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def http_status(error: Exception) -> int | None:
    """The HTTP status of a service error; None for connection errors and timeouts."""
    if isinstance(error, ClientError):
        status: Any = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def error_kind(error: Exception) -> ErrorKind:
    """What an error means for the next step (job_logic.classify_error); no answer at all is transient."""
    if isinstance(error, ClientError):
        return classify_error(error_code(error), http_status(error))
    return "transient"


def describe_error(error: Exception) -> str:
    """`Code: message` as the service said it."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message") or str(error)
        return f"{error_code(error)}: {message}"
    return f"{type(error).__name__}: {error}"


# Errors a call can end with: the service's answer or no answer at all (connection, timeout).
AwsError = (ClientError, BotoCoreError)
