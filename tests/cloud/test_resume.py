"""A spot attempt interrupted and launched again, end to end on loopback: moto_server as S3, EC2 and SSM, a fake
instance metadata service that posts the interruption notice, an ``mlflow server`` with a login reached by name
through a proxy (its password in an SSM SecureString), and the user data run here twice as two instances of the
same attempt."""

import json
import urllib.error
import urllib.request

import boto3
import pytest

from cloud.remote_checkpoints import OBJECT
from faceswap.train.checkpoints import FETCHED
from tests.cloud.support import (
    BUCKET,
    MLFLOW_PASSWORD,
    MLFLOW_USER,
    cloud,
    instance_of,
    launch_args,
    push_to_new_origin,
    run_user_data,
    user_data_of,
    with_remote,
)
from tests.helpers import git_dvc_repo, set_params, sh, trim

STEPS = 40
PREFIX = "store/attempts/spot-1"
LOGIN_PARAMETER = "/faceswap-test/mlflow-login"


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def resumed_at(output: str) -> int | None:
    lines = [line for line in output.splitlines() if "model: resuming from step" in line]
    return int(lines[0].split("resuming from step ")[1].split()[0]) if lines else None


@pytest.mark.slow
def test_an_interrupted_spot_attempt_goes_on_at_its_next_launch(media, aws, s3_endpoint, tmp_path, metadata,
                                                               mlflow_login_server, mlflow_by_name, monkeypatch):
    mlflow_uri, proxy_env = mlflow_by_name
    boto3.client("ssm").put_parameter(Name=LOGIN_PARAMETER, Value=f"{MLFLOW_USER}:{MLFLOW_PASSWORD}",
                                      Type="SecureString", Overwrite=True)
    instance_env = {**proxy_env, "AWS_ENDPOINT_URL_SSM": s3_endpoint}  # the instance's SSM: moto's
    with pytest.raises(urllib.error.HTTPError, match="401"):  # the server lets no one in without the login
        urllib.request.urlopen(f"{mlflow_login_server}/api/2.0/mlflow/experiments/search?max_results=1")
    laptop = git_dvc_repo(tmp_path / "laptop")
    trim(media / "pair/target.mp4", laptop / "data/raw/target/target.mp4", 1)
    trim(media / "pair/source.mp4", laptop / "data/raw/source/source.mp4", 1)
    set_params(laptop, {"frames": {"fps": 10}, "model": {"steps": STEPS, "batch_size": 4, "log_every": 2,
                                                          "preview_every": STEPS, "checkpoint_every": 2},
                        "mask": {"enabled": False}, "output": {"preset": "ultrafast"}})
    with_remote(laptop, s3_endpoint)
    sh("dvc", "repro", "alignments@target", "alignments@source", cwd=laptop)
    sh("dvc", "push", cwd=laptop)
    push_to_new_origin(laptop)
    s3 = boto3.client("s3")

    # run 1: AWS posts the interruption notice once the first checkpoint is in the remote
    launched = cloud(*launch_args("spot-1", "--spot", "--max-hours", "1", "--push-every", "0",
                                  "--mlflow-credentials-parameter", LOGIN_PARAMETER, mlflow_uri=mlflow_uri), cwd=laptop)
    assert launched.returncode == 0, launched.stderr
    pushed = lambda: "Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{OBJECT}")  # noqa: E731
    metadata.notice = lambda: {"action": "terminate", "time": "2026-11-30T12:00:00Z"} if pushed() else None
    first = run_user_data(user_data_of(aws, instance_of(aws, "spot-1")["InstanceId"]), tmp_path / "instance-1",
                          metadata.url, **instance_env)
    assert first.returncode == 75, first.stdout[-5000:]
    assert "supervise: spot interruption notice: terminate at 2026-11-30T12:00:00Z; stopping" in first.stdout
    assert ("bootstrap: interrupted; its checkpoints are in the remote, so launching the same attempt goes on: "
            "python -m cloud launch --attempt spot-1") in first.stdout
    assert first.stdout.splitlines()[-1] == "poweroff now"
    assert ("PUT", "/latest/api/token") in metadata.requests  # IMDSv2: a token first
    uploaded = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    assert uploaded == {f"{PREFIX}/{OBJECT}", f"{PREFIX}/bootstrap.log"}  # no dvc.lock: not trained to the end
    assert "no dvc.lock under" in cloud("fetch", "spot-1", cwd=laptop).stderr

    # AWS reclaims the instance; the user launches the attempt again, as the log says
    assert cloud("stop", "spot-1", cwd=laptop).returncode == 0
    again = cloud(*launch_args("spot-1", "--spot", "--max-hours", "1", "--push-every", "0",
                               "--mlflow-credentials-parameter", LOGIN_PARAMETER, mlflow_uri=mlflow_uri), cwd=laptop)
    assert again.returncode == 0, again.stderr
    assert f"attempt spot-1: goes on from its pushed checkpoints (s3://{BUCKET}/{PREFIX}/{OBJECT})" in again.stdout
    metadata.notice = lambda: None
    second = run_user_data(user_data_of(aws, instance_of(aws, "spot-1")["InstanceId"]), tmp_path / "instance-2",
                           metadata.url, **instance_env)
    assert second.returncode == 0, second.stdout[-5000:]
    assert f"supervise: restored models/checkpoints from s3://{BUCKET}/{PREFIX}/{OBJECT}" in second.stdout
    step = resumed_at(second.stdout)
    assert step is not None and 0 < step < STEPS, second.stdout[-5000:]
    assert stages_run(second.stdout) == {"model"}  # only the training stage: the faces came from the remote
    uploaded = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    assert uploaded == {f"{PREFIX}/{name}" for name in (
        OBJECT, "dvc.lock", "bootstrap.log", "outs/data/metrics/model.json", "outs/data/metrics/model-loss.csv")}
    logs = cloud("logs", "spot-1", cwd=laptop)
    assert "== bootstrap.log of attempt spot-1 ==" in logs.stdout and "resuming from step" in logs.stdout
    assert f"MLflow credentials of user {MLFLOW_USER} read from SSM parameter {LOGIN_PARAMETER}" in second.stdout
    user_data = user_data_of(aws, instance_of(aws, "spot-1")["InstanceId"])
    for text in (first.stdout, first.stderr, second.stdout, second.stderr, logs.stdout, user_data, again.stdout):
        assert MLFLOW_PASSWORD not in text  # the log as uploaded, set -x and all, user data, launch's output

    # home: fetch brings the model; the MLflow run is one, resumed at that step
    home = tmp_path / "home"
    sh("git", "clone", "-q", str(laptop.with_name("laptop-origin.git")), str(home), cwd=tmp_path)
    with_remote(home, s3_endpoint)
    fetched = cloud("fetch", "spot-1", cwd=home)
    assert fetched.returncode == 0, fetched.stderr
    (mark,) = (home / "models/checkpoints").glob(f"*/{FETCHED}")  # kept by the model stage however old
    assert mark.read_text() == "spot-1\n"
    assert f"attempt spot-1: checkpoints in models/checkpoints/{mark.parent.name}, kept however old" in fetched.stdout
    instance = tmp_path / "instance-2" / "project"
    for path in ("models/faceswap.keras", "data/metrics/model.json", "data/metrics/model-loss.csv"):
        assert (home / path).read_bytes() == (instance / path).read_bytes()
    metrics = json.loads((home / "data/metrics/model.json").read_text())
    assert metrics["steps"] == STEPS and metrics["resumed_from_step"] == step
    curve = (home / "data/metrics/model-loss.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in curve[1:]] == list(range(2, STEPS + 1, 2))  # run 1's steps kept
    # the model is DVC's: git sees only the .gitignore that says so, and the output stage goes on from here
    assert sh("git", "status", "--porcelain", "-uall", "--", "models", cwd=home).stdout == "?? models/.gitignore\n"
    sh("dvc", "pull", "--allow-missing", cwd=home)
    # model: up to date; the mask is trained here, not on the instance
    assert set(json.loads(sh("dvc", "status", "--json", cwd=home).stdout)) == {"mask", "output"}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_login_server)  # with the login, as README says
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", MLFLOW_USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", MLFLOW_PASSWORD)
    repro = sh("dvc", "repro", cwd=home)
    assert stages_run(repro.stdout) == {"mask", "output"}

    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_login_server)
    run = client.get_run(json.loads((home / "models/run.json").read_text())["run_id"])
    assert run.data.tags["resumed_at_steps"] == str(step) and "output_coverage" in run.data.metrics
    assert len(client.search_runs([run.info.experiment_id])) == 1
    history = {m.step for m in client.get_metric_history(run.info.run_id, "loss_target")}
    assert history == set(range(2, STEPS + 1, 2))  # logged by both instances onto the one run
