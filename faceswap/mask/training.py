"""Training the mask network: augmented batches that mix labelled and hull-only faces, and the steps.

Augmentation moves the face and its target together by faceswap's random similarity with a horizontal flip
(``faceswap.train.augment.similarity_transforms``), and jitters the face's brightness and contrast; there is
no warp, which would move the face's pixels away from its target's.
"""

import keras
import numpy as np
from keras import ops

from faceswap.mask.examples import MaskExamples
from faceswap.mask.network import segmentation_loss
from faceswap.train.augment import CHANNELS_LAST, similarity_transforms


def augment_pairs(rng: np.random.Generator, faces: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 faces (N, S, S, 3) and targets (N, S, S) in; float32 inputs and targets (N, S, S, 1) in [0, 1] out,
    moved alike."""
    count, size = faces.shape[:2]
    transforms = similarity_transforms(rng, count, size)
    contrast = rng.uniform(0.8, 1.2, (count, 1, 1, 3)).astype(np.float32)
    brightness = rng.uniform(-0.08, 0.08, (count, 1, 1, 3)).astype(np.float32)
    moved_faces = ops.image.affine_transform(ops.cast(faces, "float32") / 255, transforms, "bilinear", "nearest",
                                             data_format=CHANNELS_LAST)
    moved_targets = ops.image.affine_transform(ops.cast(targets[..., None], "float32") / 255, transforms,
                                               "bilinear", "constant", 0, data_format=CHANNELS_LAST)
    inputs = ops.clip(moved_faces * contrast + brightness, 0, 1)
    return ops.convert_to_numpy(inputs).astype(np.float32), ops.convert_to_numpy(moved_targets).astype(np.float32)


def batch_indices(rng: np.random.Generator, labelled: np.ndarray, others: np.ndarray, size: int,
                  labelled_share: float) -> np.ndarray:
    """A batch of example indices, ``labelled_share`` of them labelled faces (when there are any)."""
    from_labelled = int(round(size * labelled_share)) if len(labelled) else 0
    if not len(others):
        from_labelled = size
    return np.concatenate([rng.choice(labelled, from_labelled), rng.choice(others, size - from_labelled)])


def train_segmenter(model: keras.Model, examples: MaskExamples, training: np.ndarray, p, progress) -> float:
    """Train ``model`` for ``p.steps`` on the examples at the ``training`` indices; returns the mean loss of the
    last tenth of the steps. ``progress`` wraps the range of steps (a progress bar)."""
    model.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss=segmentation_loss)
    rng = np.random.default_rng(p.seed)
    labelled = training[examples.labelled[training]]
    others = training[~examples.labelled[training]]
    losses = []
    for _ in progress(range(p.steps)):
        chosen = batch_indices(rng, labelled, others, p.batch_size, p.labelled_share)
        inputs, targets = augment_pairs(rng, examples.faces[chosen], examples.targets[chosen])
        losses.append(float(model.train_on_batch(inputs, targets)))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"the loss became {losses[-1]}")
    return float(np.mean(losses[-max(1, len(losses) // 10):]))

