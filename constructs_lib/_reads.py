"""Values read from aws-cdk-lib once and kept beside the object they were read from.

Every property read and every call into aws-cdk-lib is a round trip to the jsii kernel (Node.js), and a
stack with many jobs reads the same values again and again: the storage's bucket names and ARNs, the
stack's name, region and node, a timeout's seconds. Kept here are only values that CDK never changes once
the object exists; nothing here interprets a token.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

T = TypeVar("T")

# Keyed weakly by the object read from. (Objects made in Python, stacks and jobs among them, live as long
# as the process anyway: jsii keeps them for the kernel.)
_VALUES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def once(owner: object, name: str, read: Callable[[], T]) -> T:
    """``read()``, called the first time ``owner`` is asked for ``name`` only; ``read`` must give what
    never changes for ``owner`` (``lambda: bucket.bucket_name``, not a list of its children).

    An object that cannot be hashed or weakly referenced is read every time.
    """
    try:
        values = _VALUES.get(owner)
        if values is None:
            values = _VALUES[owner] = {}
    except TypeError:
        return read()
    if name not in values:
        values[name] = read()
    return cast(T, values[name])


# What a stack's jobs read from the storage they share.


def bucket_name(bucket: s3.IBucket) -> str:
    return once(bucket, "bucket_name", lambda: bucket.bucket_name)


def bucket_arn(bucket: s3.IBucket) -> str:
    return once(bucket, "bucket_arn", lambda: bucket.bucket_arn)


def role_arn(role: iam.IRole) -> str:
    return once(role, "role_arn", lambda: role.role_arn)


def key_arn(key: kms.IKey) -> str:
    return once(key, "key_arn", lambda: key.key_arn)
