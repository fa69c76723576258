"""Bad input stops a stage with one line naming the file and what to do, exit status 2, and no output."""

import json

import cv2
import pytest

from faceswap.core.workers import BATCH
from faceswap.media.imageset import ShardWriter, encode_jpeg
from faceswap.media.video import read_catalogue
from tests.helpers import error_lines, run_stage, set_params


@pytest.mark.parametrize("content", [b"this is not a video\n", b""])
def test_target_that_is_not_a_video(project, content):
    raw = project / "data/raw/target"
    raw.mkdir(parents=True)
    (raw / "target.mp4").write_bytes(content)
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: data/raw/target/target.mp4: not a readable video")
    assert "replace it" in line
    assert not (project / "data/frames").exists()


@pytest.mark.parametrize("name", ["target.jpg", "target.mp4"])
def test_target_that_is_a_photo(project, media, name):
    """ffmpeg reads a photo as a video of one frame; the frames stage refuses it, whatever its name."""
    raw = project / "data/raw/target"
    raw.mkdir(parents=True)
    (raw / name).write_bytes((media / "images/grace_hopper.jpg").read_bytes())
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"error: data/raw/target/{name}: a still image ({'image2' if name.endswith('jpg') else 'jpeg_pipe'}), "
        "not a video; replace it with a video file"]
    assert not (project / "data/frames").exists()


def test_two_target_videos(project, media):
    raw = project / "data/raw/target"
    raw.mkdir(parents=True)
    for name in ("a.mp4", "b.mp4"):
        (raw / name).write_bytes((media / "pair/source.mp4").read_bytes())
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: data/raw/target: holds 2 videos; keep exactly one target video there"]
    assert not (project / "data/frames").exists()


def test_missing_side_folder(project):
    result = run_stage("frames", "--side", "source", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == ["error: data/raw/source: no such folder; put the side's videos there"]


def test_a_frame_that_does_not_decode_stops_the_next_stage_naming_its_shard_and_key(project, media, monkeypatch):
    """Damage to a stage's output found in a worker process of the next stage: one line, as for bad input."""
    image = cv2.resize(cv2.imread(str(media / "images/grace_hopper.jpg")), (128, 160))
    count = BATCH + 8  # more than one batch: the frames go to two worker processes
    with ShardWriter(project / "data/frames/target", "frames") as shards:
        for i in range(count):
            jpeg = b"\xff\xd8 the rest of the JPEG lost" if i == count - 3 else encode_jpeg(image)
            shards.add(f"target_{i:06d}", {"jpg": jpeg}, {"video": "target", "frame": i})
    (project / "data/frames/target/videos.json").write_text(json.dumps(
        {"target": {"sample_rate": "25/1", "frames": count, "width": 128, "height": 160}}))
    monkeypatch.setenv("FACESWAP_WORKERS", "2")
    result = run_stage("crops", "--side", "target", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"error: data/frames/target/frames-00000.tar: member 'target_{count - 3:06d}.jpg' is not a decodable image; "
        "restore it with `dvc checkout data/frames/target`, or write it anew with `dvc repro -f frames@target`"]
    assert list((project / "data/crops").iterdir()) == []


def cut_target(project, media, share: float = 0.6):
    """The sample target cut off at ``share`` of its bytes, mid-stream, as an interrupted copy leaves it."""
    raw = project / "data/raw/target"
    raw.mkdir(parents=True)
    whole = (media / "pair/target.mp4").read_bytes()
    (raw / "target.mp4").write_bytes(whole[:int(len(whole) * share)])


def test_video_cut_short_names_the_file_and_both_counts(project, media):
    cut_target(project, media)
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: data/raw/target/target.mp4: ends early: 288 frames decoded, 472 expected")
    assert "frames.accept_short_videos" in line
    assert list((project / "data/frames").iterdir()) == []  # no output, no temporary folder, no lock


def test_video_cut_short_accepted_knowingly(project, media):
    cut_target(project, media)
    set_params(project, {"frames": {"accept_short_videos": True}})
    result = run_stage("frames", "--side", "target")
    assert "ends early (288 frames decoded, 472 expected)" in result.stderr
    assert read_catalogue(project / "data/frames/target")["target"]["frames"] == 288


def test_an_exclusion_list_that_is_not_utf8_stops_filtered_naming_its_line(project):
    (project / "data/exclude/target.txt").write_bytes(b"# Keys of faces to drop\ntarget_000001_0  # caf\xe9\n")
    result = run_stage("filtered", "--side", "target", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: data/exclude/target.txt: line 2 is not UTF-8 text; save the file as UTF-8 or remove the line"]
    assert "Traceback" not in result.stderr and not (project / "data/filtered").exists()
