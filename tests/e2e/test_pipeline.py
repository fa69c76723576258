"""End to end: ``dvc repro`` on a trimmed sample with tiny params, then the checks a user would make.

The output video has every frame and the audio, the face changed where there was one; a second repro runs
nothing; a params change reruns only what reads it; ``dvc push`` to S3 on loopback and ``dvc pull`` in a
fresh clone bring back the same model and video; the MLflow run holds params, a loss curve and previews.
"""

import json

import numpy as np
import pytest

from faceswap.media import video
from tests.helpers import git_dvc_repo, loopback_bucket, set_params, sh, trim, use_loopback_remote

pytestmark = pytest.mark.slow

TINY = {"frames": {"fps": 10}, "model": {"steps": 6, "batch_size": 4, "log_every": 2, "preview_every": 3},
        "mask": {"enabled": False, "steps": 20, "batch_size": 4}, "output": {"preset": "ultrafast"}}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, media):
    """A git + DVC repository holding the project, a 2 s target and a 1.5 s source, after ``dvc repro``."""
    root = git_dvc_repo(tmp_path_factory.mktemp("e2e") / "repo")
    trim(media / "pair/target.mp4", root / "data/raw/target/target.mp4", 2)
    trim(media / "pair/source.mp4", root / "data/raw/source/source.mp4", 1.5)
    set_params(root, TINY)
    sh("dvc", "repro", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "pipeline run", cwd=root)
    return root


def test_output_video_has_every_frame_and_the_audio(repo):
    target, output = repo / "data/raw/target/target.mp4", repo / "data/output/swapped.mp4"
    before, after = video.probe(target), video.probe(output)
    frames_in = list(video.decode(target, before))
    frames_out = list(video.decode(output, after))
    assert len(frames_out) == len(frames_in) == 48
    assert after.has_audio
    assert after.rate == before.rate
    assert abs(after.duration - before.duration) < 0.1
    metrics = json.loads((repo / "data/metrics/output.json").read_text())
    assert metrics["frames"] == 48 and metrics["frames_swapped"] == metrics["frames_with_face"] == 48

    alignments = json.loads((repo / "data/alignments/target/alignments.json").read_text())
    for entry, original, swapped in zip(alignments["videos"]["target"]["frames"], frames_in, frames_out):
        x, y, w, h = (int(v) for v in entry["faces"][0]["box"])
        face = np.s_[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4]
        changed = np.abs(swapped[face].astype(int) - original[face]).mean()
        assert changed > 6, f"frame {entry['frame']}: the face did not change (mean difference {changed:.1f})"
        corner = np.s_[:60, :100]  # far from the face: only codec noise
        assert np.abs(swapped[corner].astype(int) - original[corner]).mean() < 4


def test_mlflow_run_has_params_loss_curve_and_previews(repo):
    from mlflow.tracking import MlflowClient

    run_id = json.loads((repo / "models/run.json").read_text())["run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    run = client.get_run(run_id)  # before the params changes below, which resume this run
    assert run.data.params["model.steps"] == "6" and run.data.params["model.architecture"] == "light"
    assert run.data.tags["init"] == "random"
    assert run.data.tags["git_commit"] and run.data.tags["machine"]
    history = client.get_metric_history(run_id, "loss_target")
    assert [m.step for m in history] == [2, 4, 6]
    assert "output_coverage" in run.data.metrics
    images = [a.path for a in client.list_artifacts(run_id, "images")]
    assert len([p for p in images if "preview" in p and p.endswith(".png")]) >= 2


def test_second_repro_runs_nothing(repo):
    result = sh("dvc", "repro", cwd=repo)
    assert "Running stage" not in result.stdout
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo).stdout


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.mark.parametrize("change, expected", [
    ({"model": {"steps": 7}}, {"model", "output"}),
    ({"output": {"crf": 30}}, {"output"}),
    ({"mask": {"enabled": True, "steps": 21}}, {"mask", "output"}),
    ({"frames": {"fps": 5}}, {"frames@source", "crops@source", "filtered@source", "alignments@source", "model",
                              "output"}),
])
def test_a_params_change_reruns_only_what_reads_it(repo, change, expected):
    try:
        set_params(repo, change)
        # dvc status names the stages whose own params changed; repro then reruns what lies below them
        status = json.loads(sh("dvc", "status", "--json", cwd=repo).stdout)
        assert status and set(status) <= expected
        assert stages_run(sh("dvc", "repro", cwd=repo).stdout) == expected
    finally:  # back to the committed params, lock and outputs (from the DVC cache)
        sh("git", "checkout", "--", "params.yaml", "dvc.lock", "data/metrics", cwd=repo)
        sh("dvc", "checkout", cwd=repo)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo).stdout


def test_push_to_s3_and_pull_into_a_fresh_clone(repo, s3_endpoint, tmp_path):
    bucket = "faceswap-test"
    s3 = loopback_bucket(s3_endpoint, bucket)

    use_loopback_remote(repo, s3_endpoint, bucket)
    sh("dvc", "push", cwd=repo)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="store/").get("KeyCount", 0)
    assert 0 < objects < 100  # image collections travel as a few shards, not as thousands of files

    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    assert not (clone / "models/faceswap.keras").exists()
    use_loopback_remote(clone, s3_endpoint, bucket)
    sh("dvc", "pull", "models/faceswap.keras", "data/output/swapped.mp4", cwd=clone)
    for path in ("models/faceswap.keras", "data/output/swapped.mp4"):
        assert (clone / path).read_bytes() == (repo / path).read_bytes()
    sh("dvc", "pull", cwd=clone)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=clone).stdout
