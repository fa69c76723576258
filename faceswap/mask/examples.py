"""What the mask network learns from: each aligned target face with its visible-face target, and the labelled
frames held out to measure it.

A face whose frame is labelled (``data/labels/target.json``) learns the label's visible face: the landmark hull
minus the occluders drawn over it. Every other face learns its landmark hull (the ``mask.png`` stored beside
it), which teaches the network where a face ends; the labelled faces teach it what a hand in front looks like,
so each batch draws a share of them (``mask.labelled_share``).
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceswap.faces.mask_labels import visible_face
from faceswap.media.imageset import decode_image, iter_samples, read_index


@dataclass
class MaskExamples:
    """The aligned target faces at the network's size: uint8 faces (N, S, S, 3), their landmark hulls and
    visible-face targets (N, S, S; 255 inside), each face's frame key, and whether that frame is labelled."""

    frames: list[str]
    faces: np.ndarray
    hulls: np.ndarray
    targets: np.ndarray
    labelled: np.ndarray

    def where(self, frames: set[str]) -> np.ndarray:
        """The indices of the faces of these frames."""
        return np.array([i for i, frame in enumerate(self.frames) if frame in frames], np.int64)


def load_examples(folder: Path, labels: dict[str, dict], size: int) -> MaskExamples:
    """Every aligned face of ``folder`` with its target; labels are drawn at the aligned size, then the face
    and both masks are resized to ``size`` together."""
    frames, faces, hulls, targets = [], [], [], []
    for record, files in iter_samples(folder, read_index(folder)):
        face = decode_image(files["jpg"])
        hull = decode_image(files["mask.png"], cv2.IMREAD_GRAYSCALE)
        label = labels.get(record["frame_key"])
        target = hull if label is None else visible_face(label, np.array(record["transform"]), face.shape[0], hull)
        if face.shape[0] != size:
            face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
            hull, target = (cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in (hull, target))
        frames.append(record["frame_key"])
        faces.append(face)
        hulls.append(hull)
        targets.append(target)
    if not faces:
        empty = np.zeros((0, size, size), np.uint8)
        return MaskExamples([], np.zeros((0, size, size, 3), np.uint8), empty, empty, np.zeros(0, bool))
    return MaskExamples(frames, np.stack(faces), np.stack(hulls), np.stack(targets),
                        np.array([frame in labels for frame in frames]))


def held_out_frames(labels: dict[str, dict], count: int) -> list[str]:
    """``count`` labelled frames with an occluder, spread evenly over them in time, kept out of training to
    measure the mask where it matters; at least one occluded frame is always left to train on."""
    occluded = sorted(key for key, label in labels.items() if label["occluders"])
    count = min(count, max(len(occluded) - 1, 0))
    if count == 0:
        return []
    return [occluded[int((i + 0.5) * len(occluded) / count)] for i in range(count)]


def iou(masks: np.ndarray, targets: np.ndarray) -> float:
    """The intersection over union of two sets of masks (any values; inside is over half of 255 or of 1),
    over all their pixels together."""
    inside = masks > (127 if masks.dtype == np.uint8 else 0.5)
    wanted = targets > (127 if targets.dtype == np.uint8 else 0.5)
    union = np.logical_or(inside, wanted).sum()
    return float(np.logical_and(inside, wanted).sum() / union) if union else 1.0
