"""What a person and a metrics file judge a swap by: side-by-side views and the reconstruction of faces the
model never saw in training."""

from pathlib import Path

import cv2
import numpy as np

from .holdout import held_out_keys
from .imageset import decode_image, iter_samples, read_index
from .networks import SIDES, swap_model

MAX_SIDE_BY_SIDE_WIDTH = 1920


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


def reconstruction_ssim(autoencoder, alignments: Path = Path("data/alignments")) -> dict:
    """SSIM of each side's held-out aligned faces against their reconstruction by that side's own decoder."""
    size = autoencoder.input_shape[0][1]
    scores = {}
    for side in SIDES:
        records = read_index(alignments / side)
        held_out = held_out_keys([record["key"] for record in records])
        faces = [cv2.resize(decode_image(files["jpg"]), (size, size), interpolation=cv2.INTER_AREA)
                 for _, files in iter_samples(alignments / side, [r for r in records if r["key"] in held_out])]
        if not faces:
            continue
        faces = np.stack(faces)
        rebuilt = swap_model(autoencoder, side).predict(faces.astype(np.float32) / 255.0, verbose=0)
        rebuilt = np.clip(rebuilt * 255.0 + 0.5, 0, 255).astype(np.uint8)
        scores[f"reconstruction_ssim_{side}"] = round(float(np.mean([ssim(a, b) for a, b in zip(faces, rebuilt)])), 4)
        scores[f"held_out_faces_{side}"] = len(faces)
    return scores
