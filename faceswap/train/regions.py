"""Eye and mouth regions of an aligned face, drawn from its 68 landmarks, so that the loss can weight them:
a swap is judged by the eyes and the mouth first."""

import cv2
import numpy as np

EYES = (range(36, 42), range(42, 48))  # dlib's 68-point layout
MOUTH = (range(48, 60),)


def aligned_landmarks(record: dict, size: int) -> np.ndarray:
    """The 68 landmarks of an alignments index record, in pixels of an aligned face of side ``size``.

    The record's ``transform`` takes frame pixels to the aligned face of side ``aligned_size``."""
    matrix = np.asarray(record["transform"], np.float64)
    points = np.asarray(record["landmarks_68"], np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return points * size / record["aligned_size"]


def region_mask(points: np.ndarray, groups, size: int, grow: float) -> np.ndarray:
    """255 inside the convex hull of each group of points, grown by ``grow`` of the face side."""
    mask = np.zeros((size, size), np.uint8)
    for group in groups:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points[list(group)]).astype(np.int32)), 255)
    radius = max(1, round(grow * size))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))


def eye_and_mouth_masks(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    return region_mask(points, EYES, size, 0.06), region_mask(points, MOUTH, size, 0.03)
