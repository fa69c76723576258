"""Face points over time on the target: short gaps filled by interpolation, jitter measured and smoothed.

Points are one array per video, ``(frames, points, 2)``, NaN where a frame has no face. A face lost for a few
frames (a hand in front, motion blur) is recovered from its neighbours instead of flickering back to the
original; a landmark that jitters by a pixel or two between frames makes the swapped face shimmer.
"""

import numpy as np


def runs(present: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of consecutive True values."""
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def interpolate_gaps(points: np.ndarray, max_gap: int) -> list[int]:
    """Fill, in place, each gap of at most ``max_gap`` frames that has a face on both sides, linearly.

    Returns the frames filled. Gaps at the start or end of a video, or longer, stay NaN: guessing there
    would put a face where there may be none.
    """
    present = ~np.isnan(points[:, 0, 0])
    filled = []
    for start, stop in runs(~present):
        if start == 0 or stop == len(points) or stop - start > max_gap:
            continue
        weights = (np.arange(start, stop) - (start - 1)) / (stop - start + 1)
        points[start:stop] = points[start - 1] + weights[:, None, None] * (points[stop] - points[start - 1])
        filled.extend(range(start, stop))
    return filled


def savgol_weights(window: int) -> np.ndarray:
    """``(window, window)``: row i gives the value at position i of a quadratic fitted by least squares to a
    window of values. The middle row is the Savitzky-Golay filter; the first and last rows smooth the ends."""
    positions = np.vander(np.arange(window, dtype=np.float64), 3)
    return positions @ np.linalg.pinv(positions)


def smooth(points: np.ndarray, window: int) -> np.ndarray:
    """Savitzky-Golay (quadratic) over each run of frames with a face; runs shorter than ``window`` are kept.

    A quadratic fit follows real motion (a head turn) while flattening frame-to-frame noise. ``window`` <= 2
    turns smoothing off. The first and last ``window // 2`` frames of a run take the fit of the run's first
    or last window (scipy's ``savgol_filter(mode="interp")``).
    """
    out = points.copy()
    if window <= 2:
        return out
    window |= 1  # odd
    half, weights = window // 2, savgol_weights(window)
    for start, stop in runs(~np.isnan(points[:, 0, 0])):
        if stop - start < window:
            continue
        run = points[start:stop]
        windows = np.lib.stride_tricks.sliding_window_view(run, window, axis=0)  # (n - window + 1, ..., window)
        out[start + half:stop - half] = windows @ weights[half]
        out[start:start + half] = np.einsum("iw,w...->i...", weights[:half], run[:window])
        out[stop - half:stop] = np.einsum("iw,w...->i...", weights[half + 1:], run[-window:])
    return out


def jitter(points: np.ndarray) -> float | None:
    """Mean distance (px) of a point from the midpoint of its positions in the frames before and after, over
    frames inside runs: about zero for steady or uniform motion, large for noise. None with no such frame."""
    middle = points[1:-1] - (points[:-2] + points[2:]) / 2
    distances = np.linalg.norm(middle, axis=2)
    distances = distances[~np.isnan(distances).any(axis=1)]
    return round(float(distances.mean()), 3) if len(distances) else None
