"""What a face is doing, read off its 68 dlib landmarks: how open the eyes and the mouth are, how high the brows,
how wide the smile; and how it sits in its aligned crop: tilted, turned, nodding, off centre. The fidelity
measures compare the first between the target and the swapped face; ``model.expression_input`` models are given
both (``face_features``), so that the swapped face is told the target's expression and pose rather than left to
find them in the encoder's code.

The expression features are ratios of distances in the face's own upright frame (the eye line level, the eye
distance 1), so a rotated, scaled or shifted face gives the same figures, and each is the mean of the face's two
sides where it has two, so a mirrored face does too. The pose features change with every move of the face in its
crop: training computes them after its random moves (``train.augment``).
"""

import numpy as np

from faceswap.faces.pose import yaw_degrees

EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))  # dlib: outer corner, top 2, inner corner, bottom 2
INNER_LIPS = (60, 61, 62, 63, 64, 65, 66, 67)
BROWS = (range(17, 22), range(22, 27))
MOUTH_CORNERS, UPPER_LIP_TOP, LOWER_LIP_BOTTOM, CHIN = (48, 54), 51, 57, 8
EXPRESSION = ("eye_openness", "mouth_openness", "lips_apart", "mouth_width", "smile", "brow_raise", "jaw_drop")
POSE = ("roll", "yaw", "eyes_x", "eyes_y", "eye_distance")  # no nod: it stood in for the eyelids (BENCHMARKS.md)
FEATURES = EXPRESSION + POSE
# dlib's 68 points of a face mirrored left to right: point i of the mirrored face is point MIRRORED[i] of the face
MIRRORED = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
                     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, *range(54, 47, -1), 59, 58, 57, 56, 55,
                     64, 63, 62, 61, 60, 67, 66, 65])


def eye_openness(points: np.ndarray) -> float:
    """The mean eye aspect ratio (Soukupova and Cech 2016): eyelid gap over eye width, about 0.3 open, 0 shut."""
    ratios = [(np.linalg.norm(points[top_1] - points[bottom_1]) + np.linalg.norm(points[top_2] - points[bottom_2]))
              / (2 * np.linalg.norm(points[inner] - points[outer]))
              for outer, top_1, top_2, inner, bottom_2, bottom_1 in EYES]
    return float(np.mean(ratios))


def mouth_openness(points: np.ndarray) -> float:
    """The inner lips' gap over the mouth's width: 0 closed."""
    left, top_1, top_2, top_3, right, bottom_3, bottom_2, bottom_1 = (points[i] for i in INNER_LIPS)
    gap = np.mean([np.linalg.norm(top - bottom) for top, bottom in ((top_1, bottom_1), (top_2, bottom_2),
                                                                      (top_3, bottom_3))])
    return float(gap / max(np.linalg.norm(right - left), 1e-6))


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each eye's six points: dlib's left eye (on the image's left), then the right."""
    return points[list(EYES[0])].mean(0), points[list(EYES[1])].mean(0)


def roll_degrees(points: np.ndarray) -> float:
    """The tilt of the eye line, degrees, positive when the right eye is lower in the image."""
    left, right = eye_centres(points)
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def upright(points: np.ndarray) -> np.ndarray:
    """The landmarks moved so that the eyes' centres are at (-0.5, 0) and (0.5, 0): y grows down the face."""
    left, right = eye_centres(points)
    across = right - left
    distance = max(float(np.linalg.norm(across)), 1e-6)
    cos, sin = across / distance
    centred = (points - (left + right) / 2) / distance
    return centred @ np.array([[cos, -sin], [sin, cos]])


def expression_features(points: np.ndarray) -> np.ndarray:
    """The FEATURES of one face's 68 landmarks (any similarity of the frame they were found in), float32."""
    face = upright(np.asarray(points, np.float64))
    eyes_y = face[list(EYES[0]) + list(EYES[1]), 1].mean()
    corners = face[list(MOUTH_CORNERS)]
    lips_centre_y = (face[UPPER_LIP_TOP, 1] + face[LOWER_LIP_BOTTOM, 1]) / 2
    return np.array([
        eye_openness(face), mouth_openness(face),
        face[LOWER_LIP_BOTTOM, 1] - face[UPPER_LIP_TOP, 1],
        np.linalg.norm(corners[1] - corners[0]),
        lips_centre_y - corners[:, 1].mean(),  # corners above the lips' middle: a smile
        eyes_y - np.mean([face[list(brow), 1].mean() for brow in BROWS]),
        face[CHIN, 1] - eyes_y,
    ], np.float32)


def pose_in_crop(points: np.ndarray, size: int) -> np.ndarray:
    """The POSE features of a face's 68 landmarks in pixels of its ``size`` px aligned crop, float32: the eye
    line's tilt (radians), the turn (``pose.yaw_degrees``, in right angles), where the eyes' middle is from the
    crop's centre and how far apart the eyes are (crop sides)."""
    points = np.asarray(points, np.float64)
    left, right = eye_centres(points)
    middle = (left + right) / 2 / size - 0.5
    return np.array([np.radians(roll_degrees(points)), yaw_degrees(points) / 90, middle[0], middle[1],
                     np.linalg.norm(right - left) / size], np.float32)


def face_features(landmarks, size: int) -> np.ndarray:
    """The FEATURES of each face of a sequence of 68-point landmarks in pixels of ``size`` px aligned crops,
    (N, len(FEATURES)) float32: what a ``model.expression_input`` model is told."""
    rows = [np.concatenate([expression_features(points), pose_in_crop(points, size)]) for points in landmarks]
    return np.stack(rows) if rows else np.zeros((0, len(FEATURES)), np.float32)
