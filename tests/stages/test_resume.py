"""Training killed with ``kill -9`` half-way, then ``dvc repro``: it resumes from the last checkpoint (the step
count goes on, the MLflow run is the same) and finishes with a model that loads."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.helpers import model_project, sh, tool_env

pytestmark = pytest.mark.slow


def latest_state(root) -> dict:
    """The state of the newest checkpoint of the (only) attempt in ``root``."""
    (state,) = (root / "models/checkpoints").glob("*/latest/state.json")
    return json.loads(state.read_text())


def checkpoint_step(root) -> int:
    try:
        return latest_state(root)["step"]
    except (ValueError, json.JSONDecodeError):  # none yet, or between the two renames of a new checkpoint
        return 0


def test_kill_9_then_dvc_repro_resumes_from_the_last_checkpoint(tmp_path, aligned_faces):
    root = model_project(tmp_path / "project", aligned_faces, steps=20, batch_size=2, log_every=4,
                         checkpoint_every=4, preview_every=100)
    sh("git", "init", "-q", cwd=root)
    sh("dvc", "init", "-q", cwd=root)

    with open(tmp_path / "killed.log", "w") as log:
        # its own session: the kill takes dvc and the training process together, as a crash would
        process = subprocess.Popen(["dvc", "repro", "--single-item", "model"], cwd=root, env=tool_env(),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        while checkpoint_step(root) < 8:
            assert process.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint at step 8 within 4 minutes"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed = latest_state(root)
    assert 8 <= killed["step"] < 20
    assert not (root / "models/faceswap.keras").exists()

    result = sh("dvc", "repro", "--single-item", "model", cwd=root)
    assert f"resuming from step {killed['step']}" in result.stdout + result.stderr
    curve = (root / "data/metrics/model-loss.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in curve[1:]] == list(range(4, 21, 4))
    finished = json.loads((root / "data/metrics/model.json").read_text())
    assert finished["resumed_from_step"] == killed["step"] and finished["loss_target"] > 0
    run_id = json.loads((root / "models/run.json").read_text())["run_id"]
    assert run_id == killed["run_id"]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    assert client.get_run(run_id).data.tags["resumed_at_steps"] == str(killed["step"])
    assert {m.step for m in client.get_metric_history(run_id, "loss_target")} == set(range(4, 21, 4))

    import keras

    from faceswap.faces.expression import FEATURES
    from faceswap.train.networks import FaceSwap

    model = keras.saving.load_model(root / "models/faceswap.keras")
    size = json.loads((root / "models/run.json").read_text())["size"]
    swapped = FaceSwap(model).predict(np.zeros((1, size, size, 3), np.float32), np.zeros((1, len(FEATURES))))
    assert swapped.shape == (1, size, size, 3) and np.isfinite(swapped).all()

    # forced to run again with no step left (as after a change to a file it imports): the figures stay
    sh("dvc", "repro", "--force", "--single-item", "model", cwd=root)
    rerun = json.loads((root / "data/metrics/model.json").read_text())
    assert rerun == {**finished, "resumed_from_step": 20}
