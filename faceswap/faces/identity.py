"""Who a face is: dlib's 128-d face embedding and the side's person.

Faces of one person lie within about 0.6 of each other in dlib's embedding space (its documented threshold),
so "near the side's person" is a distance to one reference embedding: the mean of the faces in reference images
when some are given, else the dominant identity of the side (the face with most same-person neighbours).
"""

from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

import cv2
import dlib
import numpy as np

from faceswap.core.cli import UserError
from faceswap.faces.geometry import overlap
from faceswap.faces.landmarks import face_recognition_models  # imported there without its pkg_resources warning

DENSITY_SAMPLE = 1000  # the dominant identity is found among at most this many embeddings (pairwise distances)


class FaceEmbedder:
    """dlib's ResNet face descriptor on its 5-point face chip, from the face-recognition-models package."""

    def __init__(self):
        self._shape = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
        self._model = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())

    def embed(self, image: np.ndarray, box: list[float]) -> np.ndarray:
        """The 128-d embedding of the face in ``box`` (x, y, w, h) of a BGR image."""
        x, y, w, h = box
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        shape = self._shape(rgb, dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))))
        return np.array(self._model.compute_face_descriptor(rgb, shape), np.float32)


def reference_embedding(paths: list[str], embedder: FaceEmbedder, detector) -> np.ndarray:
    """The mean embedding of the most confident face in each reference image; a bad image is a UserError."""
    embeddings = []
    for name in paths:
        image = cv2.imread(str(Path(name)))
        if image is None:
            raise UserError(f"{name}: not a readable image (filtered.reference_images); fix the path or the file")
        faces = detector.detect(image)
        if not faces:
            raise UserError(f"{name}: no face found in this reference image (filtered.reference_images)")
        embeddings.append(embedder.embed(image, faces[0].box))
    return np.mean(embeddings, axis=0)


def dominant_embedding(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """The mean of the largest group of same-person faces: the face with most neighbours within ``threshold``
    and those neighbours. Robust to other people, as long as the side's person is the one seen most."""
    sample = embeddings[np.linspace(0, len(embeddings) - 1, min(len(embeddings), DENSITY_SAMPLE)).astype(int)]
    # each face's neighbours, 50 faces at a time (50 MiB of differences; all pairs at once took 1 GiB)
    neighbours = np.concatenate([(np.linalg.norm(rows[:, None] - sample[None], axis=2) < threshold).sum(1)
                                 for rows in np.array_split(sample, -(-len(sample) // 50))])
    centre = sample[np.argmax(neighbours)]
    return sample[np.linalg.norm(sample - centre, axis=1) < threshold].mean(0)


def distance(embedding: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(embedding - reference))


def embedding_plan(faces: Iterable[dict], every: int) -> Iterator[int]:
    """For each face (in index order: the faces of a frame together), the position of the face whose embedding
    stands for it.

    A face alone in its frame whose box overlaps the lone face of the previous frame continues that track and
    reuses its embedding, for up to ``every`` faces; any other face is embedded itself. Embedding is by far the
    slowest step of extraction, and a face does not change identity between two frames.
    """
    position, track = 0, {}  # track: video -> (frame, box, embedded position, faces so far)
    for _, frame_faces in groupby(faces, key=lambda face: (face["video"], face["frame"])):
        frame_faces = list(frame_faces)
        single = len(frame_faces) == 1
        for face in frame_faces:
            last = track.get(face["video"])
            if (single and last and last[0] == face["frame"] - 1 and last[3] < every
                    and overlap(last[1], face["box"]) > 0.5):
                yield last[2]
                track[face["video"]] = (face["frame"], face["box"], last[2], last[3] + 1)
            else:
                yield position
                track[face["video"]] = (face["frame"], face["box"], position, 1) if single else None
            position += 1
