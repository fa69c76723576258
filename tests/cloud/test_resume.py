"""A managed job's task run here as SkyPilot runs it, end to end on loopback: moto_server as S3, an ``mlflow server``
with a login reached by name through a proxy (the login as SkyPilot secrets in the task's environment), a folder
standing in for the attempt's bucket mount. A spot reclaim is a ``kill -9`` of the whole task; SkyPilot's recovery
is the same task started again on a fresh instance (a new clone, the same mount)."""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from faceswap.train.checkpoints import FETCHED
from tests.cloud.support import (
    BUCKET,
    MLFLOW_PASSWORD,
    MLFLOW_USER,
    cloud,
    dry_run_tasks,
    launch_args,
    push_to_new_origin,
    run_task,
    with_remote,
)
from tests.helpers import git_dvc_repo, set_params, sh, trim

STEPS = 40
LOGIN = {"MLFLOW_TRACKING_USERNAME": MLFLOW_USER, "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD}


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def resumed_at(output: str) -> int | None:
    lines = [line for line in output.splitlines() if "model: resuming from step" in line]
    return int(lines[0].split("resuming from step ")[1].split()[0]) if lines else None


def mirrored_step(mount) -> int:
    """The step of the newest complete checkpoint in the mount (0 when there is none)."""
    steps = [json.loads(state.read_text())["step"] for state in mount.glob("*/latest/state.json")]
    return max(steps, default=0)


def uploaded(s3, prefix: str) -> set[str]:
    return {o["Key"].removeprefix(f"{prefix}/") for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get(
        "Contents", [])}


def pushed_project(media, tmp_path, s3_endpoint, **model):
    """A project whose faces are extracted and pushed to the loopback remote, committed and pushed to git."""
    laptop = git_dvc_repo(tmp_path / "laptop")
    trim(media / "pair/target.mp4", laptop / "data/raw/target/target.mp4", 1)
    trim(media / "pair/source.mp4", laptop / "data/raw/source/source.mp4", 1)
    set_params(laptop, {"frames": {"fps": 10}, "model": {"steps": STEPS, "batch_size": 4, "log_every": 2,
                                                          "preview_every": STEPS, "checkpoint_every": 2, **model},
                        "mask": {"enabled": False}, "output": {"preset": "ultrafast"}})
    with_remote(laptop, s3_endpoint)
    sh("dvc", "repro", "alignments@target", "alignments@source", cwd=laptop)
    sh("dvc", "push", cwd=laptop)
    push_to_new_origin(laptop)
    return laptop


@pytest.mark.slow
def test_a_reclaimed_attempt_goes_on_from_its_mirrored_checkpoint_and_comes_home(
        media, aws, s3_endpoint, tmp_path, sky_home, mlflow_login_server, mlflow_by_name, monkeypatch):
    mlflow_uri, proxy_env = mlflow_by_name
    laptop = pushed_project(media, tmp_path, s3_endpoint)
    monkeypatch.chdir(laptop)
    dry = cloud(*launch_args("spot-1", "--dry-run", mlflow_uri=mlflow_uri), env=LOGIN)
    assert dry.returncode == 0, dry.stderr[-3000:]
    (task,) = dry_run_tasks(dry.stdout)
    mount, prefix = tmp_path / "bucket-mount", "store/attempts/spot-1"
    instance_env = {**proxy_env, **LOGIN}  # SkyPilot gives the task its secrets as environment variables

    # instance 1: reclaimed (kill -9 of everything the task started) once a checkpoint is in the mount
    first = run_task(task, tmp_path / "instance-1", mount, instance_env, wait=False)
    arguments = []
    deadline = time.monotonic() + 600
    while mirrored_step(mount) < 4 and first.poll() is None and time.monotonic() < deadline:
        arguments.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)
    first_output = first.communicate()[0]
    assert first.returncode == -signal.SIGKILL, first_output[-5000:]
    step = mirrored_step(mount)
    assert 0 < step < STEPS, first_output[-5000:]
    assert uploaded(aws, prefix) == set()  # no record: not trained to the end

    # instance 2: SkyPilot's recovery, the same task on a fresh instance with the same mount
    second = run_task(task, tmp_path / "instance-2", mount, instance_env)
    assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-3000:]
    assert resumed_at(second.stdout + second.stderr) >= step
    assert stages_run(second.stdout) == {"model"}  # only the training stage: the faces came from the remote
    assert mirrored_step(mount) == STEPS
    assert uploaded(aws, prefix) == {"dvc.lock", "outs/data/metrics/model.json", "outs/data/metrics/model-loss.csv"}

    # the login: in no file, log, process argument, task or MLflow tag
    files = [p for folder in (tmp_path / "instance-1", tmp_path / "instance-2", mount) for p in folder.rglob("*")
             if p.is_file() and ".git" not in p.parts]
    for text in (dry.stdout, dry.stderr, yaml.safe_dump(task), first_output, second.stdout, second.stderr,
                 *arguments):
        assert MLFLOW_PASSWORD not in text
    assert not [p for p in files if MLFLOW_PASSWORD.encode() in p.read_bytes()]

    # home: fetch brings the model; the MLflow run is one, resumed at that step
    home = tmp_path / "home"
    sh("git", "clone", "-q", str(laptop.with_name("laptop-origin.git")), str(home), cwd=tmp_path)
    with_remote(home, s3_endpoint)
    fetched = cloud("fetch", "spot-1", cwd=home)
    assert fetched.returncode == 0, fetched.stderr
    (mark,) = (home / "models/checkpoints").glob(f"*/{FETCHED}")  # kept by the model stage however old
    assert mark.read_text() == "spot-1\n"
    instance = tmp_path / "instance-2"
    for path in ("models/faceswap.keras", "data/metrics/model.json", "data/metrics/model-loss.csv"):
        assert (home / path).read_bytes() == (instance / path).read_bytes()
    metrics = json.loads((home / "data/metrics/model.json").read_text())
    assert metrics["steps"] == STEPS and metrics["resumed_from_step"] >= step
    curve = (home / "data/metrics/model-loss.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in curve[1:]] == list(range(2, STEPS + 1, 2))  # instance 1's kept
    sh("dvc", "pull", "--allow-missing", cwd=home)
    # model: up to date; the mask is trained here, not on the instance
    assert set(json.loads(sh("dvc", "status", "--json", cwd=home).stdout)) == {"mask", "output"}

    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", MLFLOW_USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", MLFLOW_PASSWORD)
    client = MlflowClient(mlflow_login_server)
    run = client.get_run(json.loads((home / "models/run.json").read_text())["run_id"])
    assert len(client.search_runs([run.info.experiment_id])) == 1
    assert MLFLOW_PASSWORD not in json.dumps(run.data.tags) + json.dumps(run.data.params)
    history = {m.step for m in client.get_metric_history(run.info.run_id, "loss_target")}
    assert history == set(range(2, STEPS + 1, 2))  # logged by both instances onto the one run


@pytest.mark.slow
def test_a_sweep_of_two_attempts_makes_two_runs_and_two_checkpoint_prefixes(
        media, aws, s3_endpoint, tmp_path, sky_home, mlflow_login_server, mlflow_by_name, monkeypatch):
    mlflow_uri, proxy_env = mlflow_by_name
    laptop = pushed_project(media, tmp_path, s3_endpoint, steps=4)
    monkeypatch.chdir(laptop)
    dry = cloud("sweep", "--dry-run", "--attempt", "lr", "--mlflow-uri", mlflow_uri,
                "-S", "model.learning_rate=0.0001,0.0005", env=LOGIN)
    assert dry.returncode == 0, dry.stderr[-3000:]
    tasks = dry_run_tasks(dry.stdout)
    for task in tasks:
        ran = run_task(task, tmp_path / task["name"], tmp_path / f"mount-{task['name']}", {**proxy_env, **LOGIN})
        assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-3000:]
        assert f"instance: params.yaml with model.learning_rate={task['name'] == 'lr-1' and 0.0001 or 0.0005}" in (
            ran.stdout)
        assert mirrored_step(tmp_path / f"mount-{task['name']}") == 4
    for name, rate in (("lr-1", 0.0001), ("lr-2", 0.0005)):
        assert "dvc.lock" in uploaded(aws, f"store/attempts/{name}")
        lock = yaml.safe_load(aws.get_object(Bucket=BUCKET, Key=f"store/attempts/{name}/dvc.lock")["Body"].read())
        assert lock["stages"]["model"]["params"]["params.yaml"]["model"]["learning_rate"] == rate
    assert [t["file_mounts"]["/checkpoints"]["source"] for t in tasks] == [
        f"s3://{BUCKET}/store/attempts/lr-1/checkpoints", f"s3://{BUCKET}/store/attempts/lr-2/checkpoints"]

    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", MLFLOW_USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", MLFLOW_PASSWORD)
    client = MlflowClient(mlflow_login_server)
    runs = [run for experiment in client.search_experiments() for run in client.search_runs([experiment.experiment_id])]
    assert sorted(float(run.data.params["model.learning_rate"]) for run in runs) == [0.0001, 0.0005]
