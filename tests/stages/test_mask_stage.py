"""The mask stage and the output it changes, on the sample target cut to frames 190-218, where the woman's
fingers cover her mouth: the labels of data/labels/target.json for those frames, moved to the cut's frame
numbers, train the segmenter with tiny params, and the fingers of frame 200 stay in the output where the
landmark hull alone pastes the new face over them."""

import json
from fractions import Fraction

import cv2
import numpy as np
import pytest

from faceswap.faces.mask_labels import read_mask_labels, write_mask_labels
from faceswap.media import video
from tests.helpers import REPO, copy_project, error_lines, run_stage, set_params, trim

pytestmark = pytest.mark.slow

FIRST = 190  # the sample target's frame that the cut starts at
FINGER_FRAME = 200  # labelled: three fingers over the mouth and cheek, and in training
TINY = {"frames": {"fps": 10}, "model": {"steps": 4, "batch_size": 4, "log_every": 2, "preview_every": 4},
        "mask": {"steps": 150, "batch_size": 8, "holdout": 1}, "output": {"preset": "ultrafast", "stills": 1}}


def cut_labels(first: int, count: int) -> dict:
    """The sample's labels of frames ``first`` to ``first + count - 1``, keyed by their frame in the cut."""
    labels = read_mask_labels(REPO / "data/labels/target.json")
    return {f"target_{number - first:06d}": label for key, label in labels.items()
            if first <= (number := int(key.rsplit("_", 1)[1])) < first + count}


@pytest.fixture(scope="module")
def project(tmp_path_factory, media):
    root = copy_project(tmp_path_factory.mktemp("mask") / "project")
    info = video.probe(media / "pair/target.mp4")
    frame_time = float(1 / Fraction(info.rate))
    trim(media / "pair/target.mp4", root / "data/raw/target/target.mp4", 29 * frame_time,
         start=(FIRST - 0.5) * frame_time)  # the first frame kept is FIRST
    trim(media / "pair/source.mp4", root / "data/raw/source/source.mp4", 1.2)
    set_params(root, TINY)
    write_mask_labels(root / "data/labels/target.json", cut_labels(FIRST, 29))
    for side in ("target", "source"):
        for stage in ("frames", "crops", "filtered", "alignments"):
            run_stage(stage, "--side", side, cwd=root)
    run_stage("model", cwd=root)
    return root


def frame(path, index: int) -> np.ndarray:
    for number, image in enumerate(video.decode(path, video.probe(path))):
        if number == index:
            return image
    raise AssertionError(f"{path} has no frame {index}")


def finger_pixels(root) -> np.ndarray:
    """The pixels of the finger frame inside both its finger polygons and its landmark hull (shrunk by 3 px,
    clear of both outlines), where the output pastes the face unless the mask keeps the fingers."""
    index = FINGER_FRAME - FIRST
    label = read_mask_labels(root / "data/labels/target.json")[f"target_{index:06d}"]
    alignments = json.loads((root / "data/alignments/target/alignments.json").read_text())
    (face, *_) = alignments["videos"]["target"]["frames"][index]["faces"]
    shape = (360, 640)
    fingers, hull = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    for polygon in label["occluders"]:
        cv2.fillPoly(fingers, [np.round(polygon).astype(np.int32)], 255)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(face["landmarks_68"]).astype(np.int32)), 255)
    inside = cv2.erode(fingers & hull, np.ones((7, 7), np.uint8)) > 0
    assert inside.sum() > 500  # the fingers cover a good part of the face
    return inside


def converted_difference(root) -> float:
    """The median difference (levels) between the target's finger pixels and the output's."""
    run_stage("mask", cwd=root)
    run_stage("output", cwd=root)
    inside = finger_pixels(root)
    index = FINGER_FRAME - FIRST
    target, output = frame(root / "data/raw/target/target.mp4", index), frame(root / "data/output/swapped.mp4", index)
    return float(np.median(np.abs(target.astype(np.int16) - output)[inside]))


def test_the_cut_starts_at_the_sample_frame(project, media):
    original = frame(media / "pair/target.mp4", FIRST)
    cut = frame(project / "data/raw/target/target.mp4", 0)
    assert np.mean(np.abs(original.astype(np.int16) - cut)) < 4  # the same picture, re-encoded


def test_mask_stage_writes_the_segmenter_and_its_held_out_iou(project):
    run_stage("mask", cwd=project)
    folder = project / "models/mask"
    assert sorted(p.name for p in folder.iterdir()) == ["segmenter.keras", "settings.json"]
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["enabled"] and settings["size"] == 64 and len(settings["labelled_frames"]) == 7
    metrics = json.loads((project / "data/metrics/mask.json").read_text())
    assert metrics["held_out_frames"] == ["target_000014"] and metrics["labelled_frames"] == 7
    assert metrics["training_faces"] == metrics["faces"] - 1
    assert 0 < metrics["iou_hull_held_out"] < 0.9  # the hull takes the fingers for face
    assert metrics["iou_held_out"] > metrics["iou_hull_held_out"]


def test_fingers_stay_in_front_of_the_swapped_face_only_with_the_mask(project):
    set_params(project, {"mask": {"enabled": True}})
    with_mask = converted_difference(project)
    set_params(project, {"mask": {"enabled": False}})
    without_mask = converted_difference(project)
    assert sorted(p.name for p in (project / "models/mask").iterdir()) == ["settings.json"]
    assert json.loads((project / "data/metrics/mask.json").read_text()) == {"enabled": False}
    assert json.loads((project / "data/metrics/output.json").read_text())["occlusion_mask"] is False
    assert with_mask < 10  # the target's own fingers, but for the video encoding
    assert without_mask > 2 * with_mask + 10  # the new face pasted over them


def test_a_malformed_labels_file_stops_the_stage_and_keeps_the_last_mask(project):
    set_params(project, {"mask": {"enabled": True}})
    labels = project / "data/labels/target.json"
    kept = labels.read_text()
    before = sorted(p.name for p in (project / "models/mask").iterdir())
    labels.write_text('{"schema": "faceswap-pipeline/mask-labels", "version": 1, "frames": {"oops": {}}}')
    try:
        result = run_stage("mask", cwd=project, check=False)
    finally:
        labels.write_text(kept)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: data/labels/target.json: 'oops' is not a frame key like 'target_000123'"]
    assert sorted(p.name for p in (project / "models/mask").iterdir()) == before


def test_output_with_the_mask_enabled_but_not_trained_stops(project):
    set_params(project, {"mask": {"enabled": True}})
    settings = project / "models/mask/settings.json"
    settings.write_text('{"enabled": false}')  # as after a run with the mask off
    result = run_stage("output", cwd=project, check=False)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: models/mask: no trained mask while mask.enabled is true")


def test_a_size_the_network_cannot_halve_three_times_stops_the_stage(project):
    set_params(project, {"mask": {"enabled": True, "size": 60}})
    try:
        result = run_stage("mask", cwd=project, check=False)
    finally:
        set_params(project, {"mask": {"size": 64}})
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: params.yaml: 'mask.size' is 60; give a multiple of 8 (the network halves it three times)"]
