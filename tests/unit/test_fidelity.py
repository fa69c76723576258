"""The output's fidelity metrics tell a good swap from a bad one: on frames of the sample target, the best a
64 px model could give (the target's own face through the aligned 64 px face and back, as conversion pastes it)
against the same blurred, and against one expression frozen over every frame."""

import cv2
import numpy as np
import pytest

from faceswap.convert.blend import face_mask, paste
from faceswap.convert.fidelity import Fidelity
from faceswap.faces.detect import FaceDetector
from faceswap.faces.geometry import apply
from faceswap.faces.landmarks import LandmarkModel, alignment_transform
from faceswap.media import video
from tests.helpers import blur_face

SIZE = 64


@pytest.fixture(scope="module")
def target_faces(media):
    """Every 12th frame of the sample target, its face's 68 landmarks and transform to the aligned 64 px face."""
    path = media / "pair/target.mp4"
    detector, landmarks = FaceDetector(score_threshold=0.6), LandmarkModel()
    frames = [frame for index, frame in enumerate(video.decode(path, video.probe(path))) if index % 12 == 0]
    points = [landmarks.predict(frame, detector.detect(frame)[0].box) for frame in frames]
    return frames, points, [alignment_transform(p, SIZE, 0.1) for p in points]


def through_64_px(frame: np.ndarray, points: np.ndarray, transform: np.ndarray, face: np.ndarray | None = None,
                  erode: int = 3, feather: int = 2):
    """``face`` (default: the frame's own aligned face) pasted on the frame as conversion pastes a swapped face."""
    if face is None:
        face = cv2.warpAffine(frame, transform, (SIZE, SIZE), flags=cv2.INTER_AREA)
    mask = face_mask(apply(transform, points), SIZE, 0.2, erode, feather)
    return paste(frame, face.astype(np.float32), mask, transform)


def scores(frames, points, outputs) -> dict:
    fidelity = Fidelity()
    for index, (frame, landmarks, output) in enumerate(zip(frames, points, outputs, strict=True)):
        fidelity.add(index, 0, frame, output, landmarks)
    return fidelity.summary()


def test_a_blurred_or_frozen_face_scores_worse_than_a_faithful_one(target_faces):
    frames, points, transforms = target_faces
    faithful = [through_64_px(f, p, t) for f, p, t in zip(frames, points, transforms, strict=True)]
    first_face = cv2.warpAffine(frames[0], transforms[0], (SIZE, SIZE), flags=cv2.INTER_AREA)
    frozen = [through_64_px(f, p, t, first_face) for f, p, t in zip(frames, points, transforms, strict=True)]
    good = scores(frames, points, faithful)
    blur = scores(frames, points, [blur_face(f, p) for f, p in zip(faithful, points, strict=True)])
    still = scores(frames, points, frozen)

    assert good["fidelity_frames_measured"] == len(frames) == 40
    assert 0 < good["expression_landmark_error"] < 0.05 and good["eye_openness_correlation"] > 0.8
    assert blur["sharpness_ratio"] < 0.8 * good["sharpness_ratio"]
    assert blur["expression_landmark_error"] > good["expression_landmark_error"]
    assert still["expression_landmark_error"] > 1.5 * good["expression_landmark_error"]
    assert still["eye_openness_error"] > 1.5 * good["eye_openness_error"]
    assert still["eye_openness_correlation"] < good["eye_openness_correlation"] - 0.3


def test_a_halo_past_the_face_outline_raises_edge_spill(target_faces):
    """A generated face with light surroundings (as the generator paints the source's background), pasted with
    a mask softened across the outline, lights up the target's hair beside the face: ``edge_spill`` says so."""
    frames, points, transforms = target_faces
    halo, kept = [], []
    for frame, landmarks, transform in zip(frames, points, transforms, strict=True):
        face = cv2.warpAffine(frame, transform, (SIZE, SIZE), flags=cv2.INTER_AREA)
        outside = face_mask(apply(transform, landmarks), SIZE, 0.2, 0, 0) == 0
        face[outside] = 230
        halo.append(through_64_px(frame, landmarks, transform, face, erode=0, feather=3))
        kept.append(through_64_px(frame, landmarks, transform, face))
    spill_halo = scores(frames, points, halo)["edge_spill"]
    spill_kept = scores(frames, points, kept)["edge_spill"]
    assert spill_halo > 3 * spill_kept and spill_kept < 5
