"""The instance's supervisor around training, with a stand-in training process that writes a checkpoint folder
the way the training stage does: when it pushes the folder, when it stops the training, what it restores."""

import subprocess
import sys
import tarfile
import time

import boto3
import pytest

from cloud import supervise
from cloud.remote_checkpoints import OBJECT, RemoteCheckpoints
from tests.cloud.support import BUCKET

PREFIX = "store/attempts/supervise-1"


@pytest.fixture
def checkpoints(aws, tmp_path, metadata, monkeypatch):
    monkeypatch.setenv("FACESWAP_METADATA_URL", metadata.url)
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{OBJECT}")
    return RemoteCheckpoints(s3, BUCKET, PREFIX, tmp_path / "checkpoints")


def training(folder, then: str) -> list[str]:
    """A process that saves a checkpoint (``latest/state.json`` at step 2), then runs ``then`` (Python)."""
    return [sys.executable, "-c", f"import pathlib, sys, time; p = pathlib.Path({str(folder)!r}) / 'latest'; "
                                  f"p.mkdir(parents=True); (p / 'state.json').write_text('{{\"step\": 2}}'); {then}"]


def pushed_files(checkpoints) -> dict:
    body = checkpoints.s3.get_object(Bucket=BUCKET, Key=checkpoints.key)["Body"]
    with tarfile.open(fileobj=body, mode="r|") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_a_spot_notice_stops_the_training_and_pushes_its_checkpoints_at_once(checkpoints, metadata):
    saved = checkpoints.folder / "latest/state.json"
    metadata.notice = lambda: {"action": "terminate", "time": "2026-11-30T12:00:00Z"} if saved.exists() else None
    supervisor = supervise.Supervisor(checkpoints, push_every_s=3600, stop_at=time.time() + 3600, poll_s=0.1)
    status = supervisor.run(training(checkpoints.folder, "time.sleep(600)"), {})
    assert status == supervise.INTERRUPTED
    assert pushed_files(checkpoints) == {"./latest/state.json": b'{"step": 2}'}
    assert ("PUT", "/latest/api/token") in metadata.requests


def test_a_failed_training_still_pushes_its_last_checkpoint(checkpoints):
    supervisor = supervise.Supervisor(checkpoints, push_every_s=3600, stop_at=time.time() + 3600, poll_s=0.1)
    assert supervisor.run(training(checkpoints.folder, "sys.exit(3)"), {}) == 3
    assert pushed_files(checkpoints) == {"./latest/state.json": b'{"step": 2}'}


def test_training_stops_before_the_time_limit(checkpoints, capsys):
    supervisor = supervise.Supervisor(checkpoints, push_every_s=3600, stop_at=time.time() - 1, poll_s=0.1)
    process = training(checkpoints.folder, "time.sleep(600)")
    assert supervisor.run(process, {}) == supervise.INTERRUPTED
    assert "supervise: the time limit (--max-hours) is near; stopping the training" in capsys.readouterr().out


def test_the_next_launch_restores_the_pushed_folder_whole(checkpoints):
    assert not checkpoints.restore()  # nothing pushed yet: a fresh start
    subprocess.run(training(checkpoints.folder, "pass"), check=True)
    assert checkpoints.push()
    (checkpoints.folder / "latest/state.json").write_text("changed here")
    (checkpoints.folder / "stray").write_text("not in the pushed folder")
    assert checkpoints.restore()
    assert sorted(p.name for p in checkpoints.folder.rglob("*")) == ["latest", "state.json"]
    assert (checkpoints.folder / "latest/state.json").read_text() == '{"step": 2}'


def test_mlflow_credentials_come_from_a_secure_parameter_and_are_never_printed(aws, capsys):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/faceswap-test/mlflow", Value="alice:pa55:word", Type="SecureString", Overwrite=True)
    assert supervise.mlflow_credentials("/faceswap-test/mlflow") == {
        "MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "pa55:word"}
    ssm.put_parameter(Name="/faceswap-test/mlflow", Value="no-colon-secret", Type="SecureString", Overwrite=True)
    with pytest.raises(SystemExit) as stopped:
        supervise.mlflow_credentials("/faceswap-test/mlflow")
    assert str(stopped.value) == "error: SSM parameter /faceswap-test/mlflow: its value must be USERNAME:PASSWORD"
    assert "pa55" not in capsys.readouterr().out
    assert supervise.mlflow_credentials("") == {}
