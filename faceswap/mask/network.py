"""The segmentation network and its loss, in Keras 3 layers and ops only (any backend), like the face model.

A small U-Net: three levels of two 3x3 convolutions, max-pooling down and nearest upsampling back up, the
features of each level joined to the way up so that the mask's edge follows the image's edges (a finger's
outline), one sigmoid channel out: the chance that a pixel is visible face.
"""

import keras
import numpy as np
from keras import layers, ops

FILTERS = (16, 32, 64)  # per level, down the U; the bottom has twice the last


def convolutions(x, filters: int, name: str):
    for i in range(2):
        x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv{i}")(x)
        x = layers.LeakyReLU(0.1, name=f"{name}_act{i}")(x)
    return x


def build_segmenter(size: int) -> keras.Model:
    """Faces (N, size, size, 3) in [0, 1] in, visible-face masks (N, size, size, 1) in [0, 1] out."""
    inputs = keras.Input((size, size, 3), name="face")
    x, skips = inputs, []
    for level, filters in enumerate(FILTERS):
        x = convolutions(x, filters, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(name=f"pool{level}")(x)
    x = convolutions(x, FILTERS[-1] * 2, "bottom")
    for level, filters in reversed(list(enumerate(FILTERS))):
        x = layers.UpSampling2D(name=f"up{level}")(x)
        x = layers.Concatenate(name=f"join{level}")([x, skips[level]])
        x = convolutions(x, filters, f"up{level}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="visible")(x)
    return keras.Model(inputs, outputs, name="segmenter")


def segmentation_loss(target, predicted):
    """Binary cross-entropy plus soft Dice (1 - 2|A∩B| / (|A| + |B|)) per face: cross-entropy learns every
    pixel, Dice keeps a small occluder from being outvoted by the face around it."""
    target = ops.cast(target, predicted.dtype)
    entropy = ops.mean(keras.losses.binary_crossentropy(target, predicted), axis=(1, 2))
    overlap = ops.sum(target * predicted, axis=(1, 2, 3))
    total = ops.sum(target, axis=(1, 2, 3)) + ops.sum(predicted, axis=(1, 2, 3))
    return entropy + 1 - (2 * overlap + 1) / (total + 1)


def predict_visible(model: keras.Model, faces: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The visible-face masks (N, S, S) float32 in [0, 1] of uint8 faces (N, S, S, 3) at the model's size."""
    if not len(faces):
        return np.zeros(faces.shape[:3], np.float32)
    out = [np.asarray(model.predict_on_batch(faces[i:i + batch_size].astype(np.float32) / 255))[..., 0]
           for i in range(0, len(faces), batch_size)]
    return np.concatenate(out).astype(np.float32)
