"""Cheap checks of a face crop, on the face box at a fixed size so that they do not depend on face size:
sharpness (blurred faces teach a model blur) and a difference hash (near-identical consecutive faces add
training time, not information)."""

import cv2
import numpy as np


def face_region(crop: np.ndarray, box_in_crop: list[float], size: int = 128) -> np.ndarray:
    """The face box of a crop in grey, resized to ``size``."""
    x, y, w, h = (int(round(v)) for v in box_in_crop)
    face = crop[max(0, y):max(0, y + h), max(0, x):max(0, x + w)]
    return cv2.resize(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), (size, size), interpolation=cv2.INTER_AREA)


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurred faces (motion blur, out of focus)."""
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


def difference_hash(face: np.ndarray) -> int:
    """A 64-bit difference hash: near-identical faces differ in a few bits."""
    small = cv2.resize(face, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


def hash_bits_apart(a: int, b: int) -> int:
    return (a ^ b).bit_count()
