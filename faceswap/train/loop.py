"""The training loop: both sides in every step, losses and throughput per stretch of steps, previews drawn."""

import hashlib
import math
import time
from pathlib import Path

import cv2
import numpy as np

from faceswap.faces.expression import face_features
from faceswap.train.networks import FaceSwap


def faces_fingerprint(folders: list[Path]) -> str:
    """A digest of every file in the aligned-face folders. It is part of a training attempt's identity, so
    that a checkpoint trained on other faces is not resumed as if the new ones had been seen: a model in
    dvc.lock is then always trained from scratch on the faces it lists."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(path for path in Path(folder).rglob("*") if path.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode())
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


PREVIEW_TILE = 128  # px: the smallest tile in which an eye or a mouth can be judged in the MLflow UI


def preview_grid(autoencoder, target: tuple[np.ndarray, np.ndarray], source: tuple[np.ndarray, np.ndarray]):
    """An RGB uint8 grid of each side's ``(faces, landmarks)``: rows of target faces (original, as target, as
    source) then of source faces (original, as source, as target). The middle column shows learning, the last
    one the swap. Faces smaller than PREVIEW_TILE are enlarged to it (bicubic). The models are called directly:
    a few faces, and no new predict function traced for each preview."""
    rows = []
    for side, other, (faces, landmarks) in (("target", "source", target), ("source", "target", source)):
        x, told = faces.astype(np.float32) / 255.0, face_features(landmarks, faces.shape[1])
        columns = [x, *(FaceSwap(autoencoder, to_side, side)(x, told) for to_side in (side, other))]
        rows += [np.hstack([c[i] for c in columns]) for i in range(len(x))]
    grid = (np.clip(np.vstack(rows), 0, 1) * 255).astype(np.uint8)
    scale = math.ceil(PREVIEW_TILE / target[0].shape[1])
    if scale > 1:
        grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(grid, cv2.COLOR_BGR2RGB)


def train(autoencoder, feeder, first_step: int, p, on_stretch) -> None:
    """Train from step ``first_step`` to ``p.steps`` on the feeder's batches, in stretches that end on every
    multiple of ``p.log_every`` and at the last step; ``on_stretch(step, count, metrics)`` follows each
    stretch of ``count`` steps ending at ``step``, with its mean losses.

    One ``train_on_batch`` a step: the batches come straight from the feeder's queue, where ``fit`` over a
    generator ran them through a ``tf.data`` pipeline whose Python call shares TensorFlow's few threads with
    the step (1.2-1.5x slower a step on 2 cores, BENCHMARKS.md).

    Raises FloatingPointError when a loss is not finite, before anything is logged or saved of that stretch.
    """
    batches = feeder.batches()
    step = first_step
    while step < p.steps:
        count = min(p.log_every - step % p.log_every, p.steps - step)
        busy, started = feeder.busy_seconds, time.perf_counter()
        totals = dict.fromkeys(("target", "source"), 0.0)
        for _ in range(count):
            logs = autoencoder.train_on_batch(*next(batches), return_dict=True)
            for side in totals:
                totals[side] += float(logs[f"{side}_out_loss"])
        seconds = time.perf_counter() - started
        step += count
        losses = {f"loss_{side}": total / count for side, total in totals.items()}
        if not all(math.isfinite(v) for v in losses.values()):
            raise FloatingPointError(f"loss became {losses} between steps {step - count + 1} and {step}")
        on_stretch(step, count, {**losses, "examples_per_second": 2 * p.batch_size * count / seconds,
                          "input_load": (feeder.busy_seconds - busy) / seconds})
