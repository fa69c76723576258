"""What an AWS account needs before the first launch, made (and removed) by boto3, never by hand.

``setup`` creates, or brings into line when they exist: the DVC remote's bucket (versioning on, public access
blocked, encryption at rest), and the instance's IAM role and instance profile with a least-privilege policy:
list, read and write under the remote's prefix only, and read SSM parameters under ``SECRETS_PATH`` (where the
MLflow credentials and a git token go). Run it again at any time: it changes only what differs.
``teardown`` removes the role and profile, and with ``--delete-bucket`` the bucket and every version in it.
``--dry-run`` says what either would do and changes nothing.
"""

import json

from cloud import aws
from cloud.origin import DvcRemote

SECRETS_PATH = "/faceswap-pipeline/"  # SSM parameters the instance may read
POLICY = "faceswap-pipeline-access"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def access_policy(remote: DvcRemote, region: str, account: str) -> dict:
    prefix = remote.key()
    objects = f"arn:aws:s3:::{remote.bucket}/{prefix + '/' if prefix else ''}*"
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{remote.bucket}"}
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return {"Version": "2012-10-17", "Statement": [
        listing,
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects},
        {"Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:aws:ssm:{region}:{account}:parameter{SECRETS_PATH}*"}]}


class Account:
    """The calls of ``setup`` and ``teardown``, each said before it is made, and made unless ``dry_run``."""

    def __init__(self, session, remote: DvcRemote, name: str, dry_run: bool):
        self.remote, self.name, self.dry_run = remote, name, dry_run
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

    def setup_role(self) -> None:
        iam, name = self.iam, self.name
        roles = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
        if name not in roles:
            self.do(f"create IAM role {name} for EC2", iam.create_role, RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(TRUST), Description="faceswap-pipeline training instances")
        policy = access_policy(self.remote, self.region, self.account)
        self.do(f"give role {name} its policy {POLICY}: s3://{self.remote.bucket}/{self.remote.key()} read and "
                f"write, SSM parameters {SECRETS_PATH}* read", iam.put_role_policy, RoleName=name,
                PolicyName=POLICY, PolicyDocument=json.dumps(policy))
        profiles = {p["InstanceProfileName"]: p for page in iam.get_paginator("list_instance_profiles").paginate()
                    for p in page["InstanceProfiles"]}
        if name not in profiles:
            self.do(f"create instance profile {name}", iam.create_instance_profile, InstanceProfileName=name)
        if name not in {r["RoleName"] for r in profiles.get(name, {}).get("Roles", [])}:
            self.do(f"put role {name} in instance profile {name}", iam.add_role_to_instance_profile,
                    InstanceProfileName=name, RoleName=name)

    def teardown_role(self) -> None:
        iam, name = self.iam, self.name
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

    def teardown_bucket(self) -> None:
        bucket = self.remote.bucket
        if not self.bucket_exists():
            return
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for page in pages
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(versions), 1000):
            self.do(f"delete {len(versions[start:start + 1000])} object versions from {bucket}",
                    self.s3.delete_objects, Bucket=bucket, Delete={"Objects": versions[start:start + 1000]})
        self.do(f"delete bucket {bucket}", self.s3.delete_bucket, Bucket=bucket)
