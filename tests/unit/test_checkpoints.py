"""Which attempts' checkpoints are dropped: the least recently used, never one the user cannot get back by a
rerun (fetched from the cloud, the current model's, one a kept attempt starts from), each drop said in the log."""

import json
import os

import keras
import pytest

from faceswap.train.checkpoints import FETCHED, MIRROR, MODEL, Checkpoints
from tests.helpers import git_dvc_repo, sh


@pytest.fixture(scope="module")
def model():
    """A real Keras model, as small as one gets: what it is does not matter here, only the files it saves."""
    tiny = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    tiny.compile(optimizer="adam", loss="mse")
    return tiny


def test_fetched_current_and_warm_start_attempts_are_kept_and_each_drop_is_logged(tmp_path, model, caplog):
    caplog.set_level("INFO", logger="faceswap")
    checkpoints = Checkpoints(tmp_path / "checkpoints", run_file=tmp_path / "run.json")
    (tmp_path / "checkpoints/my-notes").mkdir(parents=True)  # not an attempt: the user's, left alone
    attempts = {name: {"name": name} for name in ("fetched", "model", "source", "old", "older", "now")}
    attempts["warm"] = {"name": "warm", "init": {"file": str(checkpoints.attempt_folder(attempts["source"]) /
                                                             "latest" / MODEL)}}
    folder = {name: checkpoints.attempt_folder(attempt) for name, attempt in attempts.items()}

    def save(name):
        checkpoints.save(model, {"step": 1, "attempt": attempts[name], "run_id": f"run-{name}"})

    before = checkpoints.states()
    save("fetched")  # as `python -m cloud fetch` brings it: by dvc pull, then marked
    assert checkpoints.mark_fetched(before, "spot-1") == [folder["fetched"]]
    save("model")
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "run-model"}))  # the current model: this one's
    save("source")
    save("older")
    save("old")
    save("warm")
    for age, name in enumerate(("fetched", "model", "source", "older", "old", "warm")):
        os.utime(folder[name], (age, age))  # saved in this order, a second apart
    save("now")  # the 3 used last: now, warm, old

    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == sorted(["my-notes", *(folder[name].name for name in
                                         ("fetched", "model", "source", "old", "warm", "now"))])
    assert (f"model: dropped {folder['older']}: not one of the 3 attempts used last, not fetched from the cloud, "
            "not the current model's (run.json), and no kept attempt starts from it") in caplog.text
    assert caplog.text.count("model: dropped") == 1


def test_only_what_a_pull_brought_is_marked_and_dvc_does_not_see_the_mark(tmp_path, model):
    """The mark says where the folder came from on this machine: DVC leaves it out of the folder's hash, so the
    fetched model stage stays up to date."""
    repo = git_dvc_repo(tmp_path / "repo")
    checkpoints = Checkpoints(repo / "models/checkpoints")
    checkpoints.save(model, {"step": 1, "attempt": {"name": "here"}})
    before = checkpoints.states()
    checkpoints.save(model, {"step": 2, "attempt": {"name": "here"}})  # a pull that went on with the same attempt
    checkpoints.save(model, {"step": 1, "attempt": {"name": "pulled"}})
    marked = checkpoints.mark_fetched(before, "spot-1")
    assert marked == sorted(checkpoints.attempt_folder({"name": name}) for name in ("here", "pulled"))
    assert checkpoints.mark_fetched(checkpoints.states(), "spot-2") == []

    (repo / "dvc.yaml").write_text("stages:\n  model:\n    cmd: 'true'\n    outs:\n"
                                   "      - models/checkpoints:\n          persist: true\n")
    for folder in marked:
        (folder / FETCHED).unlink()
    sh("dvc", "commit", "--force", "-q", "model", cwd=repo)
    checkpoints.mark_fetched({}, "spot-1")
    assert "up to date" in sh("dvc", "status", "model", cwd=repo).stdout


def test_with_the_run_file_damaged_no_attempt_is_dropped(tmp_path, model, caplog):
    checkpoints = Checkpoints(tmp_path / "checkpoints", run_file=tmp_path / "run.json")
    (tmp_path / "run.json").write_text('{"run_id": "r')  # cut short
    for name in range(5):
        checkpoints.save(model, {"step": 1, "attempt": {"name": name}})
    assert len(checkpoints.attempts()) == 5
    assert "run.json cannot be read (JSONDecodeError)" in caplog.text and "every attempt is kept" in caplog.text


def test_each_checkpoint_is_mirrored_whole_where_the_cloud_instance_mounts_its_bucket(tmp_path, model, monkeypatch):
    """``FACESWAP_CHECKPOINT_MIRROR``: the latest checkpoint and the one before it, complete, in the mirror too; a
    fresh folder restored from the mirror resumes at its step."""
    mirror = tmp_path / "bucket-mount"
    monkeypatch.setenv(MIRROR, str(mirror))
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    attempt = {"name": "cloud"}
    for step in (2, 4):
        checkpoints.save(model, {"step": step, "attempt": attempt, "run_id": "run-1"})
    copy = mirror / checkpoints.attempt_folder(attempt).name
    assert sorted(p.name for p in copy.iterdir()) == ["latest", "previous"]
    for name in ("latest", "previous"):
        assert {p.name: p.read_bytes() for p in (copy / name).iterdir()} == {
            p.name: p.read_bytes() for p in (checkpoints.attempt_folder(attempt) / name).iterdir()}
    restored = Checkpoints(mirror)  # what the next instance copies back
    assert restored.restore(model, attempt)["step"] == 4
