"""``setup`` makes, from nothing, what a launch needs (bucket, role, instance profile), again without changing
anything, and ``teardown`` removes all of it; against moto_server's S3 and IAM on loopback."""

import boto3

from tests.cloud.support import AMI_PARAMETER, MLFLOW_SERVER, cloud, instance_of
from tests.helpers import use_loopback_remote

BUCKET = "faceswap-setup"
ROLE = "faceswap-setup-role"


def test_setup_from_an_empty_account_then_launch_then_teardown_leaves_nothing(laptop, aws, s3_endpoint):
    use_loopback_remote(laptop, s3_endpoint, BUCKET)
    s3, iam = boto3.client("s3"), boto3.client("iam")

    def buckets():
        return {b["Name"] for b in s3.list_buckets()["Buckets"]}

    def roles():
        return {r["RoleName"] for r in iam.list_roles()["Roles"]}

    dry = cloud("setup", "--dry-run", "--instance-profile", ROLE)
    assert dry.returncode == 0, dry.stderr
    assert f"would create bucket {BUCKET} in us-east-1" in dry.stdout and f"would create IAM role {ROLE}" in dry.stdout
    assert BUCKET not in buckets() and ROLE not in roles()

    made = cloud("setup", "--instance-profile", ROLE)
    assert made.returncode == 0, made.stderr
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert set(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values()) == {True}
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    policy = iam.get_role_policy(RoleName=ROLE, PolicyName="faceswap-pipeline-access")["PolicyDocument"]
    listing, objects, secrets = policy["Statement"]
    assert listing["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["store", "store/*"]}}
    assert objects == {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                       "Resource": f"arn:aws:s3:::{BUCKET}/store/*"}
    assert secrets["Action"] == "ssm:GetParameter" and secrets["Resource"].endswith(":parameter/faceswap-pipeline/*")
    (profile,) = [p for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == ROLE]
    assert [r["RoleName"] for r in profile["Roles"]] == [ROLE]

    again = cloud("setup", "--instance-profile", ROLE)
    assert again.returncode == 0 and "create" not in again.stdout and "put role" not in again.stdout

    args = ("launch", "--attempt", "setup-1", "--ami-parameter", AMI_PARAMETER, "--instance-profile", ROLE,
            "--mlflow-uri", MLFLOW_SERVER)
    assert cloud(*args, "--dry-run").returncode == 0
    launched = cloud(*args)
    assert launched.returncode == 0, launched.stderr
    assert instance_of(aws, "setup-1")["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{ROLE}")
    assert cloud("stop", "setup-1").returncode == 0
    s3.put_object(Bucket=BUCKET, Key="store/files/md5/ab/cdef", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="store/files/md5/ab/cdef", Body=b"y")  # two versions

    kept = cloud("teardown", "--instance-profile", ROLE)
    assert kept.returncode == 0 and f"kept bucket {BUCKET} and its data" in kept.stdout
    assert BUCKET in buckets() and ROLE not in roles()
    gone = cloud("teardown", "--instance-profile", ROLE, "--delete-bucket")
    assert gone.returncode == 0, gone.stderr
    assert BUCKET not in buckets() and ROLE not in roles()
    assert ROLE not in {p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]}
