"""Training augmentation in the faceswap manner: the network sees a warped face and must draw the true one.

A random similarity (rotation, zoom, shift) and a horizontal flip apply to both the input and the target,
so the decoders learn every pose; a smooth random warp applies to the input only, so the shared encoder
must learn the face, not copy pixels. Colour jitter changes the input's brightness and contrast per channel.
All randomness comes from the generator passed in, so a seed repeats a run.
"""

import cv2
import numpy as np


def random_similarity(rng: np.random.Generator, size: int, rotation: float = 10, zoom: float = 0.05,
                      shift: float = 0.05) -> np.ndarray:
    angle = rng.uniform(-rotation, rotation)
    scale = rng.uniform(1 - zoom, 1 + zoom)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-shift, shift, 2) * size
    return matrix


def random_warp_maps(rng: np.random.Generator, size: int, grid: int = 5, strength: float = 0.05):
    """Pixel maps for cv2.remap: a coarse grid of random offsets, smoothly interpolated to full size."""
    offsets = rng.normal(0, strength * size, (2, grid, grid)).astype(np.float32)
    offsets[:, [0, -1], :] = 0
    offsets[:, :, [0, -1]] = 0
    dx, dy = (cv2.resize(o, (size, size), interpolation=cv2.INTER_CUBIC) for o in offsets)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs + dx, ys + dy


def augment_batch(rng: np.random.Generator, faces: np.ndarray, maps: np.ndarray):
    """From uint8 faces (N, S, S, 3) and their uint8 maps (N, S, S, M: mask, eye and mouth regions) make
    float32 in [0, 1]: the network's inputs (N, S, S, 3) and its targets, the face and its maps moved
    together (N, S, S, 3 + M)."""
    size = faces.shape[1]
    inputs, targets = [], []
    for face, face_maps in zip(faces, maps):
        matrix = random_similarity(rng, size)
        face = cv2.warpAffine(face, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        face_maps = cv2.warpAffine(face_maps, matrix, (size, size), borderMode=cv2.BORDER_CONSTANT)
        if rng.random() < 0.5:
            face, face_maps = face[:, ::-1], face_maps[:, ::-1]
        warped = cv2.remap(face, *random_warp_maps(rng, size), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        contrast, brightness = rng.uniform(0.9, 1.1, 3), rng.uniform(-10, 10, 3)  # per channel: colour too
        inputs.append(warped.astype(np.float32) * contrast + brightness)
        targets.append(np.concatenate([face, face_maps.reshape(size, size, -1)], axis=-1))
    return (np.clip(np.stack(inputs) / 255.0, 0, 1).astype(np.float32),
            np.stack(targets).astype(np.float32) / 255.0)
