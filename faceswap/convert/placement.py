"""Where the face goes in each frame, smoothed over time so that the swapped face does not jitter.

A similarity transform ``[[a, -b, tx], [b, a, ty]]`` is linear in (a, b, tx, ty), so averaging those four
numbers over neighbouring frames averages scale, rotation and position together. Smoothing never reaches
across a frame without a face: a cut or a gap starts a new run.
"""

import numpy as np

from faceswap.faces.landmarks import apply, canonical_points


def runs(present: list[bool]) -> list[range]:
    """Stretches of consecutive frames that have a face."""
    stretches, start = [], None
    for index, here in enumerate(present + [False]):
        if here and start is None:
            start = index
        elif not here and start is not None:
            stretches.append(range(start, index))
            start = None
    return stretches


def smooth_transforms(transforms: list[np.ndarray | None], window: int) -> list[np.ndarray | None]:
    """Average each frame's transform with those up to ``window`` frames either side, within its run."""
    smoothed = list(transforms)
    if window <= 0:
        return smoothed
    for stretch in runs([t is not None for t in transforms]):
        params = np.array([[t[0, 0], t[1, 0], t[0, 2], t[1, 2]] for t in (transforms[i] for i in stretch)])
        for offset, index in enumerate(stretch):
            a, b, tx, ty = params[max(0, offset - window):offset + window + 1].mean(0)
            smoothed[index] = np.array([[a, -b, tx], [b, a, ty]])
    return smoothed


def placed_points(transform: np.ndarray, size: int, padding: float) -> np.ndarray:
    """Where the canonical eyes, nose and mouth of the aligned face land in the frame."""
    inverse = np.vstack([transform, [0, 0, 1]])
    return apply(np.linalg.inv(inverse)[:2], canonical_points(size, padding))


def jitter(points: list[np.ndarray | None]) -> float:
    """Mean frame-to-frame acceleration of points, px: |p[t-1] - 2 p[t] + p[t+1]| averaged over points and
    frames, within runs of frames that have them. Steady motion scores 0; shake scores high."""
    values = []
    for stretch in runs([p is not None for p in points]):
        if len(stretch) >= 3:
            track = np.stack([points[i] for i in stretch])
            values.append(np.linalg.norm(track[:-2] - 2 * track[1:-1] + track[2:], axis=-1).ravel())
    return float(np.concatenate(values).mean()) if values else 0.0
