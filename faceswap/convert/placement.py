"""Where the face goes in each frame, smoothed over time so that the swapped face does not jitter.

A similarity transform ``[[a, -b, tx], [b, a, ty]]`` is linear in (a, b, tx, ty), so averaging those four
numbers over neighbouring frames averages scale, rotation and position together. Smoothing never reaches
across a frame without a face or a shot cut (recorded in the alignments file): either starts a new run.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceswap.core import paths
from faceswap.faces.alignments_file import first_faces, open_alignments
from faceswap.faces.geometry import apply
from faceswap.faces.landmarks import canonical_points
from faceswap.faces.timeseries import moving_average
from faceswap.media.video import VideoInfo, read_catalogue


def smooth_transforms(transforms: list[np.ndarray | None], window: int, shots=None) -> list[np.ndarray | None]:
    """Average each frame's transform with those up to ``window`` frames either side, within its run and shot."""
    if window <= 0:
        return list(transforms)
    series = np.array([[t[0, 0], t[1, 0], t[0, 2], t[1, 2]] if t is not None else [np.nan] * 4
                       for t in transforms]).reshape(-1, 4)
    smoothed = moving_average(series, window, shots)
    return [None if t is None else np.array([[a, -b, tx], [b, a, ty]])
            for t, (a, b, tx, ty) in zip(transforms, smoothed, strict=True)]


def placed_points(transform: np.ndarray, size: int, padding: float) -> np.ndarray:
    """Where the canonical eyes, nose and mouth of the aligned face land in the frame."""
    inverse = np.vstack([transform, [0, 0, 1]])
    return apply(np.linalg.inv(inverse)[:2], canonical_points(size, padding))


def placement_series(transforms: list[np.ndarray | None], size: int, padding: float) -> np.ndarray:
    """``(frames, 5, 2)``: the placed five points of each frame, NaN where a frame has no face; what the output
    stage measures the jitter of."""
    return np.stack([placed_points(t, size, padding) if t is not None else np.full((5, 2), np.nan)
                     for t in transforms]) if transforms else np.zeros((0, 5, 2))


POINTS = ("box", "landmarks_5", "landmarks_68", "transform")  # a face's points, kept as arrays when kept


@dataclass
class TargetTrack:
    """The target video and where its face is in each frame, as conversion needs them: per frame the face of
    the alignments file (None where there is none; its points as arrays, in the fields below), its shot, its
    transform as recorded and smoothed over ``output.smooth_frames`` within the shot, and its 68 landmarks."""

    video: Path
    info: VideoInfo
    aligned_size: int
    padding: float
    faces: list[dict | None]
    shots: list[int]
    raw_transforms: list[np.ndarray | None]
    transforms: list[np.ndarray | None]
    landmarks: list[np.ndarray | None]

    @property
    def with_face(self) -> list[int]:
        return [index for index, face in enumerate(self.faces) if face]

    def placements(self) -> list[tuple[np.ndarray, np.ndarray, int] | None]:
        """What the swapper takes per frame: the smoothed transform, the landmarks and the shot."""
        return [None if t is None else (t, points, shot)
                for t, points, shot in zip(self.transforms, self.landmarks, self.shots, strict=True)]


def load_target_track(smooth_frames: int) -> TargetTrack:
    """The target's video, its catalogue entry and its alignments file, read and checked; the file streams, so
    memory holds the arrays kept per frame, never the parsed file."""
    (name, entry), = read_catalogue(paths.stage_output("frames", "target")).items()
    path = paths.stage_output("alignments", "target") / paths.ALIGNMENTS_FILE
    faces, shots, raw, landmarks = [], [], [], []
    with open_alignments(path) as alignments:
        for face, shot in first_faces(alignments, name):
            faces.append(face and {key: value for key, value in face.items() if key not in POINTS})
            shots.append(shot)
            raw.append(np.array(face["transform"]) if face else None)
            landmarks.append(np.array(face["landmarks_68"]) if face else None)
        size, padding = alignments.header["aligned_size"], alignments.header["padding"]
    return TargetTrack(video=paths.raw("target") / entry["file"], info=VideoInfo.as_decoded(entry),
                       aligned_size=size, padding=padding, faces=faces, shots=shots, raw_transforms=raw,
                       transforms=smooth_transforms(raw, smooth_frames, shots), landmarks=landmarks)
