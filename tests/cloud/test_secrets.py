"""Secrets never travel in user data: a token inside a git or MLflow URL is refused with the safe way named,
MLflow credentials go through an SSM SecureString that only its name points to, and the launch URI must be a
server the instance can reach."""

import json
import subprocess

import boto3
import pytest

from cloud import ec2
from tests.cloud.support import cloud, instance_of, launch_args, moto_client, user_data_of
from tests.helpers import error_lines, sh, tool_env

TOKEN = "ghp_s3cretTOKENthatMustNotLeak"
CREDENTIALS_PARAMETER = "/faceswap-test/mlflow-credentials"


@pytest.mark.parametrize("case, args, message", [
    ("git url", ["--git-url", f"https://{TOKEN}@github.com/me/faceswap.git"],
     "error: --git-url: the URL holds credentials, which would be copied into the instance's user data; give it "
     "without them and put the token in an SSM SecureString parameter: --git-token-parameter NAME"),
    ("git url with user", ["--git-url", f"https://me:{TOKEN}@gitlab.example/me/faceswap.git"],
     "error: --git-url: the URL holds credentials"),
    ("git remote", [], "error: git remote 'origin': the URL holds credentials"),
    ("mlflow uri", ["--mlflow-uri", f"https://alice:{TOKEN}@mlflow.example"],
     "error: --mlflow-uri: the URI holds credentials, which would be copied into the instance's user data; give it "
     "without them and put USERNAME:PASSWORD in an SSM SecureString parameter: --mlflow-credentials-parameter NAME"),
])
def test_a_token_in_a_url_is_refused_and_printed_nowhere(laptop, aws, case, args, message):
    if case == "git remote":
        sh("git", "remote", "set-url", "--push", "origin", str(laptop.with_name("laptop-origin.git")), cwd=laptop)
        sh("git", "remote", "set-url", "origin", f"https://{TOKEN}@github.com/me/faceswap.git", cwd=laptop)
    for dry_run in ([], ["--dry-run"]):
        result = cloud(*launch_args("secret-1", *args, *dry_run))
        assert result.returncode == 2
        (line,) = error_lines(result.stderr)
        assert line.startswith(message)
        assert TOKEN not in result.stdout + result.stderr
    assert ec2.instances(moto_client("ec2"), "secret-1") == []


@pytest.mark.parametrize("uri, message", [
    ("sqlite:///mlflow.db", "error: --mlflow-uri sqlite:///mlflow.db: the instance can only log to an MLflow server; "
                            "give its http:// or https:// URL (a sqlite:, file: or local store stays on this machine)"),
    ("file:///home/me/mlruns", "error: --mlflow-uri file:///home/me/mlruns: the instance can only log to an MLflow"),
    ("http://127.0.0.1:5000", "error: --mlflow-uri http://127.0.0.1:5000: 127.0.0.1 is this machine, which the "
                              "instance cannot reach; give the address of a server both reach"),
    ("http://localhost:5000", "error: --mlflow-uri http://localhost:5000: localhost is this machine"),
    ("http://[::1]:5000", "error: --mlflow-uri http://[::1]:5000: ::1 is this machine"),
    ("http://0.0.0.0:5000", "error: --mlflow-uri http://0.0.0.0:5000: 0.0.0.0 is this machine"),
])
def test_an_mlflow_uri_the_instance_cannot_reach_is_refused(laptop, aws, uri, message):
    result = cloud(*launch_args("uri-1", mlflow_uri=uri))
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith(message)
    assert ec2.instances(moto_client("ec2"), "uri-1") == []


def test_mlflow_credentials_reach_the_instance_only_by_the_name_of_a_secure_parameter(laptop, aws):
    boto3.client("ssm").put_parameter(Name=CREDENTIALS_PARAMETER, Value=f"alice:{TOKEN}", Type="SecureString")
    args = launch_args("creds-1", "--mlflow-credentials-parameter", CREDENTIALS_PARAMETER,
                       mlflow_uri="https://mlflow.example")
    dry = cloud(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"export MLFLOW_CREDENTIALS_PARAMETER={CREDENTIALS_PARAMETER}" in dry.stdout
    launched = cloud(*args)
    assert launched.returncode == 0, launched.stderr
    instance = instance_of(aws, "creds-1")
    script = user_data_of(aws, instance["InstanceId"])
    assert f"export MLFLOW_CREDENTIALS_PARAMETER={CREDENTIALS_PARAMETER}" in script
    for text in (dry.stdout, dry.stderr, launched.stdout, launched.stderr, script, json.dumps(instance["Tags"])):
        assert TOKEN not in text and "alice" not in text


@pytest.mark.parametrize("kind, message", [
    (None, f"error: SSM parameter {CREDENTIALS_PARAMETER} not found in us-east-1; create it with aws ssm "
           f"put-parameter --type SecureString --name {CREDENTIALS_PARAMETER} --value USERNAME:PASSWORD"),
    ("String", f"error: SSM parameter {CREDENTIALS_PARAMETER} is a String; store credentials as a SecureString"),
])
def test_mlflow_credentials_must_be_a_secure_string(laptop, aws, kind, message):
    ssm = boto3.client("ssm")
    ssm.delete_parameters(Names=[CREDENTIALS_PARAMETER])
    if kind:
        ssm.put_parameter(Name=CREDENTIALS_PARAMETER, Value=f"alice:{TOKEN}", Type=kind)
    result = cloud(*launch_args("creds-2", "--mlflow-credentials-parameter", CREDENTIALS_PARAMETER))
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith(message) and TOKEN not in result.stderr


def test_a_private_repository_token_reaches_git_through_ssm_only(laptop, aws, s3_endpoint, tmp_path):
    """The user data names the parameter; git on the instance asks the credential helper the bootstrap installs,
    which reads the token from SSM (moto's) with the instance's credentials."""
    boto3.client("ssm").put_parameter(Name="/faceswap-test/git-token", Value=TOKEN, Type="SecureString")
    dry = cloud(*launch_args("git-1", "--dry-run", "--git-token-parameter", "/faceswap-test/git-token"))
    assert dry.returncode == 0, dry.stderr
    assert "export GIT_TOKEN_PARAMETER=/faceswap-test/git-token" in dry.stdout and TOKEN not in dry.stdout
    script = dry.stdout.split("# user data (", 1)[1]
    start = script.index("git_credentials() {")
    helper = script[start:script.index("\n}\n", start) + 3]
    ask = "printf 'protocol=https\\nhost=github.com\\n\\n' | git credential fill"
    asked = subprocess.run(
        ["bash", "-c", f"{helper}\ngit_credentials\n{ask}"],
        env={**tool_env(), "WORKDIR": str(tmp_path), "GIT_TOKEN_PARAMETER": "/faceswap-test/git-token",
             "AWS_ENDPOINT_URL_SSM": s3_endpoint, "GIT_TERMINAL_PROMPT": "0"}, capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.splitlines() == ["protocol=https", "host=github.com", "username=x-access-token",
                                         f"password={TOKEN}"]
