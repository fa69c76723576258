"""The target's face steadied over time, as its frames stream to the alignments file: short gaps recovered from the
frames around them and the points smoothed, holding a window of frames, never the whole video (a feature film's
frames would take gigabytes).

A frame's result depends only on frames at most ``max_gap + window`` away (a gap is filled from its two ends,
``max_gap`` at most apart; a smoothing window reaches ``window`` frames), so frames are worked on in chunks with a
margin of context on both sides, from their points as found: the result is the one the whole video at once gives.
"""

from collections.abc import Iterable, Iterator

import numpy as np

from faceswap.faces.landmarks import alignment_transform, five_points
from faceswap.faces.timeseries import Jitter, accelerations, interpolate_gaps, smooth

# a face's points over time, as one (n, 2) array: box as two points (x, y) and (w, h), then the landmarks
POINT_FIELDS = (("box", 2), ("landmarks_5", 5), ("landmarks_68", 68))
LANDMARKS_68 = slice(7, None)  # in that array
CHUNK = 1024  # frames steadied at once


class Stabiliser:
    """Recover short gaps and smooth the points of the first face of each frame of a stream (``steadied``); then
    ``steadiness``: the jitter of the five points before and after smoothing."""

    def __init__(self, max_gap: int, window: int, size: int, padding: float, chunk: int = CHUNK):
        self.max_gap, self.window, self.size, self.padding, self.chunk = max_gap, window, size, padding, chunk
        self.margin = max_gap + (window | 1) + 3  # + 1: the acceleration at a chunk's edge reads one frame past it
        self.raw, self.smoothed = Jitter(), Jitter()

    def steadied(self, frames: Iterable[dict]) -> Iterator[dict]:
        """The frames, each changed in place once the frames around it are read."""
        held, points, shots, done = [], [], [], 0  # done: the held frames already given out (context behind)
        for frame in frames:
            held.append(frame)
            points.append(np.concatenate([np.reshape(frame["faces"][0][name], (n, 2)) for name, n in POINT_FIELDS])
                          if frame["faces"] else np.full((sum(n for _, n in POINT_FIELDS), 2), np.nan))
            shots.append(frame["shot"])
            if len(held) - done == self.chunk + self.margin:
                self._steady(held, points, shots, done, done + self.chunk)
                yield from held[done:done + self.chunk]
                keep = max(done + self.chunk - self.margin, 0)  # the frames before the next chunk: its context
                held, points, shots, done = held[keep:], points[keep:], shots[keep:], done + self.chunk - keep
        self._steady(held, points, shots, done, len(held))
        yield from held[done:]

    def _steady(self, held: list[dict], points: list, shots: list[int], start: int, stop: int) -> None:
        """Steady ``held[start:stop]`` in place, the rest of ``held`` being their context."""
        raw = np.array(points)  # as found, short gaps recovered: smoothing's input
        recovered = set(interpolate_gaps(raw, self.max_gap, shots))
        smoothed = smooth(raw, self.window, shots)
        for index in range(start, stop):
            frame = held[index]
            if np.isnan(smoothed[index, 0, 0]):
                continue
            if index in recovered:
                frame["status"] = "recovered"
                frame["faces"] = [{"key": None, "source": "interpolated", "score": None, "identity_distance": None}]
            parts = np.split(smoothed[index], np.cumsum([n for _, n in POINT_FIELDS])[:-1])
            face = frame["faces"][0]
            face.update({name: np.round(part, 2).reshape(-1) if name == "box" else np.round(part, 2)
                         for (name, _), part in zip(POINT_FIELDS, parts)})
            face["transform"] = np.round(alignment_transform(parts[2], self.size, self.padding), 6)
        # accelerations at frames start..stop-1, on the points as written (to 0.01 px), as the output stage reads them
        centres = slice(max(start - 1, 0), stop - 1)
        self.raw.add(accelerations(five_points(raw[:, LANDMARKS_68]), shots)[centres])
        self.smoothed.add(accelerations(five_points(np.round(smoothed[:, LANDMARKS_68], 2)), shots)[centres])

    @property
    def steadiness(self) -> dict:
        return {"jitter_landmarks_raw_px": self.raw.value, "jitter_landmarks_px": self.smoothed.value}
