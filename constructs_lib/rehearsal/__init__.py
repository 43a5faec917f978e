"""Offline rehearsal of a synthesized app's Personalize jobs: the real handler code against local
stand-ins (Personalize, S3 via moto, Step Functions, EventBridge, WaitCondition handles), as CloudFormation
would run it, IAM enforced, on a simulated clock, in seconds. `python -m constructs_lib.rehearsal
CDK_OUT`, or `rehearse(...)` from Python.

Importing this package needs neither boto3 nor moto; `rehearse()` does (the `[rehearsal]` extra of
cdk-personalize-jobs; INSTALL_HINT says the command for this installation).
"""

from constructs_lib.rehearsal._deps import INSTALL_HINT, MissingDependencyError
from constructs_lib.rehearsal.assembly import AssemblyError
from constructs_lib.rehearsal.discovery import DiscoveryError
from constructs_lib.rehearsal.driver import RehearsalError
from constructs_lib.rehearsal.result import JobResult, Result
from constructs_lib.rehearsal.run import rehearse
from constructs_lib.rehearsal.s3 import OutputObject

__all__ = [
    "INSTALL_HINT",
    "AssemblyError",
    "DiscoveryError",
    "JobResult",
    "MissingDependencyError",
    "OutputObject",
    "RehearsalError",
    "Result",
    "rehearse",
]
