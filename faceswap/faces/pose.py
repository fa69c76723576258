"""Head pose from the 68 landmarks, enough to sort faces by how far they turn (the review page's yaw order).

Yaw is read from where the nose sits between the two sides of the jaw: centred for a frontal face, towards one
edge as the head turns. ``arcsin`` of that offset gives degrees that grow with the turn (a rough but monotonic
estimate, not a calibrated angle), positive when the nose moves towards the image's right.
"""

import numpy as np

JAW_LEFT, JAW_RIGHT, NOSE_TIP = 0, 16, 30  # dlib's 68-point numbering


def yaw_degrees(landmarks_68) -> float:
    points = np.asarray(landmarks_68, np.float64)
    left = np.linalg.norm(points[NOSE_TIP] - points[JAW_LEFT])
    right = np.linalg.norm(points[JAW_RIGHT] - points[NOSE_TIP])
    if left + right == 0:
        return 0.0
    return float(np.degrees(np.arcsin(np.clip((left - right) / (left + right), -1, 1))))
