"""The rehearsal's Personalize and S3 stand-ins as the service behaves: a job made from something not ready
fails, native resources are deleted only as Personalize allows, and S3 paths are read as Personalize reads
them. Driven through the stand-in's own protocol entry point, on a simulated clock."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from constructs_lib.rehearsal import deployment
from constructs_lib.rehearsal import personalize as personalize_module
from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.personalize import (
    DATASET,
    DATASET_GROUP,
    SCHEMA,
    SOLUTION,
    PersonalizeStandIn,
    StandInJob,
    _segment_line,
)
from constructs_lib.rehearsal.s3 import S3Sandbox
from constructs_lib.rehearsal.server import Caller
from constructs_lib.rehearsal.timeline import Timeline

REGION, ACCOUNT = "us-east-1", "123456789012"
CALLER = Caller(REGION, ACCOUNT)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/personalize"
GROUP = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/shop"
DATASET_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset/shop/INTERACTIONS"
SCHEMA_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:schema/interactions"
SOLUTION_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/recs"


class _NoS3:
    """For stand-in paths that never reach S3."""

    def read_input(self, uri: str) -> list[Any]:
        raise AssertionError(f"S3 read of {uri}: this test does not expect one")


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def standin(clock: SimClock) -> PersonalizeStandIn:
    return PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=cast(S3Sandbox, _NoS3()))


def _native_group(standin: PersonalizeStandIn) -> None:
    standin.register_native(DATASET_GROUP, GROUP, {})
    standin.register_native(SCHEMA, SCHEMA_ARN, {})
    standin.register_native(DATASET, DATASET_ARN, {"DatasetGroupArn": GROUP, "SchemaArn": SCHEMA_ARN})
    standin.register_native(SOLUTION, SOLUTION_ARN, {"DatasetGroupArn": GROUP})


def _train(standin: PersonalizeStandIn, name: str = "recs-v1") -> str:
    answer = standin.handle(
        "CreateSolutionVersion", {"name": name, "solutionArn": SOLUTION_ARN, "trainingMode": "FULL"}, CALLER
    )
    return str(answer["solutionVersionArn"])


def _import(standin: PersonalizeStandIn, name: str = "load-1") -> str:
    answer = standin.handle(
        "CreateDatasetImportJob",
        {
            "jobName": name,
            "datasetArn": DATASET_ARN,
            "dataSource": {"dataLocation": "s3://input-bucket/interactions/"},
            "roleArn": ROLE,
        },
        CALLER,
    )
    return str(answer["datasetImportJobArn"])


def _batch(standin: PersonalizeStandIn, version: str, *, segment: bool = False) -> str:
    request: dict[str, Any] = {
        "jobName": "recs-batch",
        "solutionVersionArn": version,
        "jobInput": {"s3DataSource": {"path": "s3://input-bucket/users/"}},
        "jobOutput": {"s3DataDestination": {"path": "s3://out/results/"}},
        "roleArn": ROLE,
    }
    operation = "CreateBatchSegmentJob" if segment else "CreateBatchInferenceJob"
    answer = standin.handle(operation, request, CALLER)
    return str(answer["batchSegmentJobArn" if segment else "batchInferenceJobArn"])


def _job(standin: PersonalizeStandIn, arn: str) -> StandInJob:
    (found,) = [job for job in standin.jobs() if job.arn == arn]
    return found


def _at(clock: SimClock, standin: PersonalizeStandIn, minutes: float) -> None:
    clock.advance_to(minutes * 60)
    standin.settle()


# ------------------------------------------------------------ jobs made from what is not ready


@pytest.fixture
def imported(standin: PersonalizeStandIn, clock: SimClock) -> Iterator[None]:
    """A native group whose dataset holds imported data (the import marked ACTIVE)."""
    _native_group(standin)
    load = _import(standin)
    job = _job(standin, load)
    job.status, job.updated_at = "ACTIVE", 0.0
    job.pending_until = job.done_at = 0.0
    yield


@pytest.mark.parametrize(("segment", "noun"), [(False, "batch inference job"), (True, "batch segment job")])
def test_a_batch_job_on_a_version_that_is_not_active_fails_with_the_reason(
    standin: PersonalizeStandIn, clock: SimClock, imported: None, segment: bool, noun: str
) -> None:
    version = _train(standin)
    batch = _batch(standin, version, segment=segment)
    _at(clock, standin, 10)  # past the batch job's PENDING (4 minutes); the training runs for hours
    job = _job(standin, batch)
    assert job.status == "CREATE FAILED"
    assert job.failure_reason == (
        f"The solution version {version} is CREATE IN_PROGRESS, not ACTIVE: a {noun} needs an ACTIVE "
        "solution version."
    )
    assert _job(standin, version).status == "IN PROGRESS"


def test_a_batch_job_on_an_active_version_runs(
    standin: PersonalizeStandIn, clock: SimClock, imported: None
) -> None:
    version = _train(standin)
    _at(clock, standin, 200)
    assert _job(standin, version).status == "ACTIVE"
    batch = _batch(standin, version)
    _at(clock, standin, 210)
    assert _job(standin, batch).status == "IN PROGRESS"


def test_a_batch_job_on_a_version_the_standin_did_not_train_is_taken_as_ready(
    standin: PersonalizeStandIn, clock: SimClock
) -> None:
    batch = _batch(standin, f"{SOLUTION_ARN}/1a2b3c4d")
    _at(clock, standin, 10)
    assert _job(standin, batch).status == "IN PROGRESS"


def test_a_training_on_a_dataset_group_with_no_imported_data_fails(
    standin: PersonalizeStandIn, clock: SimClock
) -> None:
    _native_group(standin)
    version = _train(standin)
    _at(clock, standin, 10)
    job = _job(standin, version)
    assert job.status == "CREATE FAILED"
    assert job.failure_reason == (
        f"No data in dataset group {GROUP}: import data into its datasets before training a solution version."
    )
    assert (
        standin.handle("DescribeSolutionVersion", {"solutionVersionArn": version}, CALLER)["solutionVersion"][
            "status"
        ]
        == "CREATE FAILED"
    )


def test_a_training_after_an_import_runs(
    standin: PersonalizeStandIn, clock: SimClock, imported: None
) -> None:
    version = _train(standin)
    _at(clock, standin, 10)
    assert _job(standin, version).status == "IN PROGRESS"


# ---------------------------------------------------------------------------- deletes Personalize refuses


def test_delete_solution_is_refused_while_a_version_trains_or_stops_then_allowed(
    standin: PersonalizeStandIn, clock: SimClock, imported: None
) -> None:
    version = _train(standin)
    refusal = standin.delete_native(SOLUTION, SOLUTION_ARN)
    assert refusal is not None and refusal.startswith("ResourceInUseException: Cannot delete solution")
    assert "CREATE PENDING" in refusal
    _at(clock, standin, 10)
    standin.handle("StopSolutionVersionCreation", {"solutionVersionArn": version}, CALLER)
    refusal = standin.delete_native(SOLUTION, SOLUTION_ARN)
    assert refusal is not None and "CREATE STOPPING" in refusal
    _at(clock, standin, 12)  # stopped a minute later
    assert _job(standin, version).status == "CREATE STOPPED"
    assert standin.delete_native(SOLUTION, SOLUTION_ARN) is None
    assert SOLUTION_ARN not in standin.natives


def test_delete_dataset_is_refused_while_an_import_into_it_runs(
    standin: PersonalizeStandIn, clock: SimClock
) -> None:
    _native_group(standin)
    load = _import(standin)
    refusal = standin.delete_native(DATASET, DATASET_ARN)
    assert refusal == (
        f"ResourceInUseException: Cannot delete dataset {DATASET_ARN}: the dataset import job {load} is "
        "CREATE PENDING"
    )


def test_a_dataset_created_again_under_a_deleted_arn_takes_imports_again(standin: PersonalizeStandIn) -> None:
    # A stack deleted (or rolled back) and created again names its dataset group and dataset as before.
    _native_group(standin)
    assert standin.delete_native(SOLUTION, SOLUTION_ARN) is None
    assert standin.delete_native(DATASET, DATASET_ARN) is None
    _native_group(standin)
    assert _import(standin).endswith("/load-1")


def test_delete_dataset_group_and_schema_wait_for_what_they_hold(standin: PersonalizeStandIn) -> None:
    _native_group(standin)
    group_refusal = standin.delete_native(DATASET_GROUP, GROUP)
    assert group_refusal is not None and DATASET_ARN in group_refusal and SOLUTION_ARN in group_refusal
    schema_refusal = standin.delete_native(SCHEMA, SCHEMA_ARN)
    assert schema_refusal is not None and DATASET_ARN in schema_refusal
    assert standin.delete_native(SOLUTION, SOLUTION_ARN) is None
    assert standin.delete_native(DATASET, DATASET_ARN) is None
    assert standin.delete_native(SCHEMA, SCHEMA_ARN) is None
    assert standin.delete_native(DATASET_GROUP, GROUP) is None
    assert standin.natives == {}


# ------------------------------------------------------------ S3 paths as Personalize reads them


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Sandbox]:
    sandbox = S3Sandbox(REGION)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def bucket(s3: S3Sandbox) -> Iterator[S3Sandbox]:
    s3.reset()
    s3.ensure_bucket("input-bucket")
    for key in ("users.json", "users_old.json", "users/part-1.json", "users/", "items.json"):
        s3.write(f"s3://input-bucket/{key}", "" if key.endswith("/") else '{"userId": "u1"}\n')
    yield s3


def test_a_path_without_a_trailing_slash_is_a_prefix(bucket: S3Sandbox) -> None:
    keys = [item.key for item in bucket.read_input("s3://input-bucket/users")]
    assert keys == ["users.json", "users/part-1.json", "users_old.json"]


def test_a_path_with_a_trailing_slash_reads_the_folder_without_its_marker(bucket: S3Sandbox) -> None:
    assert [item.key for item in bucket.read_input("s3://input-bucket/users/")] == ["users/part-1.json"]


def test_a_file_path_also_reads_every_key_it_begins(bucket: S3Sandbox) -> None:
    assert [item.key for item in bucket.read_input("s3://input-bucket/users.json")] == ["users.json"]
    assert [item.key for item in bucket.read_input("s3://input-bucket/user")] == [
        "users.json",
        "users/part-1.json",
        "users_old.json",
    ]


def test_an_import_of_a_path_with_no_objects_fails(bucket: S3Sandbox, clock: SimClock) -> None:
    standin = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=bucket)
    answer = standin.handle(
        "CreateDatasetImportJob",
        {
            "jobName": "load-nothing",
            "datasetArn": DATASET_ARN,
            "dataSource": {"dataLocation": "s3://input-bucket/interactions/"},
            "roleArn": ROLE,
        },
        CALLER,
    )
    _at(clock, standin, 60)
    job = _job(standin, str(answer["datasetImportJobArn"]))
    assert job.status == "CREATE FAILED"
    assert job.failure_reason == "Input data not found at s3://input-bucket/interactions/."


def test_segment_output_record_lists_users_for_its_items() -> None:
    # The developer guide's format (usersList); AWS samples read recommendedUsers: consumers accept both.
    record = json.loads(_segment_line('{"itemId": "item-0001"}', "SEGMENTS", 10))
    assert record["input"] == {"itemId": "item-0001"}
    assert record["error"] is None
    users = record["output"]["usersList"]
    assert len(users) == len(set(users)) == 10


# ---------------------------------------------------------------- documented limits of a batch job's input


def _inference(standin: PersonalizeStandIn, path: str, *, theme: bool = False) -> StandInJob:
    request: dict[str, Any] = {
        "jobName": "limits",
        "solutionVersionArn": f"{SOLUTION_ARN}/1a2b3c4d",
        "jobInput": {"s3DataSource": {"path": path}},
        "jobOutput": {"s3DataDestination": {"path": "s3://output-bucket/results/"}},
        "roleArn": ROLE,
    }
    if theme:
        request["batchInferenceJobMode"] = "THEME_GENERATION"
        request["themeGenerationConfig"] = {"fieldsForThemeGeneration": {"itemName": "TITLE"}}
    arn = str(standin.handle("CreateBatchInferenceJob", request, CALLER)["batchInferenceJobArn"])
    return _job(standin, arn)


def _items(count: int) -> str:
    return "".join(json.dumps({"itemId": f"item-{index}"}) + "\n" for index in range(count))


@pytest.mark.parametrize(("count", "fails"), [(100, False), (101, True)])
def test_theme_generation_reads_at_most_100_items_per_file(
    bucket: S3Sandbox, clock: SimClock, count: int, fails: bool
) -> None:
    bucket.write("s3://input-bucket/themes/items.json", _items(count))
    standin = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=bucket)
    job = _inference(standin, "s3://input-bucket/themes/", theme=True)
    _at(clock, standin, 60)
    if fails:
        assert job.status == "CREATE FAILED"
        assert job.failure_reason == (
            "The input file themes/items.json holds 101 items; theme generation reads at most 100 items "
            "per input file."
        )
    else:
        assert job.status == "ACTIVE", job.failure_reason


def test_a_batch_job_reads_at_most_its_file_count(
    bucket: S3Sandbox, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(personalize_module, "MAX_INPUT_FILES", 2)  # 1,000 in the service: the rule, cheaper
    for index in range(3):
        bucket.write(f"s3://input-bucket/many/part-{index}.json", _items(1))
    standin = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=bucket)
    job = _inference(standin, "s3://input-bucket/many/")
    _at(clock, standin, 60)
    assert (job.status, job.failure_reason) == (
        "CREATE FAILED",
        "The input at s3://input-bucket/many/ is 3 files; a batch job reads at most 2 files.",
    )


def test_a_batch_job_reads_at_most_its_input_size(
    bucket: S3Sandbox, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(personalize_module, "MAX_INPUT_BYTES", 10)  # 1 GB in the service
    bucket.write("s3://input-bucket/big/users.json", _items(2))
    standin = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=bucket)
    job = _inference(standin, "s3://input-bucket/big/")
    _at(clock, standin, 60)
    assert job.status == "CREATE FAILED"
    assert str(job.failure_reason).endswith("bytes; a batch job reads at most 1 GB.")


# ---------------------------------------------------------------- input of an empty created bucket


def _segment(standin: PersonalizeStandIn, path: str) -> StandInJob:
    request: dict[str, Any] = {
        "jobName": "audiences",
        "solutionVersionArn": f"{SOLUTION_ARN}/1a2b3c4d",
        "jobInput": {"s3DataSource": {"path": path}},
        "jobOutput": {"s3DataDestination": {"path": "s3://output-bucket/audiences/"}},
        "roleArn": ROLE,
    }
    arn = str(standin.handle("CreateBatchSegmentJob", request, CALLER)["batchSegmentJobArn"])
    return _job(standin, arn)


@pytest.mark.parametrize("kind", ["inference", "segment"])
def test_a_batch_job_on_a_path_with_no_objects_fails(bucket: S3Sandbox, clock: SimClock, kind: str) -> None:
    standin = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=bucket)
    path = "s3://input-bucket/nothing-here/"
    job = _inference(standin, path) if kind == "inference" else _segment(standin, path)
    _at(clock, standin, 60)
    assert job.status == "CREATE FAILED"
    assert job.failure_reason == f"Input data not found at {path}."


def test_a_bucket_the_deploy_creates_starts_empty(bucket: S3Sandbox) -> None:
    # moto keeps its state per process: a bucket of the same name an earlier rehearsal filled is emptied.
    assert bucket.read_input("s3://input-bucket/users")
    bucket.create_bucket("input-bucket")
    assert bucket.read_input("s3://input-bucket/") == []
    assert not bucket.brought("s3://input-bucket/users/")
    assert bucket.brought("s3://someone-elses-bucket/users/")


def test_prune_deletes_only_under_the_prefix_what_the_sources_do_not_hold(bucket: S3Sandbox) -> None:
    bucket.prune("input-bucket", "users/", keep={"users/kept.json"})
    keys = [item.key for item in bucket.read_input("s3://input-bucket/")]
    assert keys == ["items.json", "users.json", "users_old.json"]


# ---------------------------------------------------------------- a BucketDeployment's copy


def _asset_dir(tmp_path: Path) -> Path:
    source = tmp_path / "asset.abc123"
    (source / "users").mkdir(parents=True)
    (source / "users" / "users.json").write_text('{"userId": "u1"}\n')
    (source / "users" / "notes.txt").write_text("not input\n")
    (source / "items.json").write_text('{"itemId": "<<marker:0xbaba:0>>"}\n')
    return source


def _assets(mapping: dict[str, Path]) -> Callable[[str], Path | None]:
    return mapping.get


def test_a_deployment_writes_every_file_of_its_asset_under_its_prefix(tmp_path: Path) -> None:
    source = _asset_dir(tmp_path)
    copy = deployment.plan(
        {
            "SourceObjectKeys": ["abc123.zip"],
            "DestinationBucketName": "input-bucket",
            "DestinationBucketKeyPrefix": "incoming",
            "Prune": False,
        },
        _assets({"abc123.zip": source}),
    )
    assert copy.bucket == "input-bucket"
    assert sorted(copy.objects) == [
        "incoming/items.json",
        "incoming/users/notes.txt",
        "incoming/users/users.json",
    ]
    assert copy.objects["incoming/users/users.json"] == b'{"userId": "u1"}\n'
    assert copy.prune is False


def test_a_deployment_prunes_by_default_as_its_handler_does(tmp_path: Path) -> None:
    copy = deployment.plan(
        {"SourceObjectKeys": ["abc123.zip"], "DestinationBucketName": "b"},
        _assets({"abc123.zip": _asset_dir(tmp_path)}),
    )
    assert copy.prune is True and copy.prefix == ""


def test_a_deployment_reads_a_zip_asset_applies_filters_and_markers(tmp_path: Path) -> None:
    archive = tmp_path / "asset.def456.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("users/users.json", '{"userId": "u1"}\n')
        zipped.writestr("users/notes.txt", "not input\n")
        zipped.writestr("items.json", '{"itemId": "<<marker:0xbaba:0>>"}\n')
    copy = deployment.plan(
        {
            "SourceObjectKeys": ["def456.zip"],
            "SourceMarkers": [{"<<marker:0xbaba:0>>": "item-42"}],
            "DestinationBucketName": "b",
            "Exclude": ["*.txt", "items*"],
            "Include": ["items.json"],
        },
        _assets({"def456.zip": archive}),
    )
    assert copy.objects == {
        "items.json": b'{"itemId": "item-42"}\n',
        "users/users.json": b'{"userId": "u1"}\n',
    }


def test_a_deployment_without_extract_writes_the_archive_itself(tmp_path: Path) -> None:
    copy = deployment.plan(
        {"SourceObjectKeys": ["abc123.zip"], "DestinationBucketName": "b", "Extract": False},
        _assets({"abc123.zip": _asset_dir(tmp_path)}),
    )
    (name,) = copy.objects
    assert name == "abc123.zip"
    with zipfile.ZipFile(io.BytesIO(copy.objects[name])) as zipped:
        assert sorted(zipped.namelist()) == ["items.json", "users/notes.txt", "users/users.json"]


def test_a_deployment_whose_asset_is_not_in_the_assembly_cannot_be_rehearsed(tmp_path: Path) -> None:
    with pytest.raises(deployment.DeploymentError, match=r"source nope\.zip is not in the cloud assembly"):
        deployment.plan({"SourceObjectKeys": ["nope.zip"], "DestinationBucketName": "b"}, _assets({}))
