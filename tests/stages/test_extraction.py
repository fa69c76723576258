"""The extraction stages (frames, crops, filtered, alignments) run as DVC runs them, on the sample clips."""

import csv
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import pytest

from faceswap.faces.rules import VERDICTS, read_verdicts
from faceswap.media import video
from faceswap.media.imageset import read_index
from tests.helpers import error_lines, run_stage, set_params

EXTRACTION = ("frames", "crops", "filtered", "alignments")


def put_videos(root: Path, side: str, *paths: Path) -> None:
    folder = root / "data/raw" / side
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, folder / path.name)


def extract(side: str, stages=EXTRACTION) -> dict[str, str]:
    """Run the stages on one side; their stderr by stage."""
    return {stage: run_stage(stage, "--side", side).stderr for stage in stages}


def load(path: str):
    return json.loads(Path(path).read_text())


@pytest.mark.slow
def test_variable_frame_rate_clips_faces_in_the_face_segments_only(project, media):
    """Face in 0-2.4 s of face_noface.mov and from 3.94 s of noface_face.mov (PROVENANCE.md); the rest is
    animation. Both are VFR HEVC: they become constant rate with their 169 frames, each at ``i / rate`` s."""
    put_videos(project, "source", media / "fixtures/face_noface.mov", media / "fixtures/noface_face.mov")
    set_params(project, {"crops": {"retry_angles": []}})  # the upscaled retry alone: the test's time halves
    extract("source", ("frames", "crops"))
    videos = load("data/frames/source/videos.json")
    face_time = {"face_noface": (0.0, 2.4), "noface_face": (3.945, 6.4)}
    for meta in videos.values():
        assert meta["frames"] == 169
        assert meta["frames"] == pytest.approx(meta["duration"] * float(Fraction(meta["sample_rate"])), abs=1)
    frames = read_index("data/frames/source")
    assert all(r["time"] == pytest.approx(r["frame"] / float(Fraction(videos[r["video"]]["sample_rate"])), abs=1e-3)
               for r in frames)
    faces = read_index("data/crops/source")
    for name, (start, end) in face_time.items():
        times = {r["time"] for r in frames if r["video"] == name}
        with_face = {r["time"] for r in frames if r["video"] == name
                     and r["key"] in {face["frame_key"] for face in faces}}
        assert all(start - 0.05 <= t <= end for t in with_face), f"{name}: a face in the animation"
        in_segment = {t for t in times if start + 0.05 <= t <= end - 0.05}
        assert len(with_face & in_segment) >= 0.95 * len(in_segment), f"{name}: faces missed in the face segment"


def test_no_face_source_warns_and_gives_an_empty_valid_set(project, media):
    put_videos(project, "source", media / "fixtures/no_face.mp4")
    set_params(project, {"frames": {"fps": 4}})
    stderr = extract("source")
    assert "no face found in any frame" in stderr["crops"]
    assert read_index("data/crops/source") == [] and read_index("data/alignments/source") == []
    assert load("data/metrics/filtered-source.json")["faces_kept"] == 0
    document = load("data/alignments/source/alignments.json")
    (entry,) = document["videos"].values()
    assert entry["frame_count"] == len(entry["frames"]) == 16
    assert {frame["status"] for frame in entry["frames"]} == {"missing"}
    assert load("data/metrics/alignments-source.json")["coverage"] == 0
    assert cv2.imread("data/sheets/alignments-source.jpg") is not None  # a sheet that says "no image"


def test_no_face_target_is_an_error_with_no_output(project, media):
    put_videos(project, "target", media / "fixtures/no_face.mp4")
    set_params(project, {"crops": {"retry_upscale": 0, "retry_angles": []}})  # no retries: a quicker no
    extract("target", ("frames",))
    result = run_stage("crops", "--side", "target", check=False)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "data/raw/target: no face found in any of the 95 frames" in line
    assert not Path("data/crops/target").exists() and not list(Path("data/crops").glob(".*"))


@pytest.mark.slow
def test_sample_target_full_coverage_then_gaps_recovered_or_reported(project, media):
    put_videos(project, "target", media / "pair/target.mp4")
    stderr = extract("target")
    metrics = load("data/metrics/alignments-target.json")
    assert metrics["coverage"] == 1.0 and metrics["frames"] == metrics["frames_detected"] == 472
    assert 0 < metrics["jitter_landmarks_px"] < metrics["jitter_landmarks_raw_px"]
    assert "NO FACE" not in stderr["alignments"]
    document = load("data/alignments/target/alignments.json")
    assert document["version"] == 3
    frames = document["videos"]["target"]["frames"]
    assert [f["frame"] for f in frames] == list(range(472))
    assert all(f["faces"][0]["identity_distance"] < 0.6 for f in frames)
    for name in ("frames", "crops", "filtered", "alignments"):
        sheet = cv2.imread(f"data/sheets/{name}-target.jpg")
        assert sheet is not None and sheet.shape[1] == 8 * 128

    # drop frames 100-104 (shorter than alignments.max_gap) and 200-229 (longer) through the exclusion list
    Path("data/exclude/target.txt").write_text("".join(f"target_{i:06d}_0\n" for i in [*range(100, 105),
                                                                                        *range(200, 230)]))
    stderr = extract("target", ("filtered", "alignments"))
    assert load("data/metrics/filtered-target.json")["removed"]["excluded"] == 35
    frames = load("data/alignments/target/alignments.json")["videos"]["target"]["frames"]
    assert {f["status"] for f in frames[100:105]} == {"recovered"}
    assert {f["faces"][0]["source"] for f in frames[100:105]} == {"interpolated"}
    assert all(len(f["faces"][0]["landmarks_68"]) == 68 and len(f["faces"][0]["transform"]) == 2
               for f in frames[100:105])
    assert {f["status"] for f in frames[200:230]} == {"missing"}
    assert "NO FACE in frames 200-229 of target (30 frames" in stderr["alignments"]
    metrics = load("data/metrics/alignments-target.json")
    assert (metrics["frames_recovered"], metrics["frames_missing"], metrics["longest_gap"]) == (5, 30, 30)
    with open("data/metrics/alignments-target-timeline.csv") as rows:
        codes = [int(row["status_code"]) for row in csv.DictReader(rows)]
    assert codes[99:106] == [2, 1, 1, 1, 1, 1, 2] and set(codes[200:230]) == {0}


@pytest.mark.slow
def test_only_the_wanted_person_goes_on_in_a_two_person_target(project, media):
    """Each frame holds the sample target (left) and the source man (right); a reference photo of the woman
    makes her the face of every frame and drops him."""
    target = project / "data/raw/target/target.mp4"
    target.parent.mkdir(parents=True)
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(media / "pair/target.mp4"), "-i",
                    str(media / "pair/source.mp4"), "-filter_complex",
                    "[1:v]fps=24000/1001,scale=640:360[man];[0:v][man]hstack", "-t", "1", "-an",
                    "-c:v", "libx264", "-preset", "ultrafast", str(target)], check=True)
    reference = next(frame for index, frame in enumerate(video.decode(media / "pair/target.mp4",
                                                                      video.probe(media / "pair/target.mp4")))
                     if index == 300)  # a frame outside the clip: another picture of her
    cv2.imwrite("data/reference/woman.jpg", reference)
    set_params(project, {"filtered": {"reference_images": {"target": ["data/reference/woman.jpg"], "source": []}}})
    extract("target")
    crops = read_index("data/crops/target")
    frames = load("data/alignments/target/alignments.json")["videos"]["target"]["frames"]
    assert len(frames) == 24 and len(crops) == 48  # two faces in every frame
    assert load("data/metrics/filtered-target.json")["removed"]["identity"] == 24
    assert all(f["status"] == "detected" and len(f["faces"]) == 1 and f["faces"][0]["box"][0] < 640 for f in frames)
    keys, codes = read_verdicts(Path("data/filtered/target/verdicts.csv"))  # each face's fate, for the review page
    assert keys == [face["key"] for face in crops]
    fate = dict(zip(keys, (VERDICTS[code] for code in codes)))
    kept = {f["key"] for f in read_index("data/filtered/target")}
    assert {key for key, verdict in fate.items() if verdict == "kept"} == kept
    assert sorted(fate.values()) == ["identity"] * 24 + ["kept"] * 24
