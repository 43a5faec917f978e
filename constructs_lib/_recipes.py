"""What the constructs know of a solution's recipe and of a solution version's solution: where the batch
kinds check that a version suits them (recommendations or user segments, themes), and where a
``SolutionVersion`` checks its training mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Fn, Reference, Tokenization
from aws_cdk import aws_personalize as personalize

from constructs_lib import _validation as v

if TYPE_CHECKING:
    from constructs_lib.solution_version import SolutionVersion

# Recipes whose solution versions make user segments (batch segment jobs), not recommendations.
SEGMENTATION_RECIPES = frozenset({"aws-item-affinity", "aws-item-attribute-affinity"})


def recipe_of_solution(solution_arn: str) -> str | None:
    """The recipe name of a solution defined in this app (a ``CfnSolution`` with a literal recipe)."""
    if not v.is_token(solution_arn):
        return None
    for token in Tokenization.reverse_string(solution_arn).tokens:
        if isinstance(token, Reference) and isinstance(token.target, personalize.CfnSolution):
            recipe = token.target.recipe_arn
            if recipe and not v.is_token(recipe):
                return recipe.rpartition("/")[2]
    return None


def solution_of_version(solution_version_arn: str) -> str:
    """The ARN of the solution a solution version belongs to: ``solution/<name>`` of
    ``solution/<name>/<id>``. For a ``SolutionVersion``'s attribute, that construct's ``solution_arn``;
    for another deploy-time value, the same cut made by CloudFormation."""
    if not v.is_token(solution_version_arn):
        return solution_version_arn.rsplit("/", 1)[0]
    version = _version_of(solution_version_arn)
    if version is not None:
        return version.solution_arn
    parts = Fn.split("/", solution_version_arn, 3)
    return Fn.join("/", [Fn.select(0, parts), Fn.select(1, parts)])


def upstream_recipe(solution_version_arn: str) -> str | None:
    """The recipe behind a solution version ARN that is a ``SolutionVersion``'s attribute, when known."""
    version = _version_of(solution_version_arn) if v.is_token(solution_version_arn) else None
    return version.recipe if version is not None else None


def _version_of(solution_version_arn: str) -> SolutionVersion | None:
    """The ``SolutionVersion`` whose attribute a deploy-time ARN is, if it is one."""
    from constructs_lib.solution_version import SolutionVersion  # which imports this module

    for token in Tokenization.reverse_string(solution_version_arn).tokens:
        if not isinstance(token, Reference):
            continue
        for scope in token.target.node.scopes:
            if isinstance(scope, SolutionVersion):
                return scope
    return None
