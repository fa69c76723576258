"""What an AWS account needs before the first launch, made (and removed) by boto3, never by hand.

``setup`` creates, or brings into line when they exist: the DVC remote's bucket (versioning on, public access
blocked, encryption at rest), and two IAM roles, each in an instance profile of its name, that SkyPilot gives its
instances as their ``remote_identity`` (``.sky.yaml``), so that no instance holds uploaded local credentials or
SkyPilot's default role (full EC2 and S3):

- ``INSTANCE_PROFILE``, the training instances': list, read and write under the remote's prefix, nothing else;
- ``CONTROLLER_PROFILE``, SkyPilot's jobs controller's: start, tag and end instances (SkyPilot's documented
  minimum), pass only the training role to them, and see the bucket.

Run it again at any time: it changes only what differs. ``teardown`` removes the roles and profiles, and with
``--delete-data`` every object version under the remote's prefix (never another object of the bucket).
``--dry-run`` says what either would do and changes nothing.
"""

import json

from cloud import aws
from cloud.origin import DvcRemote

INSTANCE_PROFILE = "faceswap-pipeline"
CONTROLLER_PROFILE = "faceswap-pipeline-controller"
POLICY = "faceswap-pipeline-access"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def access_policy(remote: DvcRemote) -> dict:
    """The training instances': the remote's prefix, read and write."""
    prefix = remote.key()
    objects = f"arn:aws:s3:::{remote.bucket}/{prefix + '/' if prefix else ''}*"
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{remote.bucket}"}
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return {"Version": "2012-10-17", "Statement": [
        listing,
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": objects}]}


def controller_policy(remote: DvcRemote, account: str) -> dict:
    """SkyPilot's jobs controller's: what its minimal-permissions page lists for launching, and passing only the
    training role, so a job cannot give its instance more than the remote's prefix."""
    ec2 = f"arn:aws:ec2:*:{account}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*::image/ami-*"},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": [
            f"{ec2}:{kind}/*" for kind in ("instance", "network-interface", "subnet", "volume", "security-group",
                                           "key-pair")]},
        {"Effect": "Allow", "Action": ["ec2:TerminateInstances", "ec2:DeleteTags", "ec2:StartInstances",
                                       "ec2:CreateTags", "ec2:StopInstances"], "Resource": f"{ec2}:instance/*"},
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                                       "ec2:CreateKeyPair", "ec2:ImportKeyPair"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:PassRole"],
         "Resource": f"arn:aws:iam::{account}:role/{INSTANCE_PROFILE}"},
        {"Effect": "Allow", "Action": "iam:GetInstanceProfile",
         "Resource": f"arn:aws:iam::{account}:instance-profile/{INSTANCE_PROFILE}"},
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": f"arn:aws:s3:::{remote.bucket}"}]}


class Account:
    """The calls of ``setup`` and ``teardown``, each said before it is made, and made unless ``dry_run``."""

    def __init__(self, session, remote: DvcRemote, dry_run: bool):
        self.remote, self.dry_run = remote, dry_run
        self.s3 = session.client("s3", endpoint_url=remote.endpoint_url)
        self.iam, self.region = session.client("iam"), session.region_name
        self.account = session.client("sts").get_caller_identity()["Account"]

    def do(self, what: str, call, **kwargs) -> None:
        print(f"{'would ' if self.dry_run else ''}{what}")
        if not self.dry_run:
            with aws.errors(what):
                call(**kwargs)

    def bucket_exists(self) -> bool:
        try:
            self.s3.head_bucket(Bucket=self.remote.bucket)
        except self.s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchBucket"):
                return False
            raise
        return True

    def setup_bucket(self) -> None:
        bucket = self.remote.bucket
        if not self.bucket_exists():
            where = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            self.do(f"create bucket {bucket} in {self.region}", self.s3.create_bucket, Bucket=bucket, **where)
        self.do(f"block public access to {bucket}", self.s3.put_public_access_block, Bucket=bucket,
                PublicAccessBlockConfiguration={key: True for key in (
                    "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
        self.do(f"turn on versioning of {bucket}", self.s3.put_bucket_versioning, Bucket=bucket,
                VersioningConfiguration={"Status": "Enabled"})
        self.do(f"encrypt {bucket} at rest (SSE-S3)", self.s3.put_bucket_encryption, Bucket=bucket,
                ServerSideEncryptionConfiguration={"Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})

    def setup_roles(self) -> None:
        self.setup_role(INSTANCE_PROFILE, access_policy(self.remote),
                        f"s3://{self.remote.bucket}/{self.remote.key()} read and write")
        self.setup_role(CONTROLLER_PROFILE, controller_policy(self.remote, self.account),
                        f"launch instances with role {INSTANCE_PROFILE} only")

    def setup_role(self, name: str, policy: dict, summary: str) -> None:
        iam = self.iam
        roles = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
        if name not in roles:
            self.do(f"create IAM role {name} for EC2", iam.create_role, RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(TRUST), Description="faceswap-pipeline SkyPilot instances")
        current = None
        if name in roles and POLICY in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            current = iam.get_role_policy(RoleName=name, PolicyName=POLICY)["PolicyDocument"]
        if current != policy:
            self.do(f"give role {name} its policy {POLICY}: {summary}", iam.put_role_policy, RoleName=name,
                    PolicyName=POLICY, PolicyDocument=json.dumps(policy))
        profiles = {p["InstanceProfileName"]: p for page in iam.get_paginator("list_instance_profiles").paginate()
                    for p in page["InstanceProfiles"]}
        if name not in profiles:
            self.do(f"create instance profile {name}", iam.create_instance_profile, InstanceProfileName=name)
        if name not in {r["RoleName"] for r in profiles.get(name, {}).get("Roles", [])}:
            self.do(f"put role {name} in instance profile {name}", iam.add_role_to_instance_profile,
                    InstanceProfileName=name, RoleName=name)

    def teardown_roles(self) -> None:
        for name in (INSTANCE_PROFILE, CONTROLLER_PROFILE):
            self.teardown_role(name)

    def teardown_role(self, name: str) -> None:
        iam = self.iam
        profiles = {p["InstanceProfileName"]: p for page in iam.get_paginator("list_instance_profiles").paginate()
                    for p in page["InstanceProfiles"]}
        if name in profiles:
            for role in profiles[name]["Roles"]:
                self.do(f"take role {role['RoleName']} out of instance profile {name}",
                        iam.remove_role_from_instance_profile, InstanceProfileName=name, RoleName=role["RoleName"])
            self.do(f"delete instance profile {name}", iam.delete_instance_profile, InstanceProfileName=name)
        roles = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
        if name in roles:
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.do(f"delete policy {policy} of role {name}", iam.delete_role_policy, RoleName=name,
                        PolicyName=policy)
            self.do(f"delete IAM role {name}", iam.delete_role, RoleName=name)

    def teardown_data(self) -> None:
        """Delete every object version under the remote's prefix; the bucket and other objects stay."""
        bucket, prefix = self.remote.bucket, self.remote.key()
        if not self.bucket_exists():
            return
        pages = self.s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=f"{prefix}/" if prefix else "")
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for page in pages
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(versions), 1000):
            self.do(f"delete {len(versions[start:start + 1000])} object versions under s3://{bucket}/{prefix}",
                    self.s3.delete_objects, Bucket=bucket, Delete={"Objects": versions[start:start + 1000]})
