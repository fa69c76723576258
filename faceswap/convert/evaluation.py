"""What a person and a metrics file judge a swap by: side-by-side views and the reconstruction of faces the
model never saw in training."""

from itertools import islice

import cv2
import numpy as np

from faceswap.core import paths
from faceswap.core.paths import SIDES
from faceswap.faces.expression import face_features
from faceswap.media.imageset import decode_image, iter_index, iter_samples
from faceswap.media.index_columns import read_columns
from faceswap.train.holdout import held_out_keys
from faceswap.train.networks import FaceSwap
from faceswap.train.regions import aligned_landmarks

MAX_SIDE_BY_SIDE_WIDTH = 1920
IDENTITY_SAMPLES = 48  # swapped frames whose face is embedded: dlib's descriptor takes tens of ms a face
SAME_PERSON = 0.6  # dlib's embedding distance under which two faces are the same person
PREDICT_BATCH = 64  # held-out faces rebuilt at once


def side_by_side(original: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """Target | swapped, scaled down to at most 1920 px wide, with even sides for the video encoder."""
    pair = np.hstack([original, swapped])
    scale = min(1.0, MAX_SIDE_BY_SIDE_WIDTH / pair.shape[1])
    width, height = int(pair.shape[1] * scale) // 2 * 2, int(pair.shape[0] * scale) // 2 * 2
    if (width, height) != (pair.shape[1], pair.shape[0]):
        pair = cv2.resize(pair, (width, height), interpolation=cv2.INTER_AREA)
    return pair


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) of two uint8 images,
    averaged over channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    a, b = a.astype(np.float64), b.astype(np.float64)

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    covariance = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


def reconstruction_ssim(autoencoder) -> dict:
    """SSIM of each side's held-out aligned faces against their reconstruction by that side's own decoder, read
    and rebuilt a batch at a time: a feature film holds out 5,000 faces a side, which in one batch ran the
    machine out of memory."""
    size = autoencoder.input_shape[0][1]
    scores = {}
    for side in SIDES:
        folder = paths.stage_output("alignments", side)
        held_out = held_out_keys(read_columns(folder, ("key",))["key"] or [])
        samples = iter_samples(folder, (record for record in iter_index(folder) if record["key"] in held_out))
        swap, similarities = FaceSwap(autoencoder, side, side), []
        while batch := [(record, decode_image(files["jpg"])) for record, files in islice(samples, PREDICT_BATCH)]:
            faces = np.stack([cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA) for _, face in batch])
            told = face_features([aligned_landmarks({**record, "aligned_size": len(face)}, size)
                                  for record, face in batch], size)
            rebuilt = np.clip(swap.predict(faces.astype(np.float32) / 255.0, told) * 255.0 + 0.5, 0, 255)
            similarities += [ssim(a, b) for a, b in zip(faces, rebuilt.astype(np.uint8))]
        if similarities:
            scores[f"reconstruction_ssim_{side}"] = round(float(np.mean(similarities)), 4)
            scores[f"held_out_faces_{side}"] = len(similarities)
    return scores


def identity_frames(with_face: list[int]) -> set[int]:
    """Up to IDENTITY_SAMPLES frames spread evenly over those with a face."""
    if not with_face:
        return set()
    return {with_face[int(i)] for i in np.linspace(0, len(with_face) - 1, min(IDENTITY_SAMPLES, len(with_face)))}


def identity_shift(embeddings: list[np.ndarray], source: np.ndarray | None, target: np.ndarray | None) -> dict:
    """How far the swapped faces are from each side's person (dlib embedding distance; under 0.6 is
    the same person by dlib's threshold), the share of swapped faces nearer the source than the target, and the
    share verified as the source (within dlib's same-person distance of it)."""
    if not embeddings or source is None or target is None:
        return {}
    faces = np.stack(embeddings)
    to_source = np.linalg.norm(faces - source, axis=1)
    to_target = np.linalg.norm(faces - target, axis=1)
    return {"identity_distance_to_source": round(float(to_source.mean()), 4),
            "identity_distance_to_target": round(float(to_target.mean()), 4),
            "identity_share_nearer_source": round(float((to_source < to_target).mean()), 4),
            "identity_verified_source": round(float((to_source < SAME_PERSON).mean()), 4),
            "identity_faces_measured": len(embeddings)}
