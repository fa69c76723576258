"""A face over time: runs of frames with a face, short gaps filled, smoothing, and the one measure of jitter.

Series are arrays with frames first, ``(frames, ...)``, NaN where a frame has no face (points are
``(frames, points, 2)``). A face lost for a few frames (a hand in front, motion blur) is recovered from its
neighbours instead of flickering back to the original; a landmark or a placement that jitters by a pixel or two
between frames makes the swapped face shimmer. Nothing here reaches across a frame without a face or across a
shot cut: ``shots`` (each frame's shot number, from the alignments file; None: no cut known) splits the runs.
"""

from itertools import pairwise

import numpy as np


def present(series: np.ndarray) -> np.ndarray:
    """Which frames of a series have a value (no NaN in the frame's first number)."""
    return ~np.isnan(np.asarray(series, np.float64).reshape(len(series), -1)[:, 0])


def runs(flags, shots=None) -> list[range]:
    """The stretches of consecutive true values of a sequence of booleans, e.g. frames with a face; a stretch
    ends where the shot changes."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, bool).astype(np.int8), [0]]))
    stretches = [range(start, stop) for start, stop in
                 zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)]
    if shots is None:
        return stretches
    cuts = np.flatnonzero(np.diff(np.asarray(shots))) + 1  # the first frame of each shot after the first
    return [range(start, stop) for stretch in stretches
            for start, stop in pairwise([stretch.start, *cuts[(cuts > stretch.start) & (cuts < stretch.stop)].tolist(),
                                         stretch.stop])]


def same_shot(shots, first: int, last: int) -> bool:
    """Whether frames ``first`` and ``last`` lie in one shot (always, when no cut is known)."""
    return shots is None or shots[first] == shots[last]


def interpolate_gaps(points: np.ndarray, max_gap: int, shots=None) -> list[int]:
    """Fill, in place, each gap of at most ``max_gap`` frames that has a face on both sides in the same shot,
    linearly.

    Returns the frames filled. Gaps at the start or end of a video, longer ones, or ones with a cut in them,
    stay NaN: guessing there would put a face where there may be none.
    """
    filled = []
    for gap in runs(~present(points)):
        start, stop = gap.start, gap.stop
        if start == 0 or stop == len(points) or stop - start > max_gap or not same_shot(shots, start - 1, stop):
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


def smooth(points: np.ndarray, window: int, shots=None) -> np.ndarray:
    """Savitzky-Golay (quadratic) over each run of frames with a face within a shot; runs shorter than
    ``window`` are kept.

    A quadratic fit follows real motion (a head turn) while flattening frame-to-frame noise. ``window`` <= 2
    turns smoothing off. The first and last ``window // 2`` frames of a run take the fit of the run's first
    or last window (scipy's ``savgol_filter(mode="interp")``).
    """
    out = points.copy()
    if window <= 2:
        return out
    window |= 1  # odd
    half, weights = window // 2, savgol_weights(window)
    for stretch in runs(present(points), shots):
        start, stop = stretch.start, stretch.stop
        if stop - start < window:
            continue
        run = points[start:stop]
        windows = np.lib.stride_tricks.sliding_window_view(run, window, axis=0)  # (n - window + 1, ..., window)
        out[start + half:stop - half] = windows @ weights[half]
        out[start:start + half] = np.einsum("iw,w...->i...", weights[:half], run[:window])
        out[stop - half:stop] = np.einsum("iw,w...->i...", weights[half + 1:], run[-window:])
    return out


def moving_average(series: np.ndarray, window: int, shots=None) -> np.ndarray:
    """Each frame's values averaged with those up to ``window`` frames either side, within its run (and shot);
    0 is off."""
    out = np.array(series, np.float64)
    if window <= 0:
        return out
    for run in runs(present(series), shots):
        values = out[run.start:run.stop].copy()
        for offset in range(len(run)):
            out[run.start + offset] = values[max(0, offset - window):offset + window + 1].mean(0)
    return out


def accelerations(points: np.ndarray, shots=None) -> np.ndarray:
    """``(frames - 2, points)``: each point's frame-to-frame acceleration ``|p[t-1] - 2 p[t] + p[t+1]|`` in px at
    each frame ``t`` but the first and last, NaN across a shot cut or beside a frame without a face."""
    points = np.asarray(points, np.float64)
    acceleration = np.linalg.norm(points[:-2] - 2 * points[1:-1] + points[2:], axis=-1)
    if shots is not None and len(acceleration):
        shots = np.asarray(shots)
        acceleration[shots[:-2] != shots[2:]] = np.nan
    return acceleration


class Jitter:
    """The shake of points over time: their mean frame-to-frame acceleration (``accelerations``) in px, over every
    point and every frame inside a run of three or more within a shot (a cut is no shake). Steady or uniform motion
    scores 0, noise high. A long video's is taken piece by piece: ``add`` each piece's accelerations, then read
    ``value`` (None when no frame had a face on both sides)."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def add(self, acceleration: np.ndarray) -> None:
        acceleration = acceleration[~np.isnan(acceleration).any(axis=1)]
        self.total, self.count = self.total + float(acceleration.sum()), self.count + acceleration.size

    @property
    def value(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None


def jitter(points: np.ndarray, shots=None) -> float | None:
    """The ``Jitter`` of a whole series of points. The pipeline measures it on the five points (eye centres, nose
    tip, mouth corners) wherever it reports a ``jitter_*`` figure, so those figures compare."""
    measure = Jitter()
    measure.add(accelerations(points, shots))
    return measure.value
