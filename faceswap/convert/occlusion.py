"""The occlusion-aware mask at conversion: the mask stage's segmenter says which pixels of each aligned target
face are visible face, and the output's mask keeps only those (``blend.occluded_mask``), so a hand in front of
the face stays in front.
"""

import cv2
import keras
import numpy as np

from faceswap.core import paths
from faceswap.core.atomic import read_json
from faceswap.core.cli import UserError
from faceswap.mask.network import predict_visible


class Occlusion:
    """The segmenter of ``models/mask``, predicting visible-face masks of aligned faces of any size."""

    def __init__(self, segmenter: keras.Model):
        self.segmenter = segmenter
        self.size = segmenter.input_shape[1]

    def visible(self, faces: np.ndarray) -> np.ndarray:
        """Visible-face masks (N, S, S) float32 in [0, 1] of uint8 aligned faces (N, S, S, 3)."""
        size = faces.shape[1]
        if size != self.size:
            faces = np.stack([cv2.resize(face, (self.size, self.size), interpolation=cv2.INTER_AREA)
                              for face in faces])
        masks = predict_visible(self.segmenter, faces)
        if size != self.size:
            masks = np.stack([cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR) for mask in masks])
        return masks


def load_occlusion(enabled: bool) -> Occlusion | None:
    """The mask stage's segmenter when ``mask.enabled`` (None when not); a missing or disabled one is a
    UserError, since the output would silently paste the face over what covers it."""
    if not enabled:
        return None
    settings_file = paths.MASK_MODEL / paths.MASK_SETTINGS_FILE
    model_file = paths.MASK_MODEL / paths.SEGMENTER_FILE
    if not settings_file.exists() or not read_json(settings_file).get("enabled") or not model_file.exists():
        raise UserError(f"{paths.MASK_MODEL}: no trained mask while mask.enabled is true; run the mask stage "
                        "(dvc repro) or set mask.enabled: false")
    return Occlusion(keras.saving.load_model(model_file, compile=False))
