"""Everything the rehearsal starts, on loopback only, and stops again: the simulated clock, S3 (moto),
the Personalize / Step Functions / EventBridge / CloudFormation stand-ins, the WaitCondition handle
receiver, and the Lambda runtime whose boto3 clients are pointed at them with `AWS_ENDPOINT_URL_*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from constructs_lib.rehearsal.clock import Scheduler, SimClock
from constructs_lib.rehearsal.cloudformation import CloudFormationStandIn
from constructs_lib.rehearsal.events import EventBridgeSink
from constructs_lib.rehearsal.lambdas import LambdaRuntime
from constructs_lib.rehearsal.personalize import Durations, PersonalizeStandIn
from constructs_lib.rehearsal.s3 import S3Sandbox
from constructs_lib.rehearsal.server import LoopbackServer
from constructs_lib.rehearsal.signals import SignalReceiver
from constructs_lib.rehearsal.stepfunctions import StepFunctionsStandIn
from constructs_lib.rehearsal.timeline import Timeline


class Sandbox:
    def __init__(
        self,
        *,
        region: str,
        quota: int | None = None,
        throttle: int = 0,
        durations: Mapping[str, Durations] | None = None,
    ) -> None:
        self.s3 = S3Sandbox(region)
        try:
            self._fresh(quota=quota, throttle=throttle, durations=durations)
            self.server = LoopbackServer([self.personalize, self.stepfunctions, self.events], self.signals)
            self.server.query = self.cloudformation
            self.server.start()
        except BaseException:
            self.s3.stop()
            raise
        self.signals.base_url = self.server.url
        self.runtime = LambdaRuntime(clock=self.clock, endpoints=self.endpoints())

    def _fresh(self, *, quota: int | None, throttle: int, durations: Mapping[str, Durations] | None) -> None:
        self.clock = SimClock()
        self.scheduler = Scheduler(self.clock)
        self.timeline = Timeline(self.clock)
        self.personalize = PersonalizeStandIn(
            clock=self.clock,
            timeline=self.timeline,
            s3=self.s3,
            quota=quota,
            throttle=throttle,
            durations=durations,
        )
        self.stepfunctions = StepFunctionsStandIn(self.scheduler)
        # Its source (the engine's stacks) is set by the driver that owns the engine.
        self.cloudformation = CloudFormationStandIn()
        self.events = EventBridgeSink(self.clock)
        self.signals = SignalReceiver(self.clock)

    def reset(
        self, *, quota: int | None = None, throttle: int = 0, durations: Mapping[str, Durations] | None = None
    ) -> None:
        """Start over on a new clock with empty stand-ins and S3, keeping the servers and the functions'
        loaded code (starting them costs a second; lifecycle fuzzing runs thousands of sequences)."""
        self.s3.reset()
        self._fresh(quota=quota, throttle=throttle, durations=durations)
        self.server.replace([self.personalize, self.stepfunctions, self.events], self.signals)
        self.server.query = self.cloudformation
        self.signals.base_url = self.server.url
        self.runtime.reset(self.clock)

    def endpoints(self) -> dict[str, str]:
        """What a Lambda function's environment gets: every AWS client of the handler stays on loopback."""
        return {
            "AWS_ENDPOINT_URL": self.server.url,
            "AWS_ENDPOINT_URL_PERSONALIZE": self.server.url,
            "AWS_ENDPOINT_URL_SFN": self.server.url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.server.url,
            "AWS_ENDPOINT_URL_S3": self.s3.url,
        }

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            self.s3.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
