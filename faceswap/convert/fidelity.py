"""Does the swap keep what the target does? Expression, pose, sharpness and colour steadiness of the swapped
face, each measured against the target's own face in the same frame.

A model that has learned too little paints the source's average face, blurred, with its own expression: it can
still be nearer the source than the target in identity. What gives it away is that closed eyes do not close,
an open mouth does not open, and the face is softer than the frame around it. So on each frame with a face
dlib's 68 landmarks are found on the swapped face in the output frame and on the target's face in the input
frame, in the same box, and compared:

- ``expression_landmark_error``: mean distance between the two sets of 68 points, as a share of the target's
  eye-corner distance (the normalised mean error of landmark benchmarks); 0 is the target's expression and pose.
- eye and mouth openness (height over width of the eyes and the inner lips), followed over time:
  ``..._openness_error`` is the mean absolute difference, ``..._openness_correlation`` how well the swapped face
  follows the target's blinks and speech (1: in step; None where the target's does not change).
- ``pose_roll_error_deg``: the tilt of the eye line, swapped against target.
- ``sharpness_ratio``: the median, over frames, of the variance of the Laplacian of the swapped face over the
  target's (1: as sharp; a blurred face scores well under 1).
- ``colour_flicker``: the mean frame-to-frame change of the swapped face's mean colour (L*a*b*, within a shot),
  beside ``colour_flicker_target``, the target face's own.
- ``edge_spill``: the mean change of lightness (L*, 0-255 levels) in a band just outside the target face's sides
  and chin (5% of its width), where its hair, neck or background are and nothing of the new face belongs; a
  halo along the pasted face's edge raises it (0: the outline is the target's own).
"""

import cv2
import numpy as np

from faceswap.convert.blend import BROWS
from faceswap.faces.expression import eye_openness, mouth_openness, roll_degrees
from faceswap.faces.geometry import points_box
from faceswap.faces.landmarks import LandmarkModel, hull_mask
from faceswap.faces.quality import face_region, sharpness

OUTER_EYE_CORNERS = (36, 45)


def hull_patch(shape, points: np.ndarray, margin: int = 0) -> tuple[tuple[slice, slice], np.ndarray]:
    """The frame region around the landmarks (their box, ``margin`` px wider, clipped to a frame of ``shape``)
    and the landmarks' hull in it (255 inside), so per-frame measures work on the face's pixels only."""
    x, y, w, h = (int(round(v)) for v in points_box(points))
    x0, y0 = max(x - margin, 0), max(y - margin, 0)
    x1, y1 = min(x + w + margin + 1, shape[1]), min(y + h + margin + 1, shape[0])
    hull = hull_mask(points - (x0, y0), max(x1 - x0, y1 - y0))[:y1 - y0, :x1 - x0]
    return np.s_[y0:y1, x0:x1], hull


def mean_colour(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mean L*a*b* colour inside the hull of the landmarks."""
    region, hull = hull_patch(frame.shape, points)
    return np.array(cv2.mean(cv2.cvtColor(frame[region], cv2.COLOR_BGR2LAB), hull)[:3])


def edge_spill(original: np.ndarray, swapped: np.ndarray, points: np.ndarray) -> float:
    """The mean |L*| change between the frames in the band just outside the hull's sides and chin (below the
    brows: above them the output's mask covers the forehead on purpose)."""
    width = float(np.ptp(points[:, 0]))
    band = max(2, int(round(0.05 * width)))
    region, hull = hull_patch(original.shape, points, band)
    ring = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))) > hull
    ring[:int(np.ceil(points[BROWS, 1].max())) + 1 - region[0].start] = False
    if not ring.any():
        return 0.0
    lightness = [cv2.cvtColor(frame[region], cv2.COLOR_BGR2LAB)[..., 0].astype(np.float32)
                 for frame in (original, swapped)]
    return float(np.abs(lightness[1] - lightness[0])[ring].mean())


def correlation(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 4)


def colour_flicker(colours: list[tuple[int, int, np.ndarray]]) -> float | None:
    """Mean distance between the mean colours of consecutive frames of one shot ``(frame, shot, colour)``."""
    steps = [np.linalg.norm(c1 - c0) for (f0, s0, c0), (f1, s1, c1) in zip(colours, colours[1:])
             if f1 == f0 + 1 and s1 == s0]
    return round(float(np.mean(steps)), 4) if steps else None


class Fidelity:
    """Swapped frames measured against their originals as they stream by; ``summary()`` gives the metrics."""

    def __init__(self):
        self.landmarks = LandmarkModel()
        self.rows = []

    def add(self, index: int, shot: int, original: np.ndarray, swapped: np.ndarray, landmarks: np.ndarray) -> None:
        """Frame ``index`` (in shot ``shot``), before and after the swap; ``landmarks``: where the target's face
        is (its 68 points from the alignments file)."""
        box = points_box(landmarks)
        target, face = self.landmarks.predict(original, box), self.landmarks.predict(swapped, box)
        scale = max(np.linalg.norm(target[OUTER_EYE_CORNERS[1]] - target[OUTER_EYE_CORNERS[0]]), 1.0)
        self.rows.append({
            "frame": index, "shot": shot, "error": float(np.linalg.norm(face - target, axis=1).mean() / scale),
            "eyes": (eye_openness(target), eye_openness(face)), "mouth": (mouth_openness(target), mouth_openness(face)),
            "roll": abs(roll_degrees(face) - roll_degrees(target)),
            "sharpness": (sharpness(face_region(original, box)), sharpness(face_region(swapped, box))),
            "colour": (mean_colour(original, landmarks), mean_colour(swapped, landmarks)),
            "spill": edge_spill(original, swapped, landmarks)})

    def summary(self) -> dict:
        if not self.rows:
            return {}
        rows = self.rows
        metrics = {"expression_landmark_error": round(float(np.mean([r["error"] for r in rows])), 4)}
        for part in ("eyes", "mouth"):
            target, swapped = ([r[part][i] for r in rows] for i in (0, 1))
            name = "eye" if part == "eyes" else "mouth"
            metrics[f"{name}_openness_error"] = round(float(np.mean(np.abs(np.subtract(swapped, target)))), 4)
            metrics[f"{name}_openness_correlation"] = correlation(target, swapped)
        ratios = [s / t for t, s in (r["sharpness"] for r in rows) if t > 0]
        metrics.update({
            "pose_roll_error_deg": round(float(np.mean([r["roll"] for r in rows])), 3),
            "sharpness_ratio": round(float(np.median(ratios)), 4) if ratios else None,
            "colour_flicker": colour_flicker([(r["frame"], r["shot"], r["colour"][1]) for r in rows]),
            "colour_flicker_target": colour_flicker([(r["frame"], r["shot"], r["colour"][0]) for r in rows]),
            "edge_spill": round(float(np.mean([r["spill"] for r in rows])), 3),
            "fidelity_frames_measured": len(rows)})
        return metrics
