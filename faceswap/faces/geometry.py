"""Boxes and 2x3 similarity transforms: how a face's pixels in the frame, in its crop and in the aligned face
map onto one another. Boxes are ``(x, y, w, h)``; a transform ``m`` maps ``p`` to ``m[:, :2] @ p + m[:, 2]``."""

import cv2
import numpy as np


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` mapped by a 2x3 matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 matrix applying ``inner`` then ``outer``."""
    return np.vstack([outer, [0, 0, 1]])[:2] @ np.vstack([inner, [0, 0, 1]])


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation, uniform scale and shift mapping ``src`` points onto ``dst`` (Umeyama 1991)."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / src_c.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def overlap(a: list[float], b: list[float]) -> float:
    """Intersection over union of two boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def points_box(points: np.ndarray) -> list[float]:
    """The box around points, e.g. a face's 68 landmarks (every placed face has them, detected or recovered)."""
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def crop_square(frame: np.ndarray, box: list[float], margin: float, max_size: int):
    """Cut a square around ``box`` with ``margin`` of its size on each side, scaled to at most ``max_size``.

    Returns the crop and its placement ``[x0, y0, side]`` in the frame, so that a crop point ``p`` sits at
    ``(x0, y0) + p * side / crop_size`` in the frame. Parts outside the frame are black.
    """
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    size = int(min(round(side), max_size))
    scale = size / side
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    crop = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    return crop, [round(x0, 2), round(y0, 2), round(side, 2)]


def aligned_face(frame: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """The aligned face cut from the frame by one warp: the same call makes the training faces (alignments) and
    the faces the model converts (output), so training sees what conversion sees. The border carries the frame's
    edge pixels on, never black."""
    return cv2.warpAffine(frame, transform, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def box_in_crop(box: list[float], placement: list[float], crop_size: int) -> list[float]:
    """A frame box in the pixels of the crop whose placement ``crop_square`` returned."""
    x0, y0, side = placement
    scale = crop_size / side
    return [(box[0] - x0) * scale, (box[1] - y0) * scale, box[2] * scale, box[3] * scale]


def crop_to_frame(placement: list[float], crop_size: int) -> np.ndarray:
    """The 2x3 matrix taking crop pixels to frame pixels, from a crop's placement ``[x0, y0, side]``."""
    x0, y0, side = placement
    scale = side / crop_size
    return np.array([[scale, 0, x0], [0, scale, y0]])
