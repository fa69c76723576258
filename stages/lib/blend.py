"""Putting a generated face back into its frame: mask, colour match, warp back, alpha blend."""

import cv2
import numpy as np

from .landmarks import apply, hull_mask


def face_mask(landmarks_68: np.ndarray, transform: np.ndarray, size: int, feather: int) -> np.ndarray:
    """The landmark hull in aligned coordinates, shrunk and softened by ``feather`` px, as float in [0, 1]."""
    mask = hull_mask(apply(transform, landmarks_68), size)
    if feather > 0:
        kernel = np.ones((feather, feather), np.uint8)
        mask = cv2.erode(mask, kernel)
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
    return mask.astype(np.float32) / 255.0


def match_colour(face: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift the generated face's mean colour inside the mask to the original face's, per channel."""
    weights = mask[..., None]
    total = max(float(weights.sum()), 1e-6)
    shift = ((reference - face) * weights).sum((0, 1)) / total
    return np.clip(face + shift, 0, 255)


def paste(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Warp an aligned face and its mask back into the frame with the inverse of ``transform``; blend."""
    height, width = frame.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    placed = cv2.warpAffine(face.astype(np.float32), transform, (width, height), flags=flags,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, transform, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT)[..., None]
    blended = frame.astype(np.float32) * (1 - alpha) + placed * alpha
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
