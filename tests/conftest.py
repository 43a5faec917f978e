"""Fixtures shared by the whole suite: no real AWS, quiet jsii, helpers to synthesize once."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import shared

# Set before any test module imports boto3 or aws_cdk.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

SOLUTION_VERSION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/demo/1a2b3c4d"
FILTER_ARN = "arn:aws:personalize:us-east-1:123456789012:filter/no-bought"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Re-assert fake credentials for every test, whatever a previous test did."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield


class ExampleApps(Mapping[str, Any]):
    """Example apps synthesized on first use, once per session whatever the number of xdist workers
    (tests/shared.py): an example that fails to synthesize fails its own tests (the error lists the
    compliance findings that stopped it), not every example's."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        from tests.apps import EXAMPLES

        self._names = sorted(EXAMPLES)
        self._root = shared.root(tmp_path_factory)

    def __getitem__(self, name: str) -> Any:
        from tests.apps import SynthesizedApp, synthesize

        if name not in self._names:
            raise KeyError(name)
        outdir = shared.once(self._root, f"example-{name}", lambda directory: synthesize(name, directory))
        assert outdir is not None
        return SynthesizedApp(name, outdir)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@pytest.fixture(scope="session")
def lifecycle_assemblies(tmp_path_factory: pytest.TempPathFactory) -> Mapping[Any, Any]:
    """Every version of the lifecycle app (tests/variants.py), synthesized once per session; xdist
    workers that need them at the same time split the versions between them."""
    from tests.variants import VERSIONS, synthesize_one

    keys = [f"lifecycle-v{index:02d}" for index in range(len(VERSIONS))]
    paths = shared.all_of(
        shared.root(tmp_path_factory),
        keys,
        lambda key, directory: synthesize_one(directory, VERSIONS[keys.index(key)]),
    )
    return {version: paths[key] for version, key in zip(VERSIONS, keys, strict=True)}


@pytest.fixture(scope="session")
def example_apps(tmp_path_factory: pytest.TempPathFactory) -> ExampleApps:
    """Every example app synthesized once per session (on first use), with all compliance packs attached.

    Synthesis raises on any unacknowledged cdk-nag error or warning, so the fixture itself is the gate.
    """
    return ExampleApps(tmp_path_factory)


@pytest.fixture(scope="session")
def weekly_four_weeks(example_apps: ExampleApps, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """examples/weekly.py rehearsed for 29 days after its deploy, new interactions landing on day 15:
    once per session (a pickled Result), for the schedules' tests and the HTML report's alike."""
    import pickle

    from constructs_lib.rehearsal import rehearse

    def produce(directory: Path) -> None:
        weekly = example_apps["weekly"].outdir
        result = rehearse(weekly, days=29, update=False, new_input=[("WeeklyImport", 15)])
        (directory / "result.pickle").write_bytes(pickle.dumps(result))

    directory = shared.once(shared.root(tmp_path_factory), "weekly-four-weeks", produce)
    assert directory is not None
    return pickle.loads((directory / "result.pickle").read_bytes())


# --- parallel runs (make test: pytest-xdist, -n auto --dist loadscope --no-loadscope-reorder) ------------

# Modules whose expensive fixtures are shared between workers on disk (tests/shared.py) or that have none
# worth sharing: their tests are handed out one by one. Every other module's tests stay on one worker, so
# its module-scoped fixtures (a synthesized app, a CLI synth, a built wheel) are built once.
SPREAD = frozenset(
    {
        "tests/test_lifecycle_fuzz.py",
        "tests/test_family_fuzz.py",
        "tests/test_code_quality.py",
        "tests/test_examples.py",
        "tests/test_readme.py",
    }
)
# The longest pieces first (seconds of one core, measured with --durations on a quiet machine), so two
# workers end together instead of one starting the wheel test last. Everything else keeps its order.
HEAVY = {
    "tests/test_wheel.py": 60,
    "tests/test_distributions.py": 20,
    "tests/test_code_quality.py::test_mypy_strict_passes_on_the_package": 60,
    "tests/test_lifecycle_fuzz.py::test_every_sequence_keeps_every_invariant": 50,
    "tests/test_lifecycle_fuzz.py::test_a_": 30,
    "tests/test_family_fuzz.py::test_every_family_sequence_keeps_every_invariant": 15,
    "tests/test_cli.py": 25,
    "tests/test_rehearsal_stacks.py": 25,
    "tests/handlers/test_old_sdk.py": 15,
    "tests/test_readme.py": 12,
    # CPU seconds of the module alone (-n 0, /usr/bin/time, loaded machine), less the example synths the
    # session shares: its own synths and 16 rehearsals; four rehearsals and a headless browser.
    "tests/test_rehearsal.py": 40,
    "tests/test_rehearsal_html.py": 15,
    # Test time of a loaded full run (junit, 7 agents on 2 cores) over ~2.5: modules weighed by nothing
    # above whose share had grown enough to end a worker's run late if handed out last.
    "tests/test_rehearsal_engine.py": 28,
    "tests/test_schedules_rehearsal.py": 18,
    "tests/test_rehearsal_chain.py": 13,
    "tests/test_rehearsal_update.py": 10,
    "tests/test_solution_replacement.py": 10,
    "tests/test_rehearsal_iam.py": 9,
    "tests/test_family_fuzz_data_lifecycle.py": 7,
}


def _weight(nodeid: str) -> int:
    return max((cost for prefix, cost in HEAVY.items() if nodeid.startswith(prefix)), default=0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest first (stable: the rest keep collection order); xdist hands out work in this order."""
    items.sort(key=lambda item: -_weight(item.nodeid))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With --dist loadscope: a module is one unit of work, except the SPREAD modules, whose tests are
    units of their own. (xdist's loadgroup marks do not reach pytest 9's node ids.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if module in SPREAD else module

    return ModuleScheduling(config, log)
