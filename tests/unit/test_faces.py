"""Detection, landmarks and alignment on real photographs with the real models."""

import cv2
import numpy as np
import pytest

from faceswap.faces.detect import FaceDetector, is_plausible
from faceswap.faces.geometry import apply, crop_square, similarity
from faceswap.faces.landmarks import LandmarkModel, alignment_transform, canonical_points, five_points


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(score_threshold=0.6)


def test_two_people_are_two_faces(detector, media):
    faces = detector.detect(cv2.imread(str(media / "images/two_people.jpg")))
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    assert all(len(face.landmarks_5) == 5 for face in faces)


def test_no_face_in_animation(detector, media):
    from faceswap.media import video
    path = media / "fixtures/no_face.mp4"
    assert all(not detector.detect(frame) for frame in video.decode(path, video.probe(path), "2/1"))


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, (10, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity(points, points @ rotation.T + shift)
    np.testing.assert_allclose(matrix[:, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "luispedro.jpg", "astronaut.png"])
def test_landmarks_align_to_the_canonical_pose(detector, media, name):
    image = cv2.imread(str(media / "images" / name))
    face = detector.detect(image)[0]
    landmarks = LandmarkModel().predict(image, face.box)
    assert landmarks.shape == (68, 2)
    # dlib's eyes, nose and mouth agree with YuNet's five points within a tenth of the face
    assert np.abs(five_points(landmarks) - np.array(face.landmarks_5)).max() < 0.1 * face.box[2]
    transform = alignment_transform(landmarks, 64, 0.1)
    errors = np.linalg.norm(apply(transform, five_points(landmarks)) - canonical_points(64, 0.1), axis=1)
    assert errors.max() < 0.1 * 64 and errors.mean() < 0.04 * 64  # a turned head cannot fit exactly


def test_crop_square_places_the_face(media, detector):
    image = cv2.imread(str(media / "images/grace_hopper.jpg"))
    face = detector.detect(image)[0]
    crop, (x0, y0, side) = crop_square(image, face.box, margin=0.5, max_size=128)
    assert crop.shape == (128, 128, 3)
    assert side == pytest.approx(max(face.box[2:]) * 2, rel=1e-3)
    # the face centre is the crop centre
    assert x0 + side / 2 == pytest.approx(face.box[0] + face.box[2] / 2, abs=0.1)


def test_a_face_too_small_for_yunet_is_found_by_the_upscaled_retry(media):
    image = cv2.imread(str(media / "images/grace_hopper.jpg"))
    full = FaceDetector(0.6).detect(image)[0]
    small = cv2.resize(image, None, fx=0.06, fy=0.06, interpolation=cv2.INTER_AREA)
    detector = FaceDetector(0.6, retry_upscale=2.0, retry_angles=(-30, 30))
    assert detector.detect(small) == []
    (face,) = detector.detect_with_retries(small)
    assert face.found_by == "upscaled_2x"
    # back in the small frame's pixels: where the face is at full size, scaled down
    np.testing.assert_allclose(np.array(face.box) / 0.06, full.box, atol=0.15 * full.box[2])
    np.testing.assert_allclose(np.array(face.landmarks_5) / 0.06, full.landmarks_5, atol=0.15 * full.box[2])


def test_a_tilted_face_is_found_by_a_rotated_retry_and_mapped_back(media):
    image = cv2.imread(str(media / "images/grace_hopper.jpg"))
    full = FaceDetector(0.6).detect(image)[0]
    height, width = image.shape[:2]
    tilt = cv2.getRotationMatrix2D((width / 2, height / 2), 70, 1.0)
    tilted = cv2.warpAffine(image, tilt, (width, height))
    detector = FaceDetector(0.6, retry_upscale=0.0, retry_angles=(-30, 30))
    assert detector.detect(tilted) == []
    (face,) = detector.detect_with_retries(tilted)
    assert face.found_by == "rotated_-30"
    centre = np.array(face.box[:2]) + np.array(face.box[2:]) / 2
    expected = apply(tilt, np.array([np.array(full.box[:2]) + np.array(full.box[2:]) / 2]))[0]
    assert np.linalg.norm(centre - expected) < 0.15 * full.box[2]


def test_a_frame_with_a_face_is_not_retried(media, detector):
    image = cv2.imread(str(media / "images/luispedro.jpg"))
    faces = FaceDetector(0.6, retry_upscale=2.0, retry_angles=(15,)).detect_with_retries(image)
    assert [face.found_by for face in faces] == ["plain"]


def test_uninitialised_yunet_rows_are_not_faces():
    """Rows as YuNet returned them once on a 31x36 frame: a box of 1e30 and zero size with score 1."""
    garbage = np.array([7.85e30, 1.05e31, 0, 0, *[6.9e30, 1.3e31] * 5, 1.0], np.float32)
    face = np.array([10, 12, 20, 24, *[20, 24] * 5, 0.93], np.float32)
    assert not is_plausible(garbage, 31, 36)
    assert not is_plausible(np.where(np.arange(15) == 0, np.nan, face), 31, 36)
    assert is_plausible(face, 31, 36)


def test_half_size_detection_finds_the_face_in_frame_pixels_and_falls_back_to_full_size(media):
    image = cv2.imread(str(media / "images/grace_hopper.jpg"))
    full = FaceDetector(0.6).detect(image)[0]
    (half,) = FaceDetector(0.6, detect_scale=0.5).detect(image)
    assert half.found_by == "plain"
    np.testing.assert_allclose(half.box, full.box, atol=0.1 * full.box[2])  # in the frame's pixels, not half
    np.testing.assert_allclose(half.landmarks_5, full.landmarks_5, atol=0.1 * full.box[2])
    small = cv2.resize(image, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA)  # a face too small at half
    detector = FaceDetector(0.6, retry_upscale=2.0, detect_scale=0.5)
    assert detector.detect(small) == []
    (face,) = detector.detect_with_retries(small)
    assert face.found_by == "full_size"
    assert FaceDetector(0.6).detect(small)[0].box == face.box
