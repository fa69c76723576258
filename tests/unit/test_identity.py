"""Identity: dlib embeddings pick the side's person among several, from reference images or the dominant face."""

import cv2
import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.faces.detect import FaceDetector
from faceswap.faces.identity import FaceEmbedder, distance, dominant_embedding, embedding_plan, reference_embedding


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(score_threshold=0.6)


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


def left_to_right(faces):
    return sorted(faces, key=lambda face: face.box[0])


@pytest.mark.parametrize("wanted", [0, 1])
def test_two_people_the_reference_person_is_nearest(media, tmp_path, detector, embedder, wanted):
    """two_people.jpg (detection and identity only): a reference cut from one half picks that person."""
    image = cv2.imread(str(media / "images/two_people.jpg"))
    faces = left_to_right(detector.detect(image))
    x, y, w, h = (int(v) for v in faces[wanted].box)
    reference = tmp_path / "reference.png"
    cv2.imwrite(str(reference), image[max(0, y - h):y + 2 * h, max(0, x - w // 2):x + w + w // 2])
    person = reference_embedding([str(reference)], embedder, detector)
    distances = [distance(embedder.embed(image, face.box), person) for face in faces]
    assert distances[wanted] < 0.3 < 0.6 < distances[1 - wanted]


def test_a_frame_with_two_people_side_by_side(media, detector, embedder):
    """Grace Hopper and Luis Pedro in one frame; Grace Hopper's own photo as reference picks her side only."""
    hopper = cv2.imread(str(media / "images/grace_hopper.jpg"))
    other = cv2.imread(str(media / "images/luispedro.jpg"))
    other = cv2.resize(other, (round(other.shape[1] * hopper.shape[0] / other.shape[0]), hopper.shape[0]))
    frame = np.hstack([other, hopper])
    faces = left_to_right(detector.detect(frame))
    assert len(faces) == 2
    person = reference_embedding([str(media / "images/grace_hopper.jpg")], embedder, detector)
    near = [distance(embedder.embed(frame, face.box), person) < 0.6 for face in faces]
    assert near == [False, True]


def test_dominant_identity_ignores_a_minority(media, detector, embedder):
    images = {name: cv2.imread(str(media / "images" / name)) for name in ("grace_hopper.jpg", "luispedro.jpg")}
    rng = np.random.default_rng(0)
    embeddings = {}
    for name, image in images.items():
        box = detector.detect(image)[0].box
        # small shifts of the box stand for the same person in neighbouring frames
        embeddings[name] = [embedder.embed(image, list(np.array(box) + rng.uniform(-4, 4, 4))) for _ in range(4)]
    crowd = np.stack(embeddings["grace_hopper.jpg"] + embeddings["luispedro.jpg"][:2])
    person = dominant_embedding(crowd, 0.6)
    assert all(distance(e, person) < 0.3 for e in embeddings["grace_hopper.jpg"])
    assert all(distance(e, person) > 0.6 for e in embeddings["luispedro.jpg"])


def test_a_reference_image_without_a_face_is_a_user_error(tmp_path, detector, embedder):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(UserError, match="blank.png: no face found"):
        reference_embedding([str(blank)], embedder, detector)
    with pytest.raises(UserError, match="missing.png: not a readable image"):
        reference_embedding([str(tmp_path / "missing.png")], embedder, detector)


def face(frame, box, video="v"):
    return {"video": video, "frame": frame, "box": box}


def test_embedding_plan_reuses_along_a_track_only():
    faces = [face(0, [0, 0, 10, 10]), face(1, [1, 0, 10, 10]), face(2, [1, 1, 10, 10]), face(3, [2, 1, 10, 10]),
             face(4, [50, 50, 10, 10]),                          # jumped: a new track
             face(5, [50, 50, 10, 10]), face(5, [0, 0, 10, 10]),  # two faces in a frame: each embedded
             face(6, [50, 50, 10, 10]),                          # after a frame of two: embedded
             face(8, [50, 50, 10, 10])]                          # a frame skipped: embedded
    assert list(embedding_plan(faces, every=3)) == [0, 0, 0, 3, 4, 5, 6, 7, 8]
