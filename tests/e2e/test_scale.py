"""A feature-film-sized source: 10^4 frames (the sample source looped) travel through ``dvc push`` and
``dvc pull`` to S3 on loopback as a handful of objects, because frames are packed in tar shards."""

import os
import subprocess
import sys

import pytest

from faceswap.media import video
from faceswap.media.imageset import read_index
from tests.helpers import REPO, loopback_bucket, set_params, sh, use_loopback_remote

pytestmark = pytest.mark.slow

FRAMES = 10_000


def test_ten_thousand_frames_push_and_pull_as_a_few_objects(project, media, s3_endpoint, tmp_path):
    looped = project / "data/raw/source/looped.mp4"
    looped.parent.mkdir(parents=True)
    # 139 loops of the 2.4 s sample at 30 fps; small frames keep the test quick, the file count is the point
    subprocess.run([video.FFMPEG, "-v", "error", "-stream_loop", "-1", "-i", str(media / "pair/source.mp4"),
                    "-vf", "scale=128:72", "-frames:v", str(FRAMES), "-an", "-c:v", "libx264", "-preset",
                    "ultrafast", str(looped)], check=True)
    set_params(project, {"frames": {"fps": 30}})
    sh("git", "init", "-q", cwd=project)
    sh("dvc", "init", "-q", cwd=project)
    (project / ".dvc/config").write_text((REPO / ".dvc/config").read_text())
    bucket = "faceswap-scale"
    s3 = loopback_bucket(s3_endpoint, bucket)

    sh("dvc", "repro", "frames@source", cwd=project)  # the real stage, cached by DVC
    records = read_index(project / "data/frames/source")
    assert len(records) == FRAMES and len({r["key"] for r in records}) == FRAMES
    shards = sorted((project / "data/frames/source").glob("*.tar"))
    assert len(shards) == FRAMES // 1000

    use_loopback_remote(project, s3_endpoint, bucket)
    sh("dvc", "push", "data/frames/source", cwd=project)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix="store/")["KeyCount"]
    assert objects <= len(shards) + 5  # shards, index, videos.json, the folder's manifest: not 10^4 files

    sh("git", "config", "user.email", "test@example.com", cwd=project)
    sh("git", "config", "user.name", "test", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "10^4 frames", cwd=project)
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(project), str(clone), cwd=tmp_path)
    use_loopback_remote(clone, s3_endpoint, bucket)
    sh("dvc", "pull", "data/frames/source", cwd=clone)
    for path in [*shards, project / "data/frames/source/index.jsonl"]:
        pulled = clone / path.relative_to(project)
        assert pulled.read_bytes() == path.read_bytes()


def test_the_scale_benchmark_runs_its_quick_size(tmp_path):
    """``python -m bench.scale --quick``: every row printed, the frames and faces counted (no timing asserted)."""
    result = subprocess.run([sys.executable, "-m", "bench.scale", "--quick"], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = result.stdout.splitlines()
    assert rows[0].startswith("machine: ")
    assert any(row.startswith("source: the bundled source looped to 300 frames") for row in rows), result.stdout
    assert any(row == "(300 source faces aligned; frames/s of the model row: steps/s)" for row in rows), result.stdout
    for step in ("frames@source", "crops@source", "filtered@source", "alignments@source", "model, 4 steps at 64 px",
                 "dvc status, nothing to do", "dvc repro, nothing to do", "dvc push", "raw boto3 upload",
                 "dvc pull, a fresh clone", "raw boto3 download", "alignments@source at 128 px",
                 "model, 2 steps, ud128wide", "write both sides (alignments)",
                 "index both sides (TrainingFaces)", "feed 20 batches"):
        assert any(row.startswith(step) for row in rows), (step, result.stdout)
    assert "training input: 2000 faces a side at 32 px" in result.stdout
    assert list(tmp_path.iterdir()) == []  # its scratch folder removed
