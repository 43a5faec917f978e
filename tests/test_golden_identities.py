"""An upgrade never starts a new run by itself: job names, RunIds and WaitCondition ids stay as released.

tests/golden/run_identities.json records, for every example, the README's usage snippet, every version
of the lifecycle app and a corpus of varied apps (tests/identity_corpus.py), each job's name as the
handler derives it at deploy time (for a fixed fake StackId), its RunId, and its WaitCondition and
handle logical ids. It was generated from the released tree; any change here re-runs users' jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import identities
from tests.apps import EXAMPLES

pytestmark = pytest.mark.slow

GOLDEN = identities.load_golden()


def _check(key: str, assembly_dir: Path) -> None:
    lines = identities.differences(
        {key: GOLDEN.get(key, {})}, {key: identities.assembly_identities(assembly_dir)}
    )
    assert not lines, identities.failure_message(lines)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_keeps_its_run_identities(name: str, example_apps: Mapping[str, Any]) -> None:
    _check(f"example:{name}", example_apps[name].outdir)


def test_usage_snippet_keeps_its_run_identities(tmp_path: Path) -> None:
    _check("example:usage", identities.synth_usage(tmp_path / "usage"))


def test_lifecycle_versions_keep_their_run_identities(lifecycle_assemblies: Mapping[Any, Path]) -> None:
    lines: list[str] = []
    for version, outdir in lifecycle_assemblies.items():
        key = f"lifecycle:{version.label()}"
        lines += identities.differences(
            {key: GOLDEN.get(key, {})}, {key: identities.assembly_identities(outdir)}
        )
    assert not lines, identities.failure_message(lines)


def test_corpus_keeps_its_run_identities(tmp_path: Path) -> None:
    builders = identities.corpus_builders()
    _check("corpus", builders["corpus"](tmp_path / "corpus"))


def test_golden_file_covers_every_recorded_app() -> None:
    """A new example or version must be recorded too (regenerating it should then add lines only)."""
    missing = sorted(set(identities.corpus_builders()) - set(GOLDEN))
    stale = sorted(set(GOLDEN) - set(identities.corpus_builders()))
    assert not missing and not stale, (
        f"not recorded: {missing}; recorded but gone: {stale}. Run python -m tests.identities --write "
        "and check that `git diff tests/golden` adds or removes only those apps."
    )


def test_every_job_of_the_golden_file_has_its_identities() -> None:
    jobs = [job for app in GOLDEN.values() for stack in app.values() for job in stack.values()]
    assert len(jobs) >= 40
    for job in jobs:
        assert job["jobName"] and job["runId"], job
        assert (job["waitHandle"] is None) == (job["waitCondition"] is None), job


def test_a_change_that_re_runs_a_job_is_reported_with_the_changelog_rule() -> None:
    """Two recorded versions of the lifecycle app: num_results re-runs the job, tags do not."""
    base = GOLDEN["lifecycle:base"]
    more_results = identities.differences(base, GOLDEN["lifecycle:num_results=50"])
    assert any("/jobName:" in line for line in more_results), more_results
    assert any("/runId:" in line for line in more_results), more_results
    assert any("/waitCondition:" in line for line in more_results), more_results
    message = identities.failure_message(more_results)
    assert "CHANGELOG.md" in message and "which jobs re-run" in message
    assert identities.differences(base, GOLDEN["lifecycle:tags=growth"]) == []


def test_resolver_gives_deploy_time_values_stable_placeholders() -> None:
    template = {"Parameters": {"Env": {"Type": "String"}}}
    resolver = identities.Resolver(template, "Stack", "111122223333", "eu-west-1")
    assert resolver.resolve({"Fn::Join": ["", ["s3://", {"Ref": "Bucket1"}, "/users/"]]}) == (
        "s3://${Ref:Bucket1}/users/"
    )
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}"}) == (
        "arn:aws:x:eu-west-1:111122223333"
    )
    assert resolver.resolve({"Ref": "Env"}) == "${Parameter:Env}"
    select = {"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["Job", "Arn"]}]}]}
    assert resolver.resolve(select).startswith("${") and "Job" in resolver.resolve(select)
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    assert identities.as_cloudformation_passes({"N": 25, "B": True, "L": [1.5]}) == {
        "N": "25",
        "B": "true",
        "L": ["1.5"],
    }


def _moved_app(
    outdir: Path, *, parent: str | None, keep_logical_id: str | None, output_prefix: str | None = None
) -> dict[str, Any]:
    import aws_cdk as cdk
    from constructs import Construct

    from constructs_lib import BatchInferenceJob, BatchInferenceStorage

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Moves")
    storage = BatchInferenceStorage(stack, "Storage")
    scope: Construct = Construct(stack, parent) if parent else stack
    job = BatchInferenceJob(
        scope,
        "Job",
        solution_version_arn="arn:aws:personalize:us-east-1:123456789012:solution/s/1a2b3c4d",
        input_path="users/",
        storage=storage,
        output_prefix=output_prefix,
    )
    if keep_logical_id:
        default_child = job.resource.node.default_child
        assert isinstance(default_child, cdk.CfnResource)
        default_child.override_logical_id(keep_logical_id)
    app.synth()
    ((only,),) = [list(jobs.values()) for jobs in identities.assembly_identities(outdir).values()]
    return dict(only, logicalId=next(iter(identities.assembly_identities(outdir)["Moves"])))


def test_moving_a_job_in_the_construct_tree_runs_it_again_unless_its_logical_id_is_kept(
    tmp_path: Path,
) -> None:
    """The README's 'Moving a job' paragraph: a new path is a new logical id, so a new resource and a new
    job; overriding the logical id keeps the job when the batch job's output prefix (by default made of
    its construct path) is pinned to the old one too. Only its WaitCondition is renewed."""
    before = _moved_app(tmp_path / "before", parent=None, keep_logical_id=None)
    moved = _moved_app(tmp_path / "moved", parent="Team", keep_logical_id=None)
    assert moved["logicalId"] != before["logicalId"] and moved["jobName"] != before["jobName"]
    old_id = before["logicalId"]
    prefix_moved = _moved_app(tmp_path / "prefix", parent="Team", keep_logical_id=old_id)
    assert prefix_moved["logicalId"] == old_id
    assert prefix_moved["runId"] != before["runId"]  # the default output prefix followed the path
    kept = _moved_app(
        tmp_path / "kept", parent="Team", keep_logical_id=old_id, output_prefix="batch-inference/Moves/Job/"
    )
    assert (kept["logicalId"], kept["jobName"], kept["runId"]) == (old_id, before["jobName"], before["runId"])
    assert kept["waitCondition"] != before["waitCondition"]
