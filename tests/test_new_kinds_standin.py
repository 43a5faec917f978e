"""The rehearsal's Personalize stand-in for the data deletion and dataset export kinds, as the service
documents them: a deletion reads a CSV with a USER_ID column and erases those users from its dataset
group (numDeleted counts their records), an export writes the dataset's data under its output path, and
each spells its statuses as its Describe call does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from constructs_lib.rehearsal.clock import SimClock
from constructs_lib.rehearsal.iam import check_call, required_resources
from constructs_lib.rehearsal.personalize import DATASET, DATASET_GROUP, PersonalizeStandIn
from constructs_lib.rehearsal.s3 import S3Sandbox
from constructs_lib.rehearsal.server import Caller, ServiceError
from constructs_lib.rehearsal.timeline import Timeline

REGION, ACCOUNT = "us-east-1", "123456789012"
CALLER = Caller(REGION, ACCOUNT)
ROLE = f"arn:aws:iam::{ACCOUNT}:role/personalize"
EXPORT_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-export-job/Stack-Dump-1"
GROUP = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/shop"
DATASET_ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset/shop/INTERACTIONS"
INTERACTIONS = "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i2,2\nu1,i3,3\nu3,i4,4\n"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Sandbox]:
    sandbox = S3Sandbox(REGION)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def standin(s3: S3Sandbox, clock: SimClock) -> PersonalizeStandIn:
    s3.reset()
    s3.write("s3://in-bucket/interactions.csv", INTERACTIONS)
    s3.write("s3://in-bucket/erase/users.csv", "USER_ID\nu1\nu9\n")
    s3.ensure_bucket("out-bucket")
    service = PersonalizeStandIn(clock=clock, timeline=Timeline(clock), s3=s3)
    service.register_native(DATASET_GROUP, GROUP, {})
    service.register_native(DATASET, DATASET_ARN, {"DatasetGroupArn": GROUP})
    return service


def run(standin: PersonalizeStandIn, clock: SimClock, operation: str, request: dict[str, Any]) -> str:
    """Create a job and let it run to its end; its ARN."""
    answer = standin.handle(operation, request, CALLER)
    clock.advance_to(clock.elapsed + 6 * 3600)
    standin.settle()
    return str(next(value for key, value in answer.items() if key.endswith("Arn")))


def imported(standin: PersonalizeStandIn, clock: SimClock) -> None:
    run(
        standin,
        clock,
        "CreateDatasetImportJob",
        {
            "jobName": "load",
            "datasetArn": DATASET_ARN,
            "dataSource": {"dataLocation": "s3://in-bucket/interactions.csv"},
            "roleArn": ROLE,
        },
    )


def deletion(location: str = "s3://in-bucket/erase/users.csv", group: str = GROUP) -> dict[str, Any]:
    return {
        "jobName": "erase",
        "datasetGroupArn": group,
        "dataSource": {"dataLocation": location},
        "roleArn": ROLE,
    }


def export(mode: str = "BULK", name: str = "dump") -> dict[str, Any]:
    return {
        "jobName": name,
        "datasetArn": DATASET_ARN,
        "ingestionMode": mode,
        "roleArn": ROLE,
        "jobOutput": {"s3DataDestination": {"path": f"s3://out-bucket/exports/{name}/"}},
    }


def describe(standin: PersonalizeStandIn, operation: str, member: str, arn: str) -> dict[str, Any]:
    answer = standin.handle(operation, {f"{member}Arn": arn}, CALLER)
    job: dict[str, Any] = answer[member]
    return job


def test_a_deletion_is_pending_in_progress_then_completed_with_the_records_it_deleted(
    standin: PersonalizeStandIn, clock: SimClock
) -> None:
    imported(standin, clock)
    arn = standin.handle("CreateDataDeletionJob", deletion(), CALLER)["dataDeletionJobArn"]
    assert arn == f"arn:aws:personalize:{REGION}:{ACCOUNT}:data-deletion-job/erase"
    seen = [describe(standin, "DescribeDataDeletionJob", "dataDeletionJob", arn)["status"]]
    start = clock.elapsed
    for minutes in (10, 70):
        clock.advance_to(start + minutes * 60)
        seen.append(describe(standin, "DescribeDataDeletionJob", "dataDeletionJob", arn)["status"])
    assert seen == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    job = describe(standin, "DescribeDataDeletionJob", "dataDeletionJob", arn)
    assert job["numDeleted"] == 2  # u1's two interactions; u9 has none


def test_a_deletion_without_a_user_id_column_fails(
    standin: PersonalizeStandIn, clock: SimClock, s3: S3Sandbox
) -> None:
    s3.write("s3://in-bucket/erase/bad.csv", "userId\nu1\n")
    arn = run(standin, clock, "CreateDataDeletionJob", deletion("s3://in-bucket/erase/bad.csv"))
    job = describe(standin, "DescribeDataDeletionJob", "dataDeletionJob", arn)
    assert job["status"] == "FAILED" and "no USER_ID column" in job["failureReason"]


def test_a_deletion_with_no_file_at_its_path_fails(standin: PersonalizeStandIn, clock: SimClock) -> None:
    arn = run(standin, clock, "CreateDataDeletionJob", deletion("s3://in-bucket/erase/missing.csv"))
    assert (
        "Input data not found"
        in describe(standin, "DescribeDataDeletionJob", "dataDeletionJob", arn)["failureReason"]
    )


def test_a_deletion_in_a_deleted_dataset_group_is_refused(standin: PersonalizeStandIn) -> None:
    standin.delete_native(DATASET, DATASET_ARN)
    assert standin.delete_native(DATASET_GROUP, GROUP) is None
    with pytest.raises(ServiceError) as raised:
        standin.handle("CreateDataDeletionJob", deletion(), CALLER)
    assert raised.value.code == "ResourceNotFoundException"


def test_an_export_writes_the_datasets_imported_rows_without_the_erased_users(
    standin: PersonalizeStandIn, clock: SimClock, s3: S3Sandbox
) -> None:
    imported(standin, clock)
    before = run(standin, clock, "CreateDatasetExportJob", export(name="before"))
    run(standin, clock, "CreateDataDeletionJob", deletion())
    run(standin, clock, "CreateDatasetExportJob", export(name="after"))
    job = describe(standin, "DescribeDatasetExportJob", "datasetExportJob", before)
    assert (job["status"], job["ingestionMode"]) == ("ACTIVE", "BULK")
    (written_before,) = s3.read_input("s3://out-bucket/exports/before/")
    (written_after,) = s3.read_input("s3://out-bucket/exports/after/")
    assert written_before.lines == INTERACTIONS.splitlines()
    assert written_after.lines == ["USER_ID,ITEM_ID,TIMESTAMP", "u2,i2,2", "u3,i4,4"]


def test_a_put_export_has_only_the_header_in_the_rehearsal(
    standin: PersonalizeStandIn, clock: SimClock, s3: S3Sandbox
) -> None:
    imported(standin, clock)
    run(standin, clock, "CreateDatasetExportJob", export("PUT", name="incremental"))
    (written,) = s3.read_input("s3://out-bucket/exports/incremental/")
    assert written.lines == ["USER_ID,ITEM_ID,TIMESTAMP"]


def test_an_export_spells_its_statuses_as_create_pending_and_create_in_progress(
    standin: PersonalizeStandIn, clock: SimClock
) -> None:
    arn = standin.handle("CreateDatasetExportJob", export(), CALLER)["datasetExportJobArn"]
    first = describe(standin, "DescribeDatasetExportJob", "datasetExportJob", arn)["status"]
    clock.advance_to(300)
    assert (first, describe(standin, "DescribeDatasetExportJob", "datasetExportJob", arn)["status"]) == (
        "CREATE PENDING",
        "CREATE IN_PROGRESS",
    )


# ---------------------------------------------------------------- IAM, offline


@pytest.mark.parametrize(
    ("action", "params", "resource_type", "arn"),
    [
        (
            "personalize:CreateDataDeletionJob",
            {"jobName": "Stack-Erase-0123abcd", "datasetGroupArn": GROUP},
            "dataDeletionJob",
            f"arn:aws:personalize:{REGION}:{ACCOUNT}:data-deletion-job/Stack-Erase-0123abcd",
        ),
        (
            "personalize:DescribeDatasetExportJob",
            {"datasetExportJobArn": EXPORT_ARN},
            "datasetExportJob",
            EXPORT_ARN,
        ),
        (
            "personalize:TagResource",
            {
                "resourceArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:data-deletion-job/Stack-Erase-1",
                "tags": [],
            },
            "dataDeletionJob",
            f"arn:aws:personalize:{REGION}:{ACCOUNT}:data-deletion-job/Stack-Erase-1",
        ),
    ],
)
def test_the_new_kinds_calls_are_authorized_against_their_jobs(
    action: str, params: dict[str, Any], resource_type: str, arn: str
) -> None:
    (required,) = required_resources(action, params, partition="aws", region=REGION, account=ACCOUNT)
    assert (required.resource_type, required.arn) == (resource_type, arn)
    allowed = {
        "Jobs": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": arn}],
        }
    }
    other = {
        "Jobs": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": arn + "x"}],
        }
    }
    assert check_call(
        action,
        params,
        principal=ROLE,
        identity_policies=allowed,
        partition="aws",
        region=REGION,
        account=ACCOUNT,
    ).allowed
    assert not check_call(
        action,
        params,
        principal=ROLE,
        identity_policies=other,
        partition="aws",
        region=REGION,
        account=ACCOUNT,
    ).allowed
