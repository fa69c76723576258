"""``setup`` makes, from nothing, what SkyPilot's instances need (bucket, two roles, their instance profiles), again
without changing anything, and ``teardown`` removes the roles and, asked to, only the remote's data; against
moto_server's S3 and IAM on loopback."""

import boto3

from cloud.account import CONTROLLER_PROFILE, INSTANCE_PROFILE
from tests.cloud.support import cloud
from tests.helpers import use_loopback_remote

BUCKET = "faceswap-setup"


def test_setup_from_an_empty_account_then_teardown_leaves_only_what_is_not_ours(laptop, aws, s3_endpoint):
    use_loopback_remote(laptop, s3_endpoint, BUCKET)
    s3, iam = boto3.client("s3"), boto3.client("iam")

    def buckets():
        return {b["Name"] for b in s3.list_buckets()["Buckets"]}

    def roles():
        return {r["RoleName"] for r in iam.list_roles()["Roles"]}

    dry = cloud("setup", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would create bucket {BUCKET} in us-east-1" in dry.stdout
    assert f"would create IAM role {INSTANCE_PROFILE}" in dry.stdout
    assert f"would create IAM role {CONTROLLER_PROFILE}" in dry.stdout
    assert BUCKET not in buckets() and not {INSTANCE_PROFILE, CONTROLLER_PROFILE} & roles()

    made = cloud("setup")
    assert made.returncode == 0, made.stderr
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert set(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values()) == {True}
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    for name in (INSTANCE_PROFILE, CONTROLLER_PROFILE):
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        (profile,) = [p for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == name]
        assert [r["RoleName"] for r in profile["Roles"]] == [name]
    training = iam.get_role_policy(RoleName=INSTANCE_PROFILE, PolicyName="faceswap-pipeline-access")["PolicyDocument"]
    listing, objects = training["Statement"]  # the remote's prefix, and nothing else
    assert listing["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["store", "store/*"]}}
    assert objects == {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                       "Resource": f"arn:aws:s3:::{BUCKET}/store/*"}
    controller = iam.get_role_policy(RoleName=CONTROLLER_PROFILE,
                                     PolicyName="faceswap-pipeline-access")["PolicyDocument"]["Statement"]
    (passing,) = [s for s in controller if "iam:PassRole" in s["Action"]]
    assert passing["Resource"].endswith(f":role/{INSTANCE_PROFILE}")  # it can give an instance that role only
    assert not [s for s in controller if s["Action"] == "*" or s.get("Resource") == "arn:aws:s3:::*"]

    again = cloud("setup")
    assert again.returncode == 0 and "create" not in again.stdout and "give role" not in again.stdout

    s3.put_object(Bucket=BUCKET, Key="store/files/md5/ab/cdef", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="store/files/md5/ab/cdef", Body=b"y")  # two versions
    s3.put_object(Bucket=BUCKET, Key="store/attempts/a-1/dvc.lock", Body=b"z")
    for key in ("storehouse/keep", "other/keep"):  # not the remote's: outside its prefix
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"mine")

    kept = cloud("teardown")
    assert kept.returncode == 0 and f"kept the data under s3://{BUCKET}/store" in kept.stdout
    assert not {INSTANCE_PROFILE, CONTROLLER_PROFILE} & roles()
    assert not {INSTANCE_PROFILE, CONTROLLER_PROFILE} & {
        p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
    gone = cloud("teardown", "--delete-data")
    assert gone.returncode == 0, gone.stderr
    left = [v["Key"] for v in s3.list_object_versions(Bucket=BUCKET).get("Versions", [])]
    assert sorted(left) == ["other/keep", "storehouse/keep"] and BUCKET in buckets()
