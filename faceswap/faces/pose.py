"""Head pose from the 68 landmarks, enough to sort faces by how far they turn (the review page's yaw order).

Yaw is read from where the nose sits between the two sides of the jaw: centred for a frontal face, towards one
edge as the head turns. ``arcsin`` of that offset gives degrees that grow with the turn (a rough but monotonic
estimate, not a calibrated angle), positive when the nose moves towards the image's right.
"""

import numpy as np

JAW_LEFT, JAW_RIGHT, NOSE_TIP = 0, 16, 30  # dlib's 68-point numbering
YAW_POINTS = (JAW_LEFT, JAW_RIGHT, NOSE_TIP)  # all that yaw reads


def yaw_degrees(landmarks_68) -> float:
    """The yaw of one face's 68 points."""
    return float(yaw_of_points(np.asarray(landmarks_68, np.float64)[list(YAW_POINTS)]))


def yaw_of_points(points: np.ndarray) -> np.ndarray:
    """Yaw from the ``YAW_POINTS`` of faces, shaped (..., 3, 2): many faces at once, without their other points."""
    points = np.asarray(points, np.float64)
    jaw_left, jaw_right, nose = points[..., 0, :], points[..., 1, :], points[..., 2, :]
    left = np.linalg.norm(nose - jaw_left, axis=-1)
    right = np.linalg.norm(jaw_right - nose, axis=-1)
    offset = np.divide(left - right, left + right, out=np.zeros_like(left), where=left + right > 0)
    return np.degrees(np.arcsin(np.clip(offset, -1, 1)))
