"""Each extraction stage killed with ``kill -9`` at three points (its temporary output just made, half written,
renamed into place before DVC recorded it), then ``dvc repro``: the outputs are byte for byte those of a run
never interrupted, and nothing is left behind for git or DVC to pick up.

The target side's stages are the ones killed (the source side runs the same scripts); a stage the kill found
already finished counts as a miss, which a slower or faster machine may give at the last point.
"""

import os
import signal
import subprocess
import time

import pytest
import yaml

from faceswap.core import paths
from tests.helpers import git_dvc_repo, set_params, sh, tool_env, trim

pytestmark = pytest.mark.slow

STAGES = ("frames", "crops", "filtered", "alignments")
TINY = {"frames": {"fps": 10}}


def extraction_repo(root, media):
    root = git_dvc_repo(root)
    trim(media / "pair/target.mp4", root / "data/raw/target/target.mp4", 2)
    trim(media / "pair/source.mp4", root / "data/raw/source/source.mp4", 1.5)
    set_params(root, TINY)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "project", cwd=root)
    return root


def kill_points(output):
    """Moments in a stage's life, as the files show them: a test of each, in order."""
    tmp = output.with_name(f".{output.name}.tmp")
    return {
        "started": tmp.is_dir,
        "half written": lambda: tmp.is_dir() and any(f.stat().st_size for f in tmp.iterdir() if f.is_file()),
        "renamed, not recorded": output.is_dir,
    }


def kill_at(root, stage: str, point: str, reached) -> bool:
    """``dvc repro`` the stage, ``kill -9`` it and its stage process when ``reached()``; whether it was running."""
    process = subprocess.Popen(["dvc", "repro", "--single-item", f"{stage}@target"], cwd=root, env=tool_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not reached():
            if process.poll() is not None:
                return False
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait() == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def tree(root) -> dict:
    """Every file the pipeline wrote, by path: the bytes of each output; DVC's bookkeeping (``dvc.lock``, the
    ``.gitignore`` files of outputs) as what it says, since DVC orders entries by when each stage ran."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "data").rglob("*")) if p.is_file()}
    files = {path: sorted(data.splitlines()) if path.endswith(".gitignore") else data for path, data in files.items()}
    return {**files, "dvc.lock": yaml.safe_load((root / "dvc.lock").read_text())}


def test_kill_9_at_three_points_of_each_stage_then_repro_gives_the_same_bytes(tmp_path, media):
    reference = extraction_repo(tmp_path / "reference", media)
    sh("dvc", "repro", *(f"alignments@{side}" for side in paths.SIDES), cwd=reference)

    root = extraction_repo(tmp_path / "killed", media)
    landed = {}
    for stage in STAGES:
        output = root / paths.stage_output(stage, "target")
        for point, reached in kill_points(output).items():
            landed[f"{stage} {point}"] = kill_at(root, stage, point, reached)
        sh("dvc", "repro", "--single-item", f"{stage}@target", cwd=root)  # what the next stage reads
    assert all(landed[f"{stage} {point}"] for stage in STAGES for point in ("started", "half written")), landed

    sh("dvc", "repro", *(f"alignments@{side}" for side in paths.SIDES), cwd=root)
    written, expected = tree(root), tree(reference)
    assert written.keys() == expected.keys()
    assert [path for path, data in written.items() if expected[path] != data] == []
    leftovers = [str(p) for p in (root / "data").rglob(".*") if p.name.endswith((".tmp", ".lock")) or ".tmp-" in p.name]
    assert leftovers == []
    status = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=root).stdout
    assert status == sh("git", "status", "--porcelain", "--untracked-files=all", cwd=reference).stdout
