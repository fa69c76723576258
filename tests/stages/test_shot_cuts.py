"""A target with a hard cut (the same woman, a new closer framing): the cut is found and recorded, and neither
landmark smoothing, gap recovery nor placement averaging reaches across it."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from faceswap.media import video
from faceswap.media.imageset import read_index
from tests.helpers import run_stage, set_params

pytestmark = pytest.mark.slow

CUT = 36  # shot A is 1.5 s of the sample target at 24000/1001 fps: frames 0-35; shot B starts at frame 36


def hard_cut_clip(target: Path, out: Path) -> None:
    """1.5 s of the sample target, then 1.5 s from 10 s, cropped to a closer framing (the face 1.6x larger and
    moved): one hard cut at frame 36."""
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = ("[0:v]trim=0:1.5,setpts=PTS-STARTPTS[a];"
             "[0:v]trim=10:11.5,setpts=PTS-STARTPTS,crop=400:225:150:10,scale=640:360[b];"
             "[a][b]concat=n=2:v=1[v]")
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(target), "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-preset", "ultrafast", "-r", "24000/1001", str(out)], check=True)


def stored_boxes() -> dict[int, np.ndarray]:
    (entry,) = json.loads(Path("data/alignments/target/alignments.json").read_text())["videos"].values()
    return {frame["frame"]: np.array(frame["faces"][0]["box"]) for frame in entry["frames"] if frame["faces"]}


@pytest.fixture(scope="module")
def cut_project(tmp_path_factory, media):
    from tests.helpers import copy_project

    root = copy_project(tmp_path_factory.mktemp("cut") / "project")
    hard_cut_clip(media / "pair/target.mp4", root / "data/raw/target/cut.mp4")
    set_params(root, {"crops": {"retry_angles": []}})
    for stage in ("frames", "crops", "filtered", "alignments"):
        run_stage(stage, "--side", "target", cwd=root)
    return root


def test_the_cut_is_recorded_and_the_boxes_next_to_it_match_the_detections(cut_project, monkeypatch):
    monkeypatch.chdir(cut_project)
    document = json.loads(Path("data/alignments/target/alignments.json").read_text())
    assert document["version"] == 3 and document["cut_threshold"] == 5.0
    (entry,) = document["videos"].values()
    assert [frame["shot"] for frame in entry["frames"]] == [0] * CUT + [1] * (entry["frame_count"] - CUT)
    assert json.loads(Path("data/metrics/alignments-target.json").read_text())["shot_cuts"] == 1

    detected = {face["frame"]: np.array(face["box"]) for face in read_index("data/crops/target")}
    stored = stored_boxes()
    near_cut = range(CUT - 3, CUT + 3)
    assert set(near_cut) <= set(detected) & set(stored)
    strays = {frame: float(np.abs(stored[frame] - detected[frame]).max()) for frame in near_cut}
    assert max(strays.values()) <= 3, strays  # measured: at most 1.4 px
    jump = np.abs(detected[CUT] - detected[CUT - 1]).max()
    assert jump > 50  # the framing really changes at the cut

    # the same clip with cuts not looked for: smoothing blends the two framings next to the cut
    shutil.copy(Path("params.yaml"), Path("params.saved"))
    set_params(cut_project, {"alignments": {"cut_threshold": 100.0}})
    try:
        run_stage("alignments", "--side", "target")
        blended = stored_boxes()
        assert max(float(np.abs(blended[f] - detected[f]).max()) for f in near_cut) > 15  # measured: 26 px
    finally:
        shutil.move(Path("params.saved"), Path("params.yaml"))
        run_stage("alignments", "--side", "target")


def test_the_placement_does_not_blend_the_two_shots(cut_project, monkeypatch):
    from faceswap.convert.placement import load_target_track, placement_series

    monkeypatch.chdir(cut_project)
    track = load_target_track(smooth_frames=2)
    assert track.shots[CUT - 1] == 0 and track.shots[CUT] == 1
    raw = placement_series(track.raw_transforms, track.aligned_size, track.padding)
    placed = placement_series(track.transforms, track.aligned_size, track.padding)
    # each frame next to the cut is placed from its own shot alone: the mean of its shot's neighbours
    np.testing.assert_allclose(placed[CUT - 1], np.mean(raw[CUT - 3:CUT], axis=0), atol=0.5)
    np.testing.assert_allclose(placed[CUT], np.mean(raw[CUT:CUT + 3], axis=0), atol=0.5)
    assert np.abs(placed[CUT - 1] - raw[CUT - 1]).max() < 4 and np.abs(placed[CUT] - raw[CUT]).max() < 4
