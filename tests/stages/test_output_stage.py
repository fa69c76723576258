"""The output stage on a target whose first part has no face (fixtures/noface_face.mov): those frames come
out as they went in, the face frames change, and the metrics count only frames with a face."""

import json

import cv2
import numpy as np
import pytest

from faceswap.convert.disclosure import DIGITAL_SOURCE_TYPE, Label
from faceswap.media import video
from faceswap.media.imageset import iter_index
from tests.helpers import (
    awkward_clip,
    blur_face,
    container_tags,
    copy_project,
    run_stage,
    set_params,
    trim,
    video_stream,
)

pytestmark = pytest.mark.slow

TINY = {"frames": {"fps": 10}, "model": {"steps": 4, "batch_size": 4, "log_every": 2, "preview_every": 4},
        "mask": {"enabled": False}, "output": {"preset": "ultrafast", "stills": 2}}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, media):
    root = copy_project(tmp_path_factory.mktemp("output") / "project")
    # odd-sized and stored turned, as a phone held upright writes it: the output is as the target displays
    awkward_clip(media / "fixtures/noface_face.mov", root / "data/raw/target/target.mp4", 1.6, start=3.0,
                 size=(959, 539), pix_fmt="yuv444p", rotation=90)
    trim(media / "pair/source.mp4", root / "data/raw/source/source.mp4", 1.2)
    set_params(root, TINY)
    for side in ("target", "source"):
        for stage in ("frames", "crops", "filtered", "alignments"):
            run_stage(stage, "--side", side, cwd=root)
    run_stage("model", cwd=root)
    run_stage("mask", cwd=root)
    (root / "output-stage.log").write_text(run_stage("output", cwd=root).stderr)
    return root


def outside_the_label(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The frames with the disclosure label's band blacked out (the label is on every frame)."""
    (left, top, right, bottom), *_ = Label("AI-generated face swap", "bottom-right").layout(*frames[0].shape[:2])
    out = [frame.copy() for frame in frames]
    for frame in out:
        frame[top:bottom, left:right] = 0
    return out


def test_frames_without_a_face_pass_unchanged_but_for_the_label(converted):
    target, output = converted / "data/raw/target/target.mp4", converted / "data/output/swapped.mp4"
    frames_in = outside_the_label(list(video.decode(target, video.probe(target))))
    frames_out = outside_the_label(list(video.decode(output, video.probe(output))))
    assert len(frames_out) == len(frames_in)
    alignments = json.loads((converted / "data/alignments/target/alignments.json").read_text())
    statuses = [entry["status"] for entry in alignments["videos"]["target"]["frames"]]
    assert "missing" in statuses and "detected" in statuses  # the clip crosses from no face to a face
    for status, before, after in zip(statuses, frames_in, frames_out):
        if status == "missing":
            assert psnr(before, after) > 38  # only the encoder's loss
    face_psnr = [psnr(b, a) for s, b, a in zip(statuses, frames_in, frames_out) if s != "missing"]
    assert max(face_psnr) < 36  # every face frame changed more than encoding alone changes it


def test_metrics_count_only_frames_with_a_face(converted):
    metrics = json.loads((converted / "data/metrics/output.json").read_text())
    alignments = json.loads((converted / "data/alignments/target/alignments.json").read_text())
    with_face = sum(1 for entry in alignments["videos"]["target"]["frames"] if entry["faces"])
    assert metrics["frames_with_face"] == with_face < metrics["frames"]
    assert metrics["frames_swapped"] == with_face and metrics["coverage"] == 1.0
    assert metrics["swaps_on_frames_without_face"] == 0
    assert metrics["audio"] is True
    assert 0 < metrics["reconstruction_ssim_target"] <= 1 and metrics["held_out_faces_target"] >= 1
    assert metrics["jitter_placement_px"] <= metrics["jitter_placement_raw_px"]
    steadiness = json.loads((converted / "data/metrics/alignments-target.json").read_text())
    assert metrics["jitter_landmarks_px"] == steadiness["jitter_landmarks_px"]  # one measure, one meaning
    assert 1 <= metrics["identity_faces_measured"] <= with_face
    assert metrics["identity_distance_to_source"] > 0 and metrics["identity_distance_to_target"] > 0
    assert 0 <= metrics["identity_share_nearer_source"] <= 1
    assert 0 <= metrics["identity_verified_source"] <= 1
    assert metrics["fidelity_frames_measured"] == with_face
    assert metrics["expression_landmark_error"] > 0 and 0 < metrics["sharpness_ratio"]
    assert metrics["eye_openness_error"] >= 0 and metrics["mouth_openness_error"] >= 0
    assert metrics["colour_flicker"] > 0 and metrics["colour_flicker_target"] > 0


def test_the_real_output_blurred_scores_worse_on_sharpness(converted, monkeypatch):
    from faceswap.convert.fidelity import Fidelity
    from faceswap.convert.placement import load_target_track

    monkeypatch.chdir(converted)
    track = load_target_track(0)
    target, output = converted / "data/raw/target/target.mp4", converted / "data/output/swapped.mp4"
    pairs = zip(video.decode(target, video.probe(target)), video.decode(output, video.probe(output)))
    real, blurry = Fidelity(), Fidelity()
    for index, (before, after) in enumerate(pairs):
        if track.faces[index] is not None:
            points = track.landmarks[index]
            real.add(index, track.shots[index], before, after, points)
            blurry.add(index, track.shots[index], before, blur_face(after, points), points)
    assert blurry.summary()["sharpness_ratio"] < 0.8 * real.summary()["sharpness_ratio"]


def test_the_held_out_faces_are_rebuilt_batch_by_batch_every_one_measured(converted, monkeypatch):
    """A feature film holds out 5,000 faces a side: rebuilt in one batch they ran the machine out of memory."""
    import keras

    from faceswap.convert import evaluation
    from faceswap.core import paths

    monkeypatch.chdir(converted)
    monkeypatch.setattr(evaluation, "held_out_keys", set)  # every face held out, as many as a film's share
    autoencoder = keras.saving.load_model(paths.MODEL_FILE)
    whole = evaluation.reconstruction_ssim(autoencoder)
    monkeypatch.setattr(evaluation, "PREDICT_BATCH", 3)
    batched = evaluation.reconstruction_ssim(autoencoder)
    faces = {side: len(list(iter_index(paths.stage_output("alignments", side)))) for side in ("target", "source")}
    assert faces["target"] > 3 * 3
    for side, count in faces.items():
        assert whole[f"held_out_faces_{side}"] == batched[f"held_out_faces_{side}"] == count
        assert whole[f"reconstruction_ssim_{side}"] == pytest.approx(batched[f"reconstruction_ssim_{side}"], abs=2e-4)


def test_an_odd_sized_turned_target_comes_out_as_it_displays(converted):
    target, output = converted / "data/raw/target/target.mp4", converted / "data/output/swapped.mp4"
    assert ", 539x959" in video_stream(target) and "rotation" in video_stream(target)  # stored on its side
    result = video.probe(output)
    assert (result.width, result.height) == (959, 539) and "yuv444p" in video_stream(output)
    assert result.frame_count == video.probe(target).frame_count
    first_in, first_out = outside_the_label([next(video.decode(path, video.probe(path))) for path in (target, output)])
    assert psnr(first_in, first_out) > 38  # upright, as the target displays: the first frame has no face
    assert ("output: the target is 959x539, a side odd: data/output/swapped.mp4 is encoded yuv444p (4:4:4), which "
            "fewer players play") in (converted / "output-stage.log").read_text()


def test_side_by_side_and_stills(converted):
    pair = video.probe(converted / "data/output/side_by_side.mp4")
    single = video.probe(converted / "data/output/swapped.mp4")
    assert (pair.width, pair.height) == (2 * single.width, single.height // 2 * 2)  # even sides: 4:2:0
    assert "yuv420p" in video_stream(converted / "data/output/side_by_side.mp4")
    assert len(list((converted / "data/output/stills").glob("frame_*.jpg"))) == 2


def test_the_output_says_what_it_is_in_its_metadata_and_in_a_still(converted):
    for name in ("swapped.mp4", "side_by_side.mp4"):
        tags = container_tags(converted / "data/output" / name)
        assert tags["ai_generated"] == "true" and tags["digital_source_type"] == DIGITAL_SOURCE_TYPE
    still = cv2.imread(str(sorted((converted / "data/output/stills").glob("frame_*.jpg"))[0]))
    single = video.probe(converted / "data/output/swapped.mp4")  # the still is the pair at even sides: 539 -> 538
    still = cv2.resize(still, (2 * single.width, single.height), interpolation=cv2.INTER_LINEAR)
    target_half, swapped_half = np.hsplit(still.astype(np.float32), 2)  # the target's half has no label
    label = Label("AI-generated face swap", "bottom-right")
    (left, top, right, bottom), letters = label.layout(single.height, single.width)
    band, under = swapped_half[top:bottom, left:right], target_half[top:bottom, left:right]
    around = cv2.dilate((letters > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0  # clear of JPEG ringing
    assert (band.min(axis=2)[letters > 0.9] > 180).mean() > 0.8  # white letters
    assert np.abs(band[around] - 0.35 * under[around]).mean() < 6  # on the frame darkened to 35%


def test_a_model_trained_against_another_mlflow_store_still_converts(converted):
    """As after ``dvc pull`` of a model trained elsewhere: run.json names a run this store does not have."""
    (converted / "mlflow.db").rename(converted / "elsewhere.db")
    (converted / "data/metrics/output.json").unlink()
    result = run_stage("output", cwd=converted)
    run_id = json.loads((converted / "models/run.json").read_text())["run_id"]
    assert f"MLflow run {run_id} (the model's) is not in sqlite:///mlflow.db" in result.stderr
    assert json.loads((converted / "data/metrics/output.json").read_text())["coverage"] == 1.0
