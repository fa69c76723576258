"""Who a face is: dlib's 128-d face embedding and the side's person.

Faces of one person lie within about 0.6 of each other in dlib's embedding space (its documented threshold),
so "near the side's person" is a distance to one reference embedding: the mean of the faces in reference images
when some are given, else the dominant identity of the side (the face with most same-person neighbours).
"""

from pathlib import Path

import cv2
import dlib
import numpy as np

from faceswap.core.cli import UserError
from faceswap.faces.landmarks import face_recognition_models  # imported there without its pkg_resources warning

PERSON_FILE = "person.json"  # in data/filtered/<side>/: the side's person, as the embedding faces are compared to
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
    distances = np.linalg.norm(sample[:, None] - sample[None], axis=2)
    centre = sample[np.argmax((distances < threshold).sum(1))]
    return sample[np.linalg.norm(sample - centre, axis=1) < threshold].mean(0)


def distance(embedding: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(embedding - reference))
