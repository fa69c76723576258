"""Training on EC2: the boto3 calls against moto's EC2 on loopback, and the bootstrap run as if on an instance.

``moto_server`` is a real HTTP endpoint; the commands reach it through ``AWS_ENDPOINT_URL``, which boto3
honours natively, exactly as they would reach AWS.
"""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import yaml

from cloud import attempts, ec2
from tests.cloud.support import (
    ACCESS_KEY,
    BUCKET,
    MLFLOW_SERVER,
    PROFILE,
    SECRET_KEY,
    cloud,
    instance_of,
    launch_args,
    moto_client,
    run_user_data,
    user_data_of,
)
from tests.helpers import REPO, error_lines, set_params, sh


def test_launch_starts_a_tagged_instance_that_terminates_itself(laptop, aws):
    commit = sh("git", "rev-parse", "HEAD", cwd=laptop).stdout.strip()
    before = datetime.now(UTC).replace(microsecond=0)
    result = cloud(*launch_args("launch-1", "--instance-type", "g5.xlarge", "--spot", "--max-hours", "1.5"))
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    instance = instance_of(aws, "launch-1")
    assert instance["InstanceId"] in result.stdout
    assert instance["InstanceType"] == "g5.xlarge"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{PROFILE}")
    assert instance["InstanceLifecycle"] == "spot"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    deadline = tags.pop("Deadline")
    assert tags == {"Project": "faceswap-pipeline", "Attempt": "launch-1", "GitCommit": commit,
                    "Name": "faceswap-launch-1"}
    deadline = datetime.strptime(deadline, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(hours=1.5) <= deadline <= after + timedelta(hours=1.5)
    (mapping,) = instance["BlockDeviceMappings"]
    (volume,) = aws.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
    assert volume["Encrypted"] and volume["VolumeType"] == "gp3" and volume["Size"] == 100
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
                 "dvc pull $PULL_TARGETS", "python3 -m cloud.supervise", 'dvc push "$TRAIN_STAGE"',
                 "export PUSH_EVERY_MINUTES=15", "export AWS_DEFAULT_REGION=us-east-1", "export STOP_MARGIN_MINUTES=5",
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
    (image,) = aws.describe_images(Owners=["amazon"], MaxResults=5)["Images"][:1]
    result = cloud("launch", "--dry-run", "--attempt", "dry-1", "--ami", image["ImageId"], "--instance-profile",
                   PROFILE, "--mlflow-uri", MLFLOW_SERVER, "--subnet", "subnet-1", "--volume-gb", "200",
                   "--security-group", "sg-1", "--security-group", "sg-2")
    assert result.returncode == 0, result.stderr
    request, end = json.JSONDecoder().raw_decode(result.stdout)
    header, _, script = result.stdout[end:].lstrip("\n").partition("\n")
    assert header == f"# user data ({len(script.encode())} bytes):"
    assert request["UserData"] == script and "export ATTEMPT=dry-1" in script
    assert request["ImageId"] == image["ImageId"] and request["InstanceType"] == "g4dn.xlarge"
    assert request["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert request["MetadataOptions"] == {"HttpTokens": "required", "HttpEndpoint": "enabled"}
    assert request["BlockDeviceMappings"] == [{"DeviceName": image["RootDeviceName"], "Ebs": {
        "VolumeSize": 200, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}]
    assert {"Key": "Deadline", "Value": tags_of(request)["Deadline"]} in request["TagSpecifications"][1]["Tags"]
    assert request["SubnetId"] == "subnet-1" and request["SecurityGroupIds"] == ["sg-1", "sg-2"]
    assert "InstanceMarketOptions" not in request  # on-demand unless --spot
    assert ec2.instances(aws, "dry-1") == []


def tags_of(request) -> dict:
    (instance,) = [spec for spec in request["TagSpecifications"] if spec["ResourceType"] == "instance"]
    return {t["Key"]: t["Value"] for t in instance["Tags"]}


def test_a_failed_step_still_uploads_the_log_and_powers_off(laptop, aws, tmp_path, metadata):
    dry = cloud(*launch_args("fail-1", "--dry-run", "--git-url", str(tmp_path / "no-such-repo.git")))
    request, _ = json.JSONDecoder().raw_decode(dry.stdout)
    booted = run_user_data(request["UserData"], tmp_path / "instance", metadata.url)
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
    assert ec2.instances(moto_client("ec2"), "bad-1") == []


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


def test_status_warns_of_an_instance_alive_past_its_deadline(laptop, aws):
    """An AMI that ignored the power-off: the deadline tag still tells."""
    image = aws.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = {"Project": "faceswap-pipeline", "Attempt": "overdue-1", "Deadline": "2026-01-01T00:00:00Z"}
    (instance,) = aws.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["Instances"]
    assert cloud(*launch_args("ontime-1")).returncode == 0
    listed = cloud("status")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith("overdue-1 "))
    assert "2026-01-01 00:00" in row
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {instance['InstanceId']} (attempt overdue-1) is running past its deadline "
                        "2026-01-01T00:00:00Z: its time limit did not hold; python -m cloud stop overdue-1"]
    cloud("stop", "overdue-1")


def test_fetch_refuses_an_attempt_trained_on_other_faces_or_params(laptop, aws):
    """The attempt's dvc.lock says what it trained on; a working tree with other faces or params is refused,
    each difference named, and nothing is merged."""
    params = yaml.safe_load((laptop / "params.yaml").read_text())
    local_lock = {"schema": "2.0", "stages": {"alignments@target": {"cmd": "x", "outs": [
        {"path": "data/alignments/target", "md5": "aaaa.dir"}]}}}
    (laptop / "dvc.lock").write_text(yaml.safe_dump(local_lock))
    trained = {"schema": "2.0", "stages": {"model": {"cmd": "python -m stages.model", "deps": [
        {"path": "data/alignments/target", "md5": "bbbb.dir"}, {"path": "stages/model.py", "md5": "cccc"}],
        "params": {"params.yaml": {"model": {**params["model"], "steps": params["model"]["steps"] * 2}}}}}}
    boto3.client("s3").put_object(Bucket=BUCKET, Key="store/attempts/other-1/dvc.lock", Body=yaml.safe_dump(trained))
    result = cloud("fetch", "other-1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: attempt other-1 trained on other faces or params than this working tree: data/alignments/target "
        "(attempt bbbb.dir, here aaaa.dir); params.yaml model.steps (attempt "
        f"{params['model']['steps'] * 2}, here {params['model']['steps']}); check out the commit it ran (see "
        "`status`) and `dvc pull` its faces, or launch an attempt with these"]
    assert yaml.safe_load((laptop / "dvc.lock").read_text()) == local_lock
