"""What the cloud tests share: the launcher run as a user runs it, the loopback bucket as the DVC remote, and the
user data run here as on an instance."""

import base64
import os
import subprocess

from cloud import ec2
from tests.helpers import run_module, sh, tool_env, use_loopback_remote

BUCKET = "faceswap-cloud"
PROFILE = "faceswap-test"
AMI_PARAMETER = "/faceswap-test/ami"
# credentials only the launching machine has; they must never reach user data or tags
ACCESS_KEY, SECRET_KEY = "AKIAFAKELAUNCHERKEY1", "launcher-secret-must-not-leak"
MLFLOW_SERVER = "http://mlflow.example:5000"
MLFLOW_USER, MLFLOW_PASSWORD = "trainer", "trainer-password-never-printed"  # of the test's MLflow login


def with_remote(root, endpoint):
    """Point the repository's DVC remote at the loopback bucket in config.local, as ``dvc remote modify --local``
    would (written directly: two dvc calls per test add up)."""
    use_loopback_remote(root, endpoint, BUCKET)


def push_to_new_origin(root):
    """Commit everything and push it to a bare repository beside ``root``, the instance's git remote."""
    bare = root.with_name(f"{root.name}-origin.git")
    sh("git", "init", "-q", "--bare", str(bare), cwd=root.parent)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "project", cwd=root)
    sh("git", "remote", "add", "origin", str(bare), cwd=root)
    sh("git", "push", "-q", "-u", "origin", "HEAD", cwd=root)
    return bare


def cloud(*args, cwd=None):
    return run_module("cloud", *args, cwd=cwd, check=False)


def launch_args(attempt, *extra, mlflow_uri=MLFLOW_SERVER):
    mlflow = ("--mlflow-uri", mlflow_uri) if mlflow_uri else ()
    return ("launch", "--attempt", attempt, "--ami-parameter", AMI_PARAMETER, "--instance-profile", PROFILE,
            *mlflow, *extra)


def instance_of(client, attempt):
    """The attempt's newest instance."""
    return ec2.instances(client, attempt)[-1]


def user_data_of(client, instance_id) -> str:
    value = client.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
    return base64.b64decode(value).decode()


def run_user_data(script, workdir, metadata_url, **env):
    """Run user data here as on an instance: nothing installed, power-off only echoed, S3 via the remote's endpoint,
    the instance metadata service at ``metadata_url`` (on loopback), ``env`` added."""
    workdir.mkdir()
    (workdir / "user-data").write_text(script)
    environment = {k: v for k, v in tool_env().items() if k != "AWS_ENDPOINT_URL"}
    environment.update(FACESWAP_SKIP_INSTALL="1", FACESWAP_POWEROFF="echo poweroff", FACESWAP_WORKDIR=str(workdir),
                       FACESWAP_METADATA_URL=metadata_url, FACESWAP_POLL_SECONDS="0.5", **env)
    return subprocess.run(["bash", str(workdir / "user-data")], cwd=workdir, env=environment, capture_output=True,
                          text=True)


def moto_client(name):
    """A client of the loopback endpoint that does not depend on the test's environment."""
    import boto3

    return boto3.client(name, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y")
