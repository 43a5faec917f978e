"""Secure storage for Personalize batch inference: keys, buckets and the role Personalize assumes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import jsii
from aws_cdk import Annotations, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IValidation

from constructs_lib._validation import check_role_arn, child_path, raise_if_errors
from constructs_lib.compliance import COMPLIANCE_PACKS, Acknowledgements, nag_resource

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"
# What the Personalize role needs on each key; CreateGrant goes in the key policy only.
KEY_ACTIONS_FOR_ROLE = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"]
KEY_ACTIONS_IN_KEY_POLICY = [*KEY_ACTIONS_FOR_ROLE, "kms:CreateGrant"]
ACCESS_LOG_RETENTION = Duration.days(365)
# Created buckets are versioned: replaced objects stay as noncurrent versions until they expire.
NONCURRENT_VERSION_EXPIRATION = Duration.days(30)
ABORT_INCOMPLETE_UPLOADS = Duration.days(7)
# A job reading a bucket the app creates and nothing of the app writes.
EMPTY_INPUT_WARNING = "constructs-lib:inputBucketEmptyOnFirstDeploy"
# The BucketDeployment function unpacks the sample zip: aws-cdk-lib's default (128 MB) is slow for it.
DEPLOYMENT_MEMORY_MB = 512


def _source_account_condition() -> dict[str, dict[str, str]]:
    return {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}


class BatchInferenceStorage(Construct):
    """S3 input and output buckets, their KMS keys and the IAM role Amazon Personalize assumes.

    Every piece can be brought instead of created. What is created follows the secure defaults of
    well-reviewed CDK code: buckets block all public access, require TLS, are versioned, encrypted
    with customer-managed keys (bucket keys on), owner-enforced, log server access to a dedicated log
    bucket and are retained on stack deletion; keys rotate; the role trusts only Personalize acting
    for this account and region, and may only read the input and write the output.

    Brought resources whose policies cannot be changed from here are reported as warning annotations
    (``cdk synth`` prints them; a validation report lists them as ``Annotation::<id>``). Each has a
    stable id, to acknowledge once the policy is in place with
    ``Annotations.of(storage).acknowledge_warning("<id>", "reason")``:

    - ``constructs-lib:roleIsImmutable``: ``role`` was imported with ``mutable=False``, so the
      least-privilege policy is not attached; the warning lists what the role needs.
    - ``constructs-lib:inputBucketPolicy`` / ``constructs-lib:outputBucketPolicy``: the input / output
      bucket is imported, so the statement admitting personalize.amazonaws.com cannot be added to its
      bucket policy here.
    - ``constructs-lib:inputKeyPolicy`` / ``constructs-lib:outputKeyPolicy``: the KMS key of the input /
      output bucket is imported, so the statements admitting the role and personalize.amazonaws.com
      cannot be added to its key policy here.
    - ``constructs-lib:inputAndOutputKeyPolicy``: as above, for one imported key serving both buckets.
    - ``constructs-lib:accessLogsBucketPolicy``: ``access_logs_bucket`` is imported, so the statement
      letting S3 server access logging (logging.s3.amazonaws.com) write to it cannot be added here.
    """

    input_bucket: s3.IBucket
    """The bucket Personalize reads the jobs' input from: created, or the one given."""
    output_bucket: s3.IBucket
    """The bucket Personalize writes the jobs' results to: created, or the one given."""
    input_key: kms.IKey | None
    """The input bucket's KMS key; None for a brought bucket without one (SSE-S3)."""
    output_key: kms.IKey | None
    """The output bucket's KMS key; None for a brought bucket without one (SSE-S3)."""
    role: iam.IRole
    """The role Personalize assumes to read the input and write the output: created, or the one given."""
    role_policy: iam.ManagedPolicy | None
    """The least-privilege managed policy attached to ``role``; None for a brought immutable role."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        input_key: kms.IKey | None = None,
        output_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        output_expiration: Duration | None = None,
        output_transitions: Sequence[s3.Transition] | None = None,
        input_expiration: Duration | None = None,
    ) -> None:
        """
        :param input_bucket: Bucket holding the input JSON lines files.
            Default: a bucket is created with the secure defaults above.
        :param output_bucket: Bucket receiving the recommendations.
            Default: a bucket is created with the secure defaults above.
        :param input_key: KMS key encrypting the input bucket. For a brought bucket, the key that bucket
            uses (leave it out when the bucket uses SSE-S3). Default: the brought bucket's own
            ``encryption_key`` if it has one; for a created bucket, a key with rotation is created.
        :param output_key: KMS key encrypting the output bucket; may be the same key as ``input_key``.
            Default: as for ``input_key``.
        :param role: Role Personalize assumes to read the input and write the output. The construct
            attaches its least-privilege managed policy to it unless the role is immutable.
            Default: a role trusting personalize.amazonaws.com for this account and region is created.
        :param access_logs_bucket: Bucket receiving the created buckets' server access logs.
            Default: a dedicated log bucket (SSE-S3, TLS-only, logs expire after 365 days) is created
            when at least one bucket is created.
        :param removal_policy: What happens to created buckets and keys when they leave the stack.
            ``RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE`` (CloudFormation's ``RetainExceptOnCreate``)
            deletes them when the deploy that creates them fails, and keeps them afterwards; it suits a
            storage that is still empty while that deploy can fail (created alone, before any job or
            ``deploy_input``): a rollback cannot delete a bucket that holds objects (or object versions)
            and then ends ``ROLLBACK_FAILED``. Default: RemovalPolicy.RETAIN, so recommendations and the
            keys to read them survive, including a failed first deploy (buckets and keys then stay
            behind, to remove by hand).
        :param output_expiration: Expire objects in a created output bucket this long after they were
            written (each run writes under its own prefix, so old runs' results go). Default: results
            are kept; replaced or deleted objects are kept as noncurrent versions for 30 days.
        :param output_transitions: Move objects of a created output bucket to cheaper storage classes
            over time (e.g. ``s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
            transition_after=Duration.days(30))``). Default: they stay in S3 Standard.
        :param input_expiration: Expire objects in a created input bucket this long after upload.
            Default: input files are kept; replaced ones as noncurrent versions for 30 days.
        """
        errors = [
            *_key_conflicts("input", input_bucket, input_key),
            *_key_conflicts("output", output_bucket, output_key),
            *(check_role_arn("role", role.role_arn) if role is not None else ()),
            *_lifecycle_conflicts("output", output_bucket, output_expiration, output_transitions),
            *_lifecycle_conflicts("input", input_bucket, input_expiration, None),
        ]
        raise_if_errors("BatchInferenceStorage", errors, path=child_path(scope, id))
        super().__init__(scope, id)
        self._acks = Acknowledgements()
        self._removal_policy = removal_policy
        # Whether anything of the app writes input: a deployment of files, a grant to write it.
        self._input_writers = 0
        self._input_checked = False
        # The input bucket comes into being with this stack: created here, or a bucket of the stack's own.
        self._creates_input = input_bucket is None or (
            isinstance(input_bucket, s3.Bucket) and Stack.of(input_bucket) is Stack.of(scope)
        )
        self._access_logs_bucket = access_logs_bucket

        self.input_key: kms.IKey | None = self._resolve_key("InputKey", "input", input_bucket, input_key)
        self.output_key: kms.IKey | None = (
            self.input_key
            if output_key is not None and _same(output_key, input_key)
            else self._resolve_key("OutputKey", "output", output_bucket, output_key)
        )
        self.input_bucket: s3.IBucket = input_bucket or self._create_bucket(
            "InputBucket", self.input_key, _lifecycle(input_expiration, None)
        )
        self.output_bucket: s3.IBucket = output_bucket or self._create_bucket(
            "OutputBucket", self.output_key, _lifecycle(output_expiration, output_transitions)
        )
        self.role: iam.IRole = role or iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Personalize to read batch inference input and write its output",
            assumed_by=iam.ServicePrincipal(
                PERSONALIZE_PRINCIPAL,
                conditions={
                    **_source_account_condition(),
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
        )
        self.role_policy: iam.ManagedPolicy | None = iam.ManagedPolicy(
            self,
            "RolePolicy",
            description="Least privilege for Personalize batch inference: read input, write output",
            statements=list(self._role_statements()),
        )
        """The least-privilege managed policy attached to the role; None for an immutable brought role."""
        if isinstance(self.role, iam.Role):
            # Attached from the policy's side: the role's key policies name the role, and the policy
            # names the keys, so the role must not depend on the policy.
            self.role_policy.attach_to_role(self.role)
        else:
            self.role.add_managed_policy(self.role_policy)
            if not _attached(self.role_policy):
                # Role.from_role_arn(..., mutable=False): nothing may be attached. Create nothing that
                # stays unattached; say what the role needs instead.
                self.node.try_remove_child("RolePolicy")
                self.role_policy = None
                Annotations.of(self).add_warning_v2(
                    "constructs-lib:roleIsImmutable",
                    "role is imported as immutable, so nothing is attached to it here. It needs "
                    "s3:GetObject and s3:ListBucket on the input bucket and its objects, s3:PutObject and "
                    "s3:ListBucket on the output bucket and its objects, and "
                    f"{', '.join(KEY_ACTIONS_FOR_ROLE)} on the buckets' KMS keys.",
                )
        if self.role_policy is not None:
            for bucket, access in ((self.input_bucket, "read input"), (self.output_bucket, "write output")):
                self._acks.add(
                    self.role_policy,
                    f"AwsSolutions-IAM5[Resource::{nag_resource(self, bucket.arn_for_objects('*'))}]",
                    f"Personalize must {access} objects whose keys are chosen per job at deploy time; the "
                    "wildcard is limited to this one bucket.",
                )
        self._admit_personalize()
        self._acks.record()

    # ---------------------------------------------------------------- keys and buckets

    def _resolve_key(
        self, id: str, which: str, bucket: s3.IBucket | None, key: kms.IKey | None
    ) -> kms.IKey | None:
        if key is not None:
            return key
        if bucket is not None:
            return bucket.encryption_key
        return kms.Key(
            self,
            id,
            description=f"Encrypts Personalize batch inference {which} data",
            enable_key_rotation=True,
            removal_policy=self._removal_policy,
        )

    def _create_bucket(self, id: str, key: kms.IKey | None, rules: list[s3.LifecycleRule]) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            encryption=s3.BucketEncryption.KMS if key is not None else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=key is not None,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=self._removal_policy,
            lifecycle_rules=rules,
        )
        self._log_server_access(bucket, prefix=f"{id}/")
        self._acks.add_all(bucket, _no_replication_rules())
        return bucket

    def _log_server_access(self, bucket: s3.Bucket, prefix: str) -> None:
        """Send server access logs to the log bucket through a bucket policy, not ACLs.

        Set on the L1 so the result does not depend on the app's
        ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` feature flag: owner-enforced buckets
        cannot receive ACL-based log delivery.
        """
        logs = self._access_logs()
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=logs.bucket_name, log_file_prefix=prefix
        )
        result = logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"ServerAccessLogs{prefix.rstrip('/')}",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[logs.arn_for_objects(f"{prefix}*")],
                conditions={"ArnLike": {"aws:SourceArn": bucket.bucket_arn}, **_source_account_condition()},
            )
        )
        if not result.statement_added:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:accessLogsBucketPolicy",
                f"access_logs_bucket is imported: add a bucket policy letting logging.s3.amazonaws.com "
                f"put objects under '{prefix}' for the bucket {bucket.node.path}.",
            )

    def _access_logs(self) -> s3.IBucket:
        if self._access_logs_bucket is None:
            self._access_logs_bucket = s3.Bucket(
                self,
                "AccessLogsBucket",
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                # Server access log delivery supports SSE-S3 only.
                encryption=s3.BucketEncryption.S3_MANAGED,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                versioned=True,
                lifecycle_rules=[
                    s3.LifecycleRule(
                        expiration=ACCESS_LOG_RETENTION,
                        noncurrent_version_expiration=Duration.days(1),
                    )
                ],
                removal_policy=self._removal_policy,
            )
            self._acks.add_all(self._access_logs_bucket, _no_replication_rules())
            for pack in COMPLIANCE_PACKS:
                self._acks.add(
                    self._access_logs_bucket,
                    f"{pack}-S3DefaultEncryptionKMS",
                    "S3 server access log delivery writes only to buckets encrypted with SSE-S3.",
                )
            self._acks.add(
                self._access_logs_bucket,
                "AwsSolutions-S1",
                "This is the server access log bucket; logging its own access would log the logging.",
            )
        return self._access_logs_bucket

    # ---------------------------------------------------------------- what Personalize needs

    def _role_statements(self) -> Iterable[iam.PolicyStatement]:
        yield iam.PolicyStatement(
            sid="ReadInput",
            actions=["s3:GetObject", "s3:ListBucket"],
            resources=[self.input_bucket.bucket_arn, self.input_bucket.arn_for_objects("*")],
        )
        yield iam.PolicyStatement(
            sid="WriteOutput",
            actions=["s3:PutObject", "s3:ListBucket"],
            resources=[self.output_bucket.bucket_arn, self.output_bucket.arn_for_objects("*")],
        )
        keys = self._distinct_keys()
        if keys:
            yield iam.PolicyStatement(
                sid="UseKeys", actions=KEY_ACTIONS_FOR_ROLE, resources=[k.key_arn for k in keys]
            )

    def _distinct_keys(self) -> list[kms.IKey]:
        keys: list[kms.IKey] = []
        for key in (self.input_key, self.output_key):
            if key is not None and not any(_same(key, k) for k in keys):
                keys.append(key)
        return keys

    def _keys_by_use(self) -> list[tuple[str, kms.IKey]]:
        """Each distinct key with what it encrypts: "input", "output" or "input and output"."""
        if self.input_key is not None and _same(self.input_key, self.output_key):
            return [("input and output", self.input_key)]
        uses = (("input", self.input_key), ("output", self.output_key))
        return [(which, key) for which, key in uses if key is not None]

    def _admit_personalize(self) -> None:
        """Bucket and key policies: Personalize checks them as well as the role's own policy."""
        service = iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)
        for which, bucket, actions in (
            ("input", self.input_bucket, ["s3:GetObject", "s3:ListBucket"]),
            ("output", self.output_bucket, ["s3:PutObject", "s3:ListBucket"]),
        ):
            statement = iam.PolicyStatement(
                sid="PersonalizeBatchInference",
                principals=[service],
                actions=actions,
                resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                conditions=_source_account_condition(),
            )
            if not bucket.add_to_resource_policy(statement).statement_added:
                Annotations.of(self).add_warning_v2(
                    f"constructs-lib:{which}BucketPolicy",
                    f"{which}_bucket is imported, so its bucket policy cannot be changed here. Add a "
                    f"statement allowing the service principal {PERSONALIZE_PRINCIPAL} "
                    f"{' and '.join(actions)} on the bucket and its objects, or Personalize will refuse the "
                    "bucket.",
                )
        for which, key in self._keys_by_use():
            # The role's requests carry no source account; the service principal's do, so it is scoped.
            statements = [
                iam.PolicyStatement(
                    sid="PersonalizeRole",
                    principals=[iam.ArnPrincipal(self.role.role_arn)],
                    actions=KEY_ACTIONS_IN_KEY_POLICY,
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PersonalizeService",
                    principals=[service],
                    actions=KEY_ACTIONS_IN_KEY_POLICY,
                    resources=["*"],
                    conditions=_source_account_condition(),
                ),
            ]
            if not all([key.add_to_resource_policy(statement).statement_added for statement in statements]):
                Annotations.of(self).add_warning_v2(
                    f"constructs-lib:{_camel(which)}KeyPolicy",
                    f"The {which} KMS key {key.key_arn} is imported, so its "
                    "key policy cannot be changed here. Allow the Personalize role and "
                    f"{PERSONALIZE_PRINCIPAL} {', '.join(KEY_ACTIONS_IN_KEY_POLICY)} in it.",
                )

    # ---------------------------------------------------------------- input shipped with the app

    def deploy_input(
        self,
        id: str,
        *,
        sources: Sequence[s3deploy.ISource],
        key_prefix: str | None = None,
    ) -> s3deploy.BucketDeployment:
        """Copy files shipped with the app into the input bucket at deploy time (CDK's
        ``aws_s3_deployment.BucketDeployment``: a zip asset unpacked by a Lambda function; no Docker).

        Every job of this storage waits for the copy (the deployment is part of the storage), so a stack
        that creates its storage can import and run jobs on that data in its first deploy. Files already in
        the bucket that the sources do not hold are left alone, and the copied files stay in the bucket when
        the deployment leaves the stack.

        :param id: The deployment's construct id, inside this storage.
        :param sources: What to copy, e.g. ``[s3deploy.Source.asset("data")]`` for a directory of the app.
        :param key_prefix: Key prefix in the input bucket, e.g. ``"interactions/"``. Default: the
            sources' own paths, from the bucket's root.
        """
        self._input_writers += 1
        if self._creates_input and self._removal_policy == RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE:
            Annotations.of(self).add_warning_v2(
                "constructs-lib:retainExceptOnCreateWithInput",
                "removal_policy is RETAIN_ON_UPDATE_OR_DELETE and the input bucket receives files in the "
                "deploy that creates it: if that deploy fails after the copy, its rollback cannot delete the "
                "(versioned, non-empty) bucket and ends ROLLBACK_FAILED. Deploy the storage alone first, or "
                "keep the default RemovalPolicy.RETAIN.",
            )
        deployment = s3deploy.BucketDeployment(
            self,
            id,
            sources=list(sources),
            destination_bucket=self.input_bucket,
            destination_key_prefix=key_prefix,
            prune=False,
            retain_on_delete=True,
            memory_limit=DEPLOYMENT_MEMORY_MB,
        )
        _acknowledge_deployment(deployment, self._acks)
        self._acks.record()
        return deployment

    def _job_reads_input(self, job: Construct) -> None:
        """A job reads the input bucket: at synth, warn when the app creates that bucket and nothing of the
        app writes to it (the first deploy would start the job on an empty bucket)."""
        if self._input_checked or not self._creates_input:
            return
        self._input_checked = True
        self.node.add_validation(_InputIsWritten(self, job))

    def _input_is_written(self) -> bool:
        if self._input_writers:
            return True
        # A BucketDeployment of the user's own into the input bucket, or a job of another storage that
        # writes its results there.
        stack = Stack.of(self)
        bucket_name = json.dumps(stack.resolve(self.input_bucket.bucket_name), sort_keys=True)
        for construct in stack.node.find_all():
            if isinstance(construct, s3deploy.BucketDeployment):
                cfn = construct.node.find_child("CustomResource").node.default_child
                properties = getattr(cfn, "_cfn_properties", None) or {}
                target = properties.get("DestinationBucketName")
                if target is not None and json.dumps(stack.resolve(target), sort_keys=True) == bucket_name:
                    return True
            elif isinstance(construct, BatchInferenceStorage) and construct is not self:
                output = json.dumps(stack.resolve(construct.output_bucket.bucket_name), sort_keys=True)
                if output == bucket_name:
                    return True
        return False

    # ---------------------------------------------------------------- grants

    def grant_write_input(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` upload input files, and encrypt them with the input key if there is one."""
        self._input_writers += 1
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resource_arns=[self.input_bucket.arn_for_objects("*")],
        )
        if self.input_key is not None:
            # Decrypt too: multipart uploads of SSE-KMS objects read back the data key.
            grant = grant.combine(self.input_key.grant_encrypt_decrypt(grantee))
        return grant

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list and read recommendations, and decrypt them with the output key."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:ListBucket"],
            resource_arns=[self.output_bucket.bucket_arn, self.output_bucket.arn_for_objects("*")],
        )
        if self.output_key is not None:
            grant = grant.combine(self.output_key.grant_decrypt(grantee))
        return grant


@jsii.implements(IValidation)
class _InputIsWritten:
    def __init__(self, storage: BatchInferenceStorage, job: Construct) -> None:
        self._storage = storage
        self._job = job

    def validate(self) -> list[str]:
        storage = self._storage
        if not storage._input_is_written():
            Annotations.of(self._job).add_warning_v2(
                EMPTY_INPUT_WARNING,
                f"This job reads from {storage.node.path}'s input bucket, which this app creates and nothing "
                "in the app writes to: on the stack's first deploy the bucket is empty when the job starts, "
                "and the job fails (there is no time to upload between the bucket's creation and the job). "
                "Ship the input with the app: storage.deploy_input('Data', sources=[s3deploy.Source.asset("
                "'<directory>')]), or bring a bucket that already holds it (input_bucket=...), or deploy the "
                "storage alone first and upload, then acknowledge this warning.",
            )
        return []


def _acknowledge_deployment(deployment: s3deploy.BucketDeployment, acks: Acknowledgements) -> None:
    """The findings on what ``BucketDeployment`` creates, acknowledged on the pieces it owns: its function
    is a stack-wide singleton of aws-cdk-lib, built to its own design (runtime, inline policy, log group)."""
    stack = Stack.of(deployment)
    # This deployment's own function (a singleton per memory size and other settings, so a user's own
    # BucketDeployment may have another): the scope of the role the deployment names.
    handler = deployment.handler_role.node.scope
    if not isinstance(handler, lambda_.Function):  # aws-cdk-lib moved it: its findings show, to acknowledge
        return
    owned = "CDK's BucketDeployment function"
    runtime = (
        f"{owned} runs its bundled code on the Python runtime aws-cdk-lib chose for it; not ours to set."
    )
    synchronous = (
        f"{owned} is invoked synchronously by CloudFormation, once per deploy; a DLQ would receive nothing."
    )
    for rule, reason in (
        ("AwsSolutions-L1", runtime),
        ("Serverless-LambdaLatestVersion", runtime),
        ("Serverless-LambdaDLQ", synchronous),
        (
            "Serverless-LambdaTracing",
            f"{owned} copies files once per deploy; aws-cdk-lib offers no tracing for it.",
        ),
    ):
        acks.add(handler, rule, reason)
    for pack in COMPLIANCE_PACKS:
        acks.add(
            handler,
            f"{pack}-LambdaInsideVPC",
            f"{owned} calls only S3, once per deploy; it runs in no VPC, as aws-cdk-lib builds it here.",
        )
        if pack == "PCI.DSS.321":  # PCI checks neither
            continue
        acks.add(handler, f"{pack}-LambdaDLQ", synchronous)
        acks.add(
            handler,
            f"{pack}-LambdaConcurrency",
            f"{owned} runs once per deploy; a reservation would take from the account's unreserved pool, and "
            "new accounts refuse any.",
        )
    log_group = handler.node.try_find_child("LogGroup")
    if log_group is not None:
        for pack in COMPLIANCE_PACKS:
            acks.add(
                log_group,
                f"{pack}-CloudWatchLogGroupEncrypted",
                f"{owned} logs the copy's commands and object keys, never the data; CloudWatch Logs encrypts "
                "them at rest with its own keys.",
            )
    role = handler.role
    if role is not None:
        acks.add(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            f"{owned} writes its logs through the AWS managed basic execution policy, as aws-cdk-lib "
            "builds it.",
        )
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if not isinstance(policy, iam.Policy):
        return
    for pack in COMPLIANCE_PACKS:
        acks.add(
            policy,
            f"{pack}-IAMNoInlinePolicy",
            f"aws-cdk-lib writes {owned}'s grants (read the asset, write the input bucket) as its role's "
            "inline default policy.",
        )
    for action, why in (
        ("s3:GetObject*", "reads the asset zip"),
        ("s3:List*", "lists the asset and the input bucket"),
        ("s3:GetBucket*", "reads the location of the asset and the input bucket"),
        ("s3:Abort*", "aborts its own failed multipart uploads"),
        ("s3:DeleteObject*", "may replace the files it copied"),
        ("kms:GenerateDataKey*", "encrypts the copied files with the input bucket's key"),
        ("kms:ReEncrypt*", "encrypts the copied files with the input bucket's key"),
    ):
        acks.add(
            policy,
            f"AwsSolutions-IAM5[Action::{action}]",
            f"{owned} {why}: the action groups aws-cdk-lib grants it, on the asset bucket and the input "
            "bucket (and its key) only.",
        )
    document = stack.resolve(policy.document.to_json())
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            try:
                form = _nag_resolved(resource)
            except ValueError:
                continue
            if form.endswith("/*"):
                acks.add(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{form}]",
                    f"{owned} reads the app's asset zip (keyed by its content hash) from the bootstrap "
                    "bucket and writes the shipped files, keyed as in the app, into the input bucket only.",
                )


def _nag_resolved(resolved: object) -> str:
    """cdk-nag's spelling of a resolved value, ``Fn::Sub`` (the bootstrap bucket's name) included."""
    from constructs_lib.compliance import _nag_form

    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_nag_resolved(part) for part in parts)
    if isinstance(resolved, dict) and isinstance(resolved.get("Fn::Sub"), str):
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", resolved["Fn::Sub"])
    return _nag_form(resolved)


def _attached(policy: iam.ManagedPolicy) -> bool:
    """Whether any role, user or group has the policy attached (an immutable role takes none)."""
    cfn = policy.node.default_child
    assert isinstance(cfn, iam.CfnManagedPolicy)
    stack = Stack.of(policy)
    return any(stack.resolve(names) for names in (cfn.roles, cfn.users, cfn.groups))


def _lifecycle(
    expiration: Duration | None, transitions: Sequence[s3.Transition] | None
) -> list[s3.LifecycleRule]:
    """Noncurrent versions expire and failed uploads are cleaned up; current objects as asked."""
    rules = [
        s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=NONCURRENT_VERSION_EXPIRATION,
            abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS,
        )
    ]
    if expiration is not None or transitions:
        rules.append(
            s3.LifecycleRule(
                id="AgeOutObjects", expiration=expiration, transitions=list(transitions or []) or None
            )
        )
    return rules


def _lifecycle_conflicts(
    which: str,
    bucket: s3.IBucket | None,
    expiration: Duration | None,
    transitions: Sequence[s3.Transition] | None,
) -> Iterable[str]:
    if bucket is not None and (expiration is not None or transitions):
        yield (
            f"{which}_expiration/{which}_transitions apply to a bucket this construct creates, but "
            f"{which}_bucket was given; add lifecycle rules to your bucket instead"
        )


def _no_replication_rules() -> list[tuple[str, str]]:
    reason = (
        "Replication needs a destination bucket in another Region, an account-level choice this "
        "construct cannot make; batch inference data is reproducible from the dataset and solution "
        "version. Bring replicated buckets with input_bucket/output_bucket when you need it."
    )
    return [(f"{pack}-S3BucketReplicationEnabled", reason) for pack in COMPLIANCE_PACKS]


def _key_conflicts(which: str, bucket: s3.IBucket | None, key: kms.IKey | None) -> Iterable[str]:
    if bucket is None or key is None or bucket.encryption_key is None:
        return
    if not _same(bucket.encryption_key, key):
        yield (
            f"{which}_key was given, but {which}_bucket already carries its own encryption key "
            f"({bucket.encryption_key.node.path}). Drop {which}_key, or import the bucket without "
            "encryption_key and pass its key as " + f"{which}_key."
        )


def _camel(words: str) -> str:
    """``"input and output"`` -> ``"inputAndOutput"``: the part of a warning id naming a key's use."""
    first, *rest = words.split()
    return first + "".join(word.capitalize() for word in rest)


def _same(a: kms.IKey | None, b: kms.IKey | None) -> bool:
    """Whether two references name the same key construct (jsii may hand back distinct proxies)."""
    return a is not None and b is not None and a.node.addr == b.node.addr
