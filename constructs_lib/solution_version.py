"""The SolutionVersion construct: training a Personalize solution version as a CloudFormation resource."""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from typing import TYPE_CHECKING

import jsii
from aws_cdk import Annotations, CfnResource, Reference, Stack, Tokenization
from aws_cdk import aws_personalize as personalize
from constructs import Construct, IValidation

from constructs_lib import _validation as v
from constructs_lib._contract import contract
from constructs_lib._job import PersonalizeJob
from constructs_lib._recipes import recipe_of_solution

# Native resources a solution's ARN follows whose every property is create-only (CloudFormation's
# resource schemas, createOnlyProperties; tests/test_solution_replacement.py holds this against
# cfn-lint's copy): any change replaces the resource, and a solution on a replaced dataset group is
# replaced with it.
REPLACED_ON_ANY_CHANGE = (personalize.CfnSolution, personalize.CfnDatasetGroup)
SOLUTION_CHANGED_WARNING = "constructs-lib:solutionChangedAfterVersion"

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from constructs_lib._job import RunOptions


class SolutionVersionTrainingMode(enum.Enum):
    """How the solution version is trained."""

    FULL = "FULL"
    """On all the data, from scratch."""
    UPDATE = "UPDATE"
    """Incrementally, on the data that arrived since the last version (User-Personalization)."""


class SolutionVersion(PersonalizeJob):
    """Trains a version of a Personalize solution (CreateSolutionVersion) and, by default, holds the
    deployment until the training has ended: up to 12 hours.

    Give ``solution_version_arn`` to a ``BatchInferenceJob`` or ``BatchSegmentJob`` and that job waits
    for the training, then runs on the new version; each new training (a new ``run_token``) runs the
    jobs made from it again. Deleting the resource while the training still runs stops the training.
    """

    solution_arn: str
    """The solution trained (as given: a literal ARN or a ``CfnSolution``'s token)."""
    recipe: str | None
    """The solution's recipe name (``aws-user-personalization``), when the solution is a ``CfnSolution``
    of this app with a literal recipe; None otherwise."""

    kind = contract.SOLUTION_VERSION
    """``contract.SOLUTION_VERSION``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        solution_arn: str,
        training_mode: SolutionVersionTrainingMode | str = SolutionVersionTrainingMode.FULL,
        **options: Unpack[RunOptions],
    ) -> None:
        """
        :param solution_arn: The solution to train (``CfnSolution.attr_solution_arn`` or
            ``arn:aws:personalize:<region>:<account>:solution/<name>``).
        :param training_mode: ``SolutionVersionTrainingMode`` (or its string value). Default: FULL.
        :param options: ``RunOptions`` (no ``job_name``: the service names a version): ``tags``,
            ``run_token`` (any change trains a new version; default: a new version is trained only when
            the solution or the training mode changes), ``wait``, ``timeout``, ``runtime``, ``schedule``,
            ``schedule_enabled``, ``skip_unchanged``.
        """
        super().__init__(scope, id, options, named=False)
        errors: list[str] = []
        mode = v.coerce_enum("training_mode", training_mode, SolutionVersionTrainingMode, errors)
        self.recipe = recipe_of_solution(solution_arn)
        self._check(
            [
                *errors,
                *v.check_personalize_arn(
                    "solution_arn", solution_arn, v.SOLUTION, v.stack_place(self._stack)
                ),
                *v.check_training_mode(mode is SolutionVersionTrainingMode.UPDATE, self.recipe),
            ]
        )
        v.warn_arn_region(self, {"solution_arn": solution_arn})
        assert mode is not None
        self.solution_arn = solution_arn
        fingerprint = solution_fingerprint(solution_arn, self._stack)
        self._build(
            {"solution_arn": solution_arn, "training_mode": mode.value},
            source_resources=[solution_arn],
            replaced_source=fingerprint,
        )
        if fingerprint is not None:
            self.node.add_validation(_SolutionUnchanged(self, fingerprint))

    def source_pattern(self) -> str:
        """Every version of the solution: a job made from this version is granted that."""
        return f"{self.solution_arn}/*"

    @functools.cached_property
    def solution_version_arn(self) -> str:
        """ARN of the trained version (a deploy-time token; changes with each training)."""
        return self._attribute(contract.ATTR_SOLUTION_VERSION_ARN)


@jsii.implements(IValidation)
class _SolutionUnchanged:
    """At synth: the solution's properties are those the version's WaitCondition was named after (when
    the version was made). A property set afterwards is missed: a later change to it would be refused at
    deploy time, as before this library saw solutions at all."""

    def __init__(self, version: SolutionVersion, fingerprint: str) -> None:
        self._version = version
        self._fingerprint = fingerprint

    def validate(self) -> list[str]:
        version = self._version
        if solution_fingerprint(version.solution_arn, version._stack) != self._fingerprint:
            Annotations.of(version).add_warning_v2(
                SOLUTION_CHANGED_WARNING,
                "The solution (or its dataset group) was changed after this SolutionVersion was made on "
                "it, so the version's WaitCondition is named after its earlier properties: a later change "
                "that replaces the solution (a new name or recipe) would be refused at deploy time, after "
                "the jobs before it ran. Make the SolutionVersion after setting the CfnSolution's "
                "properties.",
            )
        return []


def solution_fingerprint(solution_arn: str, stack: Stack) -> str | None:
    """What decides the ARN of a solution of ``stack`` that ``solution_arn`` references (a
    ``CfnSolution``'s ``Ref``/``Fn::GetAtt``): its properties as they are now, all of them create-only,
    and those of a ``CfnDatasetGroup`` of the stack it is on. A change to any of them replaces the
    solution, and its ARN changes at deploy time while the token in the template does not. None for a
    literal ARN or a solution of another stack or app (a parameter, an import)."""
    if not v.is_token(solution_arn):
        return None
    material: dict[str, object] = {}
    pending: list[CfnResource] = [
        token.target
        for token in Tokenization.reverse_string(solution_arn).tokens
        if isinstance(token, Reference) and isinstance(token.target, personalize.CfnSolution)
    ]
    while pending:
        resource = pending.pop()
        if Stack.of(resource) is not stack or resource.node.path in material:
            continue
        # The L1's own property bag: each property as given, tokens resolved to this stack's references.
        properties = resource._cfn_properties
        material[resource.node.path] = stack.resolve(properties)
        for value in properties.values():
            if not isinstance(value, str) or not v.is_token(value):
                continue
            pending += [
                token.target
                for token in Tokenization.reverse_string(value).tokens
                if isinstance(token, Reference)
                and isinstance(token.target, CfnResource)
                and isinstance(token.target, REPLACED_ON_ANY_CHANGE)
            ]
    if not material:
        return None
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]
