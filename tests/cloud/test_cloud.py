"""Training on EC2: the boto3 calls against moto's EC2 on loopback, and the bootstrap run as if on an instance.

``moto_server`` is a real HTTP endpoint; the commands reach it through ``AWS_ENDPOINT_URL``, which boto3
honours natively, exactly as they would reach AWS.
"""

import base64
import json
import os
import subprocess

import boto3
import pytest
import yaml

from cloud import attempts, ec2
from tests.helpers import REPO, error_lines, git_dvc_repo, run_module, set_params, sh, tool_env, trim

BUCKET = "faceswap-cloud"
PROFILE = "faceswap-test"
# credentials only the launching machine has; they must never reach user data or tags
ACCESS_KEY, SECRET_KEY = "AKIAFAKELAUNCHERKEY1", "launcher-secret-must-not-leak"
MLFLOW_SERVER = "http://mlflow.example:5000"


@pytest.fixture
def aws(s3_endpoint, monkeypatch):
    """moto_server as the AWS endpoint, with the bucket, the instance profile and an AMI parameter in it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = boto3.Session()
    s3, iam, ssm, client = (session.client(name) for name in ("s3", "iam", "ssm", "ec2"))
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
        iam.create_instance_profile(InstanceProfileName=PROFILE)
        ami = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ssm.put_parameter(Name="/faceswap-test/ami", Value=ami, Type="String")
    return client


def with_remote(root, endpoint):
    """Point the repository's DVC remote at the loopback bucket in config.local, as ``dvc remote modify --local``
    would (written directly: two dvc calls per test add up)."""
    (root / ".dvc/config.local").write_text(
        f"['remote \"storage\"']\n    url = s3://{BUCKET}/store\n    endpointurl = {endpoint}\n")


def push_to_new_origin(root):
    """Commit everything and push it to a bare repository beside ``root``, the instance's git remote."""
    bare = root.with_name(f"{root.name}-origin.git")
    sh("git", "init", "-q", "--bare", str(bare), cwd=root.parent)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "project", cwd=root)
    sh("git", "remote", "add", "origin", str(bare), cwd=root)
    sh("git", "push", "-q", "-u", "origin", "HEAD", cwd=root)
    return bare


@pytest.fixture
def laptop(tmp_path, aws, s3_endpoint, monkeypatch):
    """A committed and pushed project (no data), as the working directory."""
    root = git_dvc_repo(tmp_path / "laptop")
    with_remote(root, s3_endpoint)
    push_to_new_origin(root)
    monkeypatch.chdir(root)
    return root


def cloud(*args, cwd=None):
    return run_module("cloud", *args, cwd=cwd, check=False)


def launch_args(attempt, *extra, mlflow_uri=MLFLOW_SERVER):
    mlflow = ("--mlflow-uri", mlflow_uri) if mlflow_uri else ()
    return ("launch", "--attempt", attempt, "--ami-parameter", "/faceswap-test/ami", "--instance-profile", PROFILE,
            *mlflow, *extra)


def instance_of(client, attempt):
    (instance,) = ec2.instances(client, attempt)
    return instance


def user_data_of(client, instance_id) -> str:
    value = client.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
    return base64.b64decode(value).decode()


def test_launch_starts_a_tagged_instance_that_terminates_itself(laptop, aws):
    commit = sh("git", "rev-parse", "HEAD", cwd=laptop).stdout.strip()
    result = cloud(*launch_args("launch-1", "--instance-type", "g5.xlarge", "--spot", "--max-hours", "1.5"))
    assert result.returncode == 0, result.stderr
    instance = instance_of(aws, "launch-1")
    assert instance["InstanceId"] in result.stdout
    assert instance["InstanceType"] == "g5.xlarge"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{PROFILE}")
    assert instance["InstanceLifecycle"] == "spot"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {"Project": "faceswap-pipeline", "Attempt": "launch-1", "GitCommit": commit,
                    "Name": "faceswap-launch-1"}
    behaviour = aws.describe_instance_attribute(InstanceId=instance["InstanceId"],
                                                Attribute="instanceInitiatedShutdownBehavior")
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"

    script = user_data_of(aws, instance["InstanceId"])
    assert script.startswith("#!/bin/bash\n")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    for line in (f"export COMMIT={commit}", f"export GIT_URL={laptop.with_name('laptop-origin.git')}",
                 "export REMOTE_URL=s3://faceswap-cloud/store", "export ATTEMPT_PREFIX=store/attempts/launch-1",
                 "export PULL_TARGETS='alignments@source alignments@target'", "export MAX_MINUTES=90",
                 f"export MLFLOW_TRACKING_URI={MLFLOW_SERVER}", 'git checkout --quiet "$COMMIT"',
                 "dvc pull $PULL_TARGETS", 'dvc repro --allow-missing "$TRAIN_STAGE"', 'dvc push "$TRAIN_STAGE"',
                 "export UNCACHED_OUTS='data/metrics/model.json data/metrics/model-loss.csv'",
                 "upload dvc.lock dvc.lock", 'upload "$path" "outs/$path"', 'upload "$LOG" bootstrap.log',
                 "trap power_off EXIT", '$POWEROFF "+$MAX_MINUTES"',
                 "pip install --quiet --disable-pip-version-check -r requirements-gpu.txt"):
        assert line in script
    for secret in (ACCESS_KEY, SECRET_KEY, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert secret not in script and secret not in json.dumps(tags)


def test_status_logs_and_stop_find_the_attempt_by_its_tags(laptop, aws):
    assert cloud(*launch_args("lifecycle-1")).returncode == 0
    instance_id = instance_of(aws, "lifecycle-1")["InstanceId"]

    listed = cloud("status")
    row = next(line for line in listed.stdout.splitlines() if line.startswith("lifecycle-1 "))
    assert instance_id in row and "running" in row and "g4dn.xlarge" in row and "on-demand" in row

    logs = cloud("logs", "lifecycle-1")
    assert logs.returncode == 0
    assert f"console output of {instance_id} (running)" in logs.stdout
    assert aws.get_console_output(InstanceId=instance_id)["Output"] in logs.stdout

    stopped = cloud("stop", "lifecycle-1")
    assert stopped.returncode == 0 and f"terminating {instance_id}" in stopped.stdout
    assert instance_of(aws, "lifecycle-1")["State"]["Name"] == "terminated"
    again = cloud("stop", "lifecycle-1")
    assert again.returncode == 2 and error_lines(again.stderr) == [
        "error: attempt lifecycle-1: no instance left to stop; see `status`"]
    gone = cloud("logs", "lifecycle-1")
    assert gone.returncode == 2 and "no instance and no bootstrap.log" in gone.stderr


def test_dry_run_prints_the_request_and_the_user_data_and_starts_nothing(laptop, aws):
    result = cloud("launch", "--dry-run", "--attempt", "dry-1", "--ami", "ami-12345678", "--instance-profile",
                   PROFILE, "--mlflow-uri", MLFLOW_SERVER, "--subnet", "subnet-1",
                   "--security-group", "sg-1", "--security-group", "sg-2")
    assert result.returncode == 0, result.stderr
    request, end = json.JSONDecoder().raw_decode(result.stdout)
    header, _, script = result.stdout[end:].lstrip("\n").partition("\n")
    assert header == f"# user data ({len(script.encode())} bytes):"
    assert request["UserData"] == script and "export ATTEMPT=dry-1" in script
    assert request["ImageId"] == "ami-12345678" and request["InstanceType"] == "g4dn.xlarge"
    assert request["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert request["SubnetId"] == "subnet-1" and request["SecurityGroupIds"] == ["sg-1", "sg-2"]
    assert "InstanceMarketOptions" not in request  # on-demand unless --spot
    assert ec2.instances(aws, "dry-1") == []


def run_user_data(script, workdir):
    """Run user data here as on an instance: nothing installed, power-off only echoed, S3 via the remote's endpoint."""
    workdir.mkdir()
    (workdir / "user-data").write_text(script)
    env = {k: v for k, v in tool_env().items() if k != "AWS_ENDPOINT_URL"}
    env.update(FACESWAP_SKIP_INSTALL="1", FACESWAP_POWEROFF="echo poweroff", FACESWAP_WORKDIR=str(workdir))
    return subprocess.run(["bash", str(workdir / "user-data")], cwd=workdir, env=env, capture_output=True, text=True)


def test_a_failed_step_still_uploads_the_log_and_powers_off(laptop, aws, tmp_path):
    dry = cloud(*launch_args("fail-1", "--dry-run", "--git-url", str(tmp_path / "no-such-repo.git")))
    request, _ = json.JSONDecoder().raw_decode(dry.stdout)
    booted = run_user_data(request["UserData"], tmp_path / "instance")
    assert booted.returncode == 128  # git clone's
    lines = booted.stdout.splitlines()
    assert lines[0] == "poweroff +240" and lines[-1] == "poweroff now"
    log = boto3.client("s3").get_object(Bucket=BUCKET, Key="store/attempts/fail-1/bootstrap.log")["Body"].read()
    assert b"no-such-repo.git' does not exist" in log and b"finished with exit status 128" in log
    fetched = cloud("fetch", "fail-1")
    assert fetched.returncode == 2 and "no dvc.lock under" in fetched.stderr


def test_the_default_ami_is_the_deep_learning_ami_parameter(laptop, aws):
    # moto holds no Deep Learning AMI parameter, which shows that it is the one asked for
    result = cloud("launch", "--attempt", "ami-1", "--instance-profile", PROFILE, "--mlflow-uri", MLFLOW_SERVER)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"error: SSM parameter {ec2.AMI_PARAMETER} not found in us-east-1; "
                                          "pass --ami ami-... or another --ami-parameter"]
    assert ec2.instances(aws, "ami-1") == []


@pytest.mark.parametrize("case, message", [
    ("no remote", "error: no DVC remote configured; run `dvc remote add -d storage s3://BUCKET/PATH`"),
    ("no credentials", "error: no AWS credentials found;"),
    ("unknown instance type", "error: unknown instance type 'g9.mega' in us-east-1;"),
    ("unpushed commit", "is not on any remote branch; git push it first"),
    ("no mlflow", "error: no MLflow tracking URI;"),
    ("uncommitted params", "error: params.yaml: not committed, so the instance would not see it;"),
])
def test_bad_input_stops_with_one_error_line_before_anything_starts(laptop, aws, monkeypatch, case, message):
    args = list(launch_args("bad-1", mlflow_uri=None if case == "no mlflow" else MLFLOW_SERVER))
    if case == "no remote":
        sh("dvc", "remote", "remove", "--local", "storage", cwd=laptop)  # the committed config names no bucket
    elif case == "no credentials":
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(laptop / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(laptop / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    elif case == "unknown instance type":
        args += ["--instance-type", "g9.mega"]
    elif case == "unpushed commit":
        set_params(laptop, {"model": {"steps": 3}})
        sh("git", "commit", "-qam", "local only", cwd=laptop)
    elif case == "uncommitted params":
        set_params(laptop, {"model": {"steps": 3}})
    elif case == "no mlflow":
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = cloud(*args)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert message in line
    assert "Traceback" not in result.stderr
    with_credentials = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                    aws_access_key_id="x", aws_secret_access_key="y")
    assert ec2.instances(with_credentials, "bad-1") == []


def test_fetch_of_an_attempt_that_uploaded_nothing_says_where_it_looked(laptop, aws):
    result = cloud("fetch", "nothing-1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: attempt nothing-1: no dvc.lock under s3://faceswap-cloud/store/attempts/nothing-1/ yet; it is still "
        "training or it failed: python -m cloud logs nothing-1"]
    assert not (laptop / "dvc.lock").exists()


def test_merge_lock_takes_the_attempts_training_entry_and_keeps_local_ones(tmp_path):
    local = tmp_path / "dvc.lock"
    local.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"alignments@target": {"cmd": "here"},
                                                                 "model": {"cmd": "old"}}}))
    attempts.merge_lock(local, yaml.safe_dump({"schema": "2.0", "stages": {
        "alignments@target": {"cmd": "there"}, "alignments@source": {"cmd": "there"}, "model": {"cmd": "new"}}}))
    assert yaml.safe_load(local.read_text())["stages"] == {
        "alignments@target": {"cmd": "here"}, "model": {"cmd": "new"}, "alignments@source": {"cmd": "there"}}


def test_gpu_requirements_are_the_cpu_ones_with_cuda_tensorflow():
    def pins(name):
        lines = (line.split("#")[0].strip() for line in (REPO / name).read_text().splitlines())
        return [line for line in lines if line]

    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert [line.replace("tensorflow-cpu==", "tensorflow[and-cuda]==") for line in cpu] == gpu


@pytest.mark.slow
def test_bootstrap_trains_and_pushes_and_fetch_brings_the_model_home(media, aws, s3_endpoint, tmp_path, monkeypatch):
    """The user data run here as on an instance (install and power-off made harmless), then ``fetch``."""
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # a store both "machines" reach, as a server would be
    laptop = git_dvc_repo(tmp_path / "laptop")
    trim(media / "pair/target.mp4", laptop / "data/raw/target/target.mp4", 1)
    trim(media / "pair/source.mp4", laptop / "data/raw/source/source.mp4", 1)
    set_params(laptop, {"frames": {"fps": 10}, "model": {"steps": 4, "batch_size": 4, "log_every": 2,
                                                          "preview_every": 4}, "output": {"preset": "ultrafast"}})
    with_remote(laptop, s3_endpoint)
    sh("dvc", "repro", "alignments@target", "alignments@source", cwd=laptop)
    sh("dvc", "push", cwd=laptop)
    push_to_new_origin(laptop)
    launched = cloud(*launch_args("e2e-1", "--max-hours", "1", mlflow_uri=mlflow_uri), cwd=laptop)
    assert launched.returncode == 0, launched.stderr

    instance_dir = tmp_path / "instance"
    booted = run_user_data(user_data_of(aws, instance_of(aws, "e2e-1")["InstanceId"]), instance_dir)
    assert booted.returncode == 0, booted.stdout[-5000:]
    lines = booted.stdout.splitlines()
    assert lines[0] == "poweroff +60" and lines[-1] == "poweroff now", (lines[:3], lines[-3:])
    ran = {line.split("'")[1] for line in lines if line.startswith("Running stage")}
    assert ran == {"model"}  # only the training stage: the faces came from the remote

    s3 = boto3.client("s3")
    uploaded = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="store/attempts/e2e-1/")["Contents"]}
    assert uploaded == {f"store/attempts/e2e-1/{name}" for name in (
        "dvc.lock", "bootstrap.log", "outs/data/metrics/model.json", "outs/data/metrics/model-loss.csv")}
    log = s3.get_object(Bucket=BUCKET, Key="store/attempts/e2e-1/bootstrap.log")["Body"].read().decode()
    assert "Running stage 'model'" in log and "bootstrap: finished with exit status 0" in log

    logs = cloud("logs", "e2e-1", cwd=laptop)
    assert "== bootstrap.log of attempt e2e-1 ==" in logs.stdout and log in logs.stdout

    home = tmp_path / "home"
    sh("git", "clone", "-q", str(laptop.with_name("laptop-origin.git")), str(home), cwd=tmp_path)
    with_remote(home, s3_endpoint)
    fetched = cloud("fetch", "e2e-1", cwd=home)
    assert fetched.returncode == 0, fetched.stderr
    for path in ("models/faceswap.keras", "data/metrics/model.json", "data/metrics/model-loss.csv"):
        assert (home / path).read_bytes() == (instance_dir / "project" / path).read_bytes()
    # the model is DVC's: git sees only the .gitignore that says so, as after running the stage here
    assert sh("git", "status", "--porcelain", "-uall", "--", "models", cwd=home).stdout == "?? models/.gitignore\n"
    sh("dvc", "pull", "--allow-missing", cwd=home)  # the rest too (the output stage never ran: nothing to pull)
    assert set(json.loads(sh("dvc", "status", "--json", cwd=home).stdout)) == {"output"}  # model: up to date
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    repro = sh("dvc", "repro", cwd=home)
    assert {line.split("'")[1] for line in repro.stdout.splitlines() if line.startswith("Running stage")} == {"output"}
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=home).stdout

    from mlflow.tracking import MlflowClient  # one run: trained "there", its output metrics logged "here"

    run = MlflowClient(mlflow_uri).get_run(json.loads((home / "models/run.json").read_text())["run_id"])
    assert run.data.params["model.steps"] == "4" and "output_coverage" in run.data.metrics
