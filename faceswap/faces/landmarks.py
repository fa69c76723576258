"""68-point landmarks (dlib) and the similarity transform that puts a face in the canonical pose."""

import warnings

import cv2
import dlib
import numpy as np

from faceswap.faces.geometry import similarity

with warnings.catch_warnings():  # face_recognition_models imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    import face_recognition_models

# The canonical pose: where the eye centres, nose tip and mouth corners sit in a square face of side 1
# (the five-point template used by ArcFace, 112 px, divided by 112).
TEMPLATE_5 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                       [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0


class LandmarkModel:
    """dlib's 68-point shape predictor, from the face-recognition-models package."""

    def __init__(self):
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def predict(self, image: np.ndarray, box: list[float]) -> np.ndarray:
        """68 (x, y) points of the face in ``box`` (x, y, w, h) of a BGR image."""
        x, y, w, h = box
        rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        shape = self._predictor(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], np.float64)


def five_points(landmarks_68: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners from 68 points ``(..., 68, 2)``, in the order of TEMPLATE_5."""
    points = np.asarray(landmarks_68)
    return np.stack([points[..., 36:42, :].mean(-2), points[..., 42:48, :].mean(-2), points[..., 30, :],
                     points[..., 48, :], points[..., 54, :]], axis=-2)


def canonical_points(size: int, padding: float) -> np.ndarray:
    """TEMPLATE_5 in pixels of an aligned face of ``size`` with ``padding`` of room on each side."""
    return (TEMPLATE_5 + padding) / (1 + 2 * padding) * size


def alignment_transform(landmarks_68: np.ndarray, size: int, padding: float) -> np.ndarray:
    """The 2x3 matrix taking frame coordinates to the aligned face."""
    return similarity(five_points(landmarks_68), canonical_points(size, padding))


def hull_mask(points: np.ndarray, size: int) -> np.ndarray:
    """A filled convex hull of landmark points (already in aligned coordinates), 255 inside."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    return mask
