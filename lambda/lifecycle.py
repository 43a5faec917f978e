"""How an Update is carried out, and the messages CloudFormation shows when one is refused."""

from __future__ import annotations

from dataclasses import dataclass

from props import JobProps, Tags


@dataclass(frozen=True)
class UpdatePlan:
    """What changed between the old and the new properties of one job resource."""

    changed: tuple[str, ...]  # run-defining properties whose value changed
    tags_to_set: Tags
    tag_keys_to_remove: tuple[str, ...]
    monitor_changed: bool  # a new wait handle or timeout: a new monitor must report to it

    @property
    def retag(self) -> bool:
        return bool(self.tags_to_set or self.tag_keys_to_remove)


def tag_changes(old: Tags, new: Tags) -> tuple[Tags, tuple[str, ...]]:
    """(tags to set because they are new or changed, keys to remove)."""
    old_map, new_map = dict(old), dict(new)
    to_set = tuple((key, value) for key, value in new if old_map.get(key) != value)
    to_remove = tuple(key for key in old_map if key not in new_map)
    return to_set, to_remove


def classify_update(old: JobProps, new: JobProps) -> UpdatePlan:
    old_defining, new_defining = old.job_defining(), new.job_defining()
    changed = tuple(name for name in new.kind.defining if old_defining.get(name) != new_defining.get(name))
    to_set, to_remove = tag_changes(old.tags, new.tags)
    monitor_changed = (old.wait_handle, old.timeout_seconds) != (new.wait_handle, new.timeout_seconds)
    return UpdatePlan(changed, to_set, to_remove, monitor_changed)


def failed_before_error(noun: str, job_name: str, failure_reason: str | None) -> str:
    return (
        f"The {noun} {job_name!r}, with exactly this definition, already ran and failed: "
        f"{failure_reason or 'no reason given'}. Personalize keeps failed jobs and the job's name follows "
        "its definition, so the same definition cannot run again. Fix the cause, then set run_token to a "
        "new value (or change job_name) to start a new job."
    )


def handle_reuse_error(noun: str, job_name: str, changed: tuple[str, ...]) -> str:
    return (
        f"The {noun} {job_name!r} would be replaced ({', '.join(changed)} changed at deploy time, through "
        "a parameter, SSM value or import, or because a resource it refers to was replaced, such as a "
        "solution whose recipe or name changed), but its WaitCondition stays the same because the "
        "synthesized template did not change, so the deployment could not wait for the new job. Nothing "
        "was started. Change run_token together with such a value: set run_token to a new value in the "
        "same deploy."
    )


def fixed_name_error(noun: str, job_name: str, differences: list[str]) -> str:
    return (
        f"The {noun} {job_name!r} already exists with another definition ({'; '.join(differences)}), and "
        "a job cannot be deleted or renamed, so a job with the new definition needs a new name. Remove "
        "job_name to let the construct name each job, or change it."
    )


def not_ours_error(noun: str, job_name: str, differences: list[str]) -> str:
    return (
        f"A {noun} named {job_name!r} already exists with another definition ({'; '.join(differences)}): "
        "another resource's job, or an earlier one of this resource (a stack deleted and created again, a "
        "name used before). Personalize keeps every job, so this definition needs another job_name."
    )


def cannot_queue_error(noun: str, job_name: str, detail: str) -> str:
    return (
        f"The {noun} {job_name!r} could not be started: {detail}. Personalize gives it its ARN only when "
        "it starts, and the resource must answer with that ARN, so it cannot wait for a free slot. Deploy "
        "again when fewer are in progress (or ask for a higher quota), or once the cause above is fixed."
    )
