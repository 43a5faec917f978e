"""BatchInferenceStorage: secure defaults, Personalize access, bring-your-own, grants, bad props."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import BatchInferenceStorage

ENV = cdk.Environment(account="123456789012", region="us-east-1")
BYO_ROLE_ARN = "arn:aws:iam::123456789012:role/existing-personalize-role"
ACCOUNT_REF = {"Ref": "AWS::AccountId"}
BYO_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


class Stacks:
    """One app, synthesized once for the module: one stack per storage configuration."""

    def __init__(self) -> None:
        app = cdk.App()
        self.default = cdk.Stack(app, "Default", env=ENV)
        self.default_storage = BatchInferenceStorage(self.default, "Storage")
        consumer = lambda_.Function(
            self.default,
            "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(e, c): pass"),
        )
        self.read_grant = self.default_storage.grant_read_output(consumer)
        self.write_grant = self.default_storage.grant_write_input(consumer)

        self.byo = cdk.Stack(app, "BringYourOwn", env=ENV)
        key = kms.Key.from_key_arn(self.byo, "Key", BYO_KEY_ARN)
        self.byo_storage = BatchInferenceStorage(
            self.byo,
            "Storage",
            input_bucket=s3.Bucket.from_bucket_attributes(
                self.byo, "In", bucket_name="existing-input", encryption_key=key
            ),
            output_bucket=s3.Bucket.from_bucket_name(self.byo, "Out", "existing-output"),
            role=iam.Role.from_role_arn(self.byo, "Role", BYO_ROLE_ARN, mutable=False),
        )

        self.shared_key = cdk.Stack(app, "SharedKey", env=ENV)
        one_key = kms.Key(self.shared_key, "OneKey", enable_key_rotation=True)
        self.shared_key_storage = BatchInferenceStorage(
            self.shared_key, "Storage", input_key=one_key, output_key=one_key
        )

        self.destroy = cdk.Stack(app, "Destroy", env=ENV)
        BatchInferenceStorage(self.destroy, "Storage", removal_policy=cdk.RemovalPolicy.DESTROY)

        self.templates = {
            name: Template.from_stack(stack)
            for name, stack in {
                "default": self.default,
                "byo": self.byo,
                "shared_key": self.shared_key,
                "destroy": self.destroy,
            }.items()
        }


@pytest.fixture(scope="module")
def stacks() -> Stacks:
    return Stacks()


@pytest.fixture(scope="module")
def template(stacks: Stacks) -> Template:
    return stacks.templates["default"]


def _bucket_logical_id(template: Template, stack: cdk.Stack, bucket: s3.IBucket) -> str:
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    return stack.get_logical_id(cfn)


# ---------------------------------------------------------------- created resources


def test_default_storage_creates_input_output_and_log_buckets(template: Template) -> None:
    template.resource_count_is("AWS::S3::Bucket", 3)


def test_default_storage_creates_two_rotating_customer_managed_keys(template: Template) -> None:
    template.resource_count_is("AWS::KMS::Key", 2)
    template.all_resources_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


@pytest.mark.parametrize("name", ["InputBucket", "OutputBucket"])
def test_data_buckets_block_public_access_and_are_versioned(
    stacks: Stacks, template: Template, name: str
) -> None:
    bucket = getattr(stacks.default_storage, name.replace("Bucket", "_bucket").lower())
    props = template.to_json()["Resources"][_bucket_logical_id(template, stacks.default, bucket)][
        "Properties"
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@pytest.mark.parametrize("which", ["input", "output"])
def test_data_buckets_use_their_own_kms_key_with_bucket_keys(
    stacks: Stacks, template: Template, which: str
) -> None:
    storage = stacks.default_storage
    bucket, key = getattr(storage, f"{which}_bucket"), getattr(storage, f"{which}_key")
    props = template.to_json()["Resources"][_bucket_logical_id(template, stacks.default, bucket)][
        "Properties"
    ]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == stacks.default.resolve(key.key_arn)


def test_input_and_output_keys_differ_by_default(stacks: Stacks) -> None:
    assert stacks.default_storage.input_key is not stacks.default_storage.output_key


@pytest.mark.parametrize("which", ["input", "output"])
def test_data_buckets_log_server_access_to_the_log_bucket(
    stacks: Stacks, template: Template, which: str
) -> None:
    bucket = getattr(stacks.default_storage, f"{which}_bucket")
    props = template.to_json()["Resources"][_bucket_logical_id(template, stacks.default, bucket)][
        "Properties"
    ]
    destination = props["LoggingConfiguration"]["DestinationBucketName"]
    assert list(destination) == ["Ref"] and "AccessLogsBucket" in destination["Ref"]
    assert props["LoggingConfiguration"]["LogFilePrefix"].endswith("/")


def test_log_bucket_uses_sse_s3_and_expires_logs(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": 365})])
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


def test_log_bucket_admits_log_delivery_by_policy_scoped_to_source_bucket(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Condition": {
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                    "StringEquals": {"aws:SourceAccount": ACCOUNT_REF},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_every_bucket_denies_requests_without_tls(template: Template) -> None:
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_buckets_and_keys_are_retained_by_default(template: Template) -> None:
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain"


def test_removal_policy_destroy_applies_to_buckets_and_keys(stacks: Stacks) -> None:
    template = stacks.templates["destroy"]
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Delete"


# ---------------------------------------------------------------- Personalize access


def test_role_trusts_only_personalize_for_this_account_and_region(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "personalize.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": ACCOUNT_REF},
                            "ArnLike": {
                                "aws:SourceArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":personalize:",
                                            {"Ref": "AWS::Region"},
                                            ":",
                                            {"Ref": "AWS::AccountId"},
                                            ":*",
                                        ],
                                    ]
                                }
                            },
                        },
                    }
                ]
            }
        },
    )


def _role_policy_statements(stacks: Stacks, template: Template) -> list[dict]:
    cfn = stacks.default_storage.role_policy.node.default_child
    assert isinstance(cfn, iam.CfnManagedPolicy)
    resource = template.to_json()["Resources"][stacks.default.get_logical_id(cfn)]
    return resource["Properties"]["PolicyDocument"]["Statement"]


def test_role_policy_reads_input_and_writes_output_only(stacks: Stacks, template: Template) -> None:
    by_sid = {s["Sid"]: s for s in _role_policy_statements(stacks, template)}
    assert by_sid["ReadInput"]["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert by_sid["WriteOutput"]["Action"] == ["s3:PutObject", "s3:ListBucket"]
    assert by_sid["UseKeys"]["Action"] == [
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "kms:ListGrants",
    ]


def test_role_policy_has_no_service_wildcards_or_star_resources(stacks: Stacks, template: Template) -> None:
    for statement in _role_policy_statements(stacks, template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(not a.endswith(":*") and a != "*" for a in actions)
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert "*" not in resources


def test_role_policy_is_customer_managed_and_attached_to_the_role(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy", {"Roles": [{"Ref": Match.string_like_regexp("StorageRole")}]}
    )
    template.resource_count_is("AWS::IAM::Policy", 1)  # only the consumer's grants


@pytest.mark.parametrize(
    ("which", "actions"),
    [("input", ["s3:GetObject", "s3:ListBucket"]), ("output", ["s3:PutObject", "s3:ListBucket"])],
)
def test_bucket_policies_admit_personalize_with_exactly_what_it_needs(
    stacks: Stacks, template: Template, which: str, actions: list[str]
) -> None:
    bucket = getattr(stacks.default_storage, f"{which}_bucket")
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": _bucket_logical_id(template, stacks.default, bucket)},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "PersonalizeBatchInference",
                            "Effect": "Allow",
                            "Principal": {"Service": "personalize.amazonaws.com"},
                            "Action": actions,
                            "Resource": Match.any_value(),
                            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_REF}},
                        }
                    ]
                )
            },
        },
    )


KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants", "kms:CreateGrant"]


def _key_statements(template: Template) -> list[dict]:
    return [
        statement
        for key in template.find_resources("AWS::KMS::Key").values()
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
    ]


def test_key_policies_let_the_personalize_role_use_the_keys(template: Template) -> None:
    role_statements = [s for s in _key_statements(template) if s.get("Sid") == "PersonalizeRole"]
    assert len(role_statements) == 2
    for statement in role_statements:
        assert statement["Action"] == KEY_ACTIONS
        assert statement["Principal"]["AWS"]["Fn::GetAtt"][0].startswith("StorageRole")


def test_key_policies_let_personalize_use_the_keys_for_this_account_only(template: Template) -> None:
    service_statements = [s for s in _key_statements(template) if s.get("Sid") == "PersonalizeService"]
    assert len(service_statements) == 2
    for statement in service_statements:
        assert statement["Action"] == KEY_ACTIONS
        assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_REF}}


# ---------------------------------------------------------------- grants


def test_grant_read_output_covers_objects_listing_and_key_decrypt(stacks: Stacks, template: Template) -> None:
    assert isinstance(stacks.read_grant, iam.Grant) and stacks.read_grant.success
    statements = template.find_resources("AWS::IAM::Policy")
    (policy,) = statements.values()
    actions = [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert ["s3:GetObject", "s3:ListBucket"] in actions
    assert "kms:Decrypt" in actions


def test_grant_write_input_covers_put_and_key_encrypt(stacks: Stacks, template: Template) -> None:
    assert stacks.write_grant.success
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"] for s in statements)
    assert any(isinstance(s["Action"], list) and "kms:GenerateDataKey*" in s["Action"] for s in statements)


# ---------------------------------------------------------------- bring your own


def test_brought_buckets_and_role_create_no_buckets_keys_or_roles(stacks: Stacks) -> None:
    template = stacks.templates["byo"]
    template.resource_count_is("AWS::S3::Bucket", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.resource_count_is("AWS::IAM::Role", 0)


def test_brought_bucket_key_is_exposed_and_sse_s3_bucket_has_no_key(stacks: Stacks) -> None:
    assert stacks.byo_storage.input_key is not None
    assert stacks.byo_storage.input_key.key_arn == BYO_KEY_ARN
    assert stacks.byo_storage.output_key is None


def test_brought_immutable_role_gets_no_policy_and_a_warning_saying_what_it_needs(stacks: Stacks) -> None:
    stacks.templates["byo"].resource_count_is("AWS::IAM::ManagedPolicy", 0)
    assert stacks.byo_storage.role_policy is None
    Annotations.from_stack(stacks.byo).has_warning(
        "*",
        Match.string_like_regexp(
            "role is imported as immutable.*s3:GetObject and s3:ListBucket on the input bucket.*kms:Decrypt"
        ),
    )


def test_brought_mutable_role_gets_the_least_privilege_policy_attached() -> None:
    stack = cdk.Stack(cdk.App(), "Mutable", env=ENV)
    BatchInferenceStorage(stack, "Storage", role=iam.Role.from_role_arn(stack, "Role", BYO_ROLE_ARN))
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::ManagedPolicy", {"Roles": ["existing-personalize-role"]}
    )


def test_imported_buckets_and_key_are_reported_with_warnings(stacks: Stacks) -> None:
    annotations = Annotations.from_stack(stacks.byo)
    annotations.has_warning(
        "*", Match.string_like_regexp("input_bucket is imported.*personalize.amazonaws.com")
    )
    annotations.has_warning("*", Match.string_like_regexp("output_bucket is imported"))
    annotations.has_warning("*", Match.string_like_regexp(f"The input KMS key {BYO_KEY_ARN} is imported"))


def _warning_ids(stack: cdk.Stack) -> list[str]:
    """The acknowledgement ids of a stack's warnings (``add_warning_v2`` ends each with ``[ack: <id>]``)."""
    messages = [w.entry.data for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]
    return sorted(str(m).rsplit("[ack: ", 1)[1].rstrip("]") for m in messages)


def _imported_key(stack: cdk.Stack, id: str, suffix: str) -> kms.IKey:
    return kms.Key.from_key_arn(stack, id, BYO_KEY_ARN[: -len(suffix)] + suffix)


def test_brought_resources_warn_with_ids_naming_what_they_are_about(stacks: Stacks) -> None:
    assert _warning_ids(stacks.byo) == [
        "constructs-lib:inputBucketPolicy",
        "constructs-lib:inputKeyPolicy",
        "constructs-lib:outputBucketPolicy",
        "constructs-lib:roleIsImmutable",
    ]


def test_an_imported_output_key_alone_warns_as_the_output_key() -> None:
    # Once indexed by position among the keys: the only key used to be "keyPolicy0" whatever it served.
    stack = cdk.Stack(cdk.App(), "OutputKeyOnly", env=ENV)
    BatchInferenceStorage(stack, "Storage", output_key=_imported_key(stack, "OutKey", "000000000002"))
    assert [i for i in _warning_ids(stack) if i.endswith("KeyPolicy")] == ["constructs-lib:outputKeyPolicy"]


def test_two_imported_keys_warn_once_each_by_use() -> None:
    stack = cdk.Stack(cdk.App(), "TwoKeys", env=ENV)
    BatchInferenceStorage(
        stack,
        "Storage",
        input_key=_imported_key(stack, "InKey", "000000000001"),
        output_key=_imported_key(stack, "OutKey", "000000000002"),
    )
    assert _warning_ids(stack) == ["constructs-lib:inputKeyPolicy", "constructs-lib:outputKeyPolicy"]


def test_one_imported_key_for_both_buckets_warns_once() -> None:
    stack = cdk.Stack(cdk.App(), "OneImportedKey", env=ENV)
    key = _imported_key(stack, "Key", "000000000003")
    BatchInferenceStorage(stack, "Storage", input_key=key, output_key=key)
    assert _warning_ids(stack) == ["constructs-lib:inputAndOutputKeyPolicy"]
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("The input and output KMS key .*000000000003 is imported")
    )


def test_a_warning_is_acknowledged_by_its_id() -> None:
    stack = cdk.Stack(cdk.App(), "Acknowledged", env=ENV)
    storage = BatchInferenceStorage(stack, "Storage", input_key=_imported_key(stack, "Key", "000000000004"))
    cdk.Annotations.of(storage).acknowledge_warning("constructs-lib:inputKeyPolicy", "key policy granted")
    assert _warning_ids(stack) == []


def test_one_key_may_serve_both_buckets(stacks: Stacks) -> None:
    storage = stacks.shared_key_storage
    assert storage.input_key is storage.output_key
    template = stacks.templates["shared_key"]
    template.resource_count_is("AWS::KMS::Key", 1)
    (key,) = template.find_resources("AWS::KMS::Key").values()
    sids = [s.get("Sid") for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert sids.count("PersonalizeRole") == 1
    assert sids.count("PersonalizeService") == 1


def test_a_key_for_a_bucket_imported_with_its_own_key_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Conflict", env=ENV)
    own = kms.Key.from_key_arn(stack, "Own", BYO_KEY_ARN)
    other = kms.Key(stack, "Other")
    with pytest.raises(
        ValueError, match=r"input_key was given, but input_bucket already carries its own encryption key"
    ):
        BatchInferenceStorage(
            stack,
            "Storage",
            input_bucket=s3.Bucket.from_bucket_attributes(
                stack, "In", bucket_name="brought-input", encryption_key=own
            ),
            input_key=other,
        )
