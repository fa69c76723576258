"""The training loop: both sides in every step, losses and throughput logged, previews drawn."""

import time
from pathlib import Path

import cv2
import numpy as np

from .imageset import decode_image, iter_samples, read_index
from .augment import augment_batch


def load_faces(folder: Path, size: int):
    """All aligned faces and masks of one side as uint8 arrays (N, size, size, 3) and (N, size, size)."""
    faces, masks = [], []
    for _, files in iter_samples(folder, read_index(folder)):
        face = decode_image(files["jpg"])
        mask = decode_image(files["mask.png"], cv2.IMREAD_GRAYSCALE)
        if face.shape[0] != size:
            face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
        faces.append(face)
        masks.append(mask)
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), np.uint8)
    return np.stack(faces), np.stack(masks)


def preview_grid(autoencoder, target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """An RGB uint8 grid: rows of target faces (original, as target, as source) then of source faces
    (original, as source, as target). The middle column shows learning, the last one the swap."""
    from .networks import swap_model

    to_target, to_source = swap_model(autoencoder, "target"), swap_model(autoencoder, "source")
    rows = []
    for faces, own, other in ((target, to_target, to_source), (source, to_source, to_target)):
        x = faces.astype(np.float32) / 255.0
        columns = [x, own.predict(x, verbose=0), other.predict(x, verbose=0)]
        rows += [np.hstack([c[i] for c in columns]) for i in range(len(x))]
    grid = (np.clip(np.vstack(rows), 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(grid, cv2.COLOR_BGR2RGB)


def train(autoencoder, data: dict, p, on_log, on_preview) -> dict:
    """Train for ``p.steps`` steps on ``data[side] = (faces, masks)``; return the last losses and throughput.

    ``on_log(step, metrics)`` is called every ``p.log_every`` steps and at the end; ``on_preview(step)``
    every ``p.preview_every`` steps and at the end.
    """
    rng = np.random.default_rng(p.seed)
    started = window_start = time.perf_counter()
    window_steps = 0
    metrics = {}
    for step in range(1, p.steps + 1):
        batches = {}
        for side, (faces, masks) in data.items():
            chosen = rng.integers(0, len(faces), p.batch_size)
            batches[side] = augment_batch(rng, faces[chosen], masks[chosen])
        losses = autoencoder.train_on_batch([batches["target"][0], batches["source"][0]],
                                            [batches["target"][1], batches["source"][1]])
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(f"loss became {losses} at step {step}")
        window_steps += 1
        if step % p.log_every == 0 or step == p.steps:
            now = time.perf_counter()
            metrics = {"loss_target": float(losses[1]), "loss_source": float(losses[2]),
                       "examples_per_second": 2 * p.batch_size * window_steps / (now - window_start)}
            on_log(step, metrics)
            window_start, window_steps = now, 0
        if step % p.preview_every == 0 or step == p.steps:
            on_preview(step)
    return {**metrics, "steps": p.steps, "seconds": round(time.perf_counter() - started, 1)}
