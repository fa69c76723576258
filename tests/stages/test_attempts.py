"""Checkpoints are kept per attempt: an attempt interrupted, another tried, then the first again resumes where
it stopped; a change to the training code starts fresh; the killed attempt's MLflow run ends KILLED."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import model_project, run_stage, set_params

pytestmark = pytest.mark.slow


def states(root) -> dict[str, dict]:
    """The newest checkpoint state of each attempt kept in ``root``, by attempt folder."""
    found = {}
    for path in (root / "models/checkpoints").glob("*/latest/state.json"):
        try:
            found[path.parent.parent.name] = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # being renamed into place
            pass
    return found


def kill_once_checkpointed(root, log_path) -> dict:
    """Run the model stage and ``kill -9`` it once it has saved a checkpoint; its state then."""
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "stages.model"], cwd=root, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while not states(root):
                assert process.poll() is None, log_path.read_text()[-3000:]
                time.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    (state,) = states(root).values()
    return state


def finished(root) -> dict:
    return json.loads((root / "data/metrics/model.json").read_text())


def test_switching_attempts_and_back_resumes_and_a_code_change_starts_fresh(tmp_path, aligned_faces):
    root = model_project(tmp_path / "project", aligned_faces, steps=12, batch_size=2, log_every=2,
                         checkpoint_every=2, preview_every=100, learning_rate=0.0005)
    a = kill_once_checkpointed(root, tmp_path / "a.log")
    assert 2 <= a["step"] < 12

    set_params(root, {"model": {"learning_rate": 0.001, "steps": 4}})  # attempt B, as the divergence hint says
    b = run_stage("model", cwd=root)
    assert "no checkpoint of this attempt" in b.stderr and "1 other attempt(s) kept" in b.stderr
    assert finished(root)["resumed_from_step"] == 0
    assert sorted(s["step"] for s in states(root).values()) == sorted([a["step"], 4])

    from mlflow.tracking import MlflowClient

    killed = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}").get_run(a["run_id"])
    assert killed.info.status == "KILLED" and "stopped without ending it" in killed.data.tags["note"]

    set_params(root, {"model": {"learning_rate": 0.0005, "steps": 12}})  # back to A
    again = run_stage("model", cwd=root)
    assert f"resuming from step {a['step']}" in again.stderr
    assert finished(root)["resumed_from_step"] == a["step"]
    run = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}").get_run(a["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags[f"resumed_params_at_{a['step']}"].startswith("model.steps=12,")
    assert json.loads((root / "models/run.json").read_text())["run_id"] == a["run_id"]

    with open(root / "faceswap/train/losses.py", "a") as losses:  # an edit to the training code
        losses.write("\nSSIM_WINDOW_NOTE = 'changed'\n")
    set_params(root, {"model": {"steps": 2}})  # how long is no part of the attempt: only the code differs
    edited = run_stage("model", cwd=root)
    assert "no checkpoint of this attempt" in edited.stderr and "resuming" not in edited.stderr
    assert finished(root)["resumed_from_step"] == 0
    assert json.loads((root / "models/run.json").read_text())["run_id"] != a["run_id"]
