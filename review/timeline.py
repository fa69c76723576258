"""The target's timeline: every frame's status (detected, recovered, missing), with ``excluded`` where the face
conversion would use has been excluded since; and each frame's face box and 68 landmarks, for the frame view.

The strip comes from the timeline CSV the alignments stage writes beside the alignments file (a feature film's in
tens of milliseconds); the boxes and landmarks from the alignments file, read as it streams in the background
(seconds for a feature film) and kept as compact arrays (a frame's points are 544 bytes), since its parsed JSON
would take gigabytes. The frame view waits for them; the strip does not."""

import threading
from fractions import Fraction

import numpy as np

from faceswap.core import paths
from faceswap.faces.alignments_file import missing_stretches, open_alignments
from faceswap.faces.timeline_file import read_timeline

LETTERS = {"detected": "d", "recovered": "r", "missing": "m", "excluded": "x"}


class Timeline:
    def __init__(self, side: str = "target"):
        self.path = paths.stage_output("alignments", side) / paths.ALIGNMENTS_FILE
        self.written = read_timeline(paths.timeline(side))
        self.position = {f"{name}_{frame:06d}": (name, frame)  # frame key -> (video, frame)
                         for name, statuses in self.written.statuses.items() for frame in range(len(statuses))}
        with open_alignments(self.path) as alignments:  # the videos' rates and sizes come before their frames
            name, video, _ = next(alignments.videos())
            self.videos = {name: video}
        self._geometry, self._failure = {}, None
        self._read = threading.Thread(target=self._read_geometry, daemon=True)
        self._read.start()

    def _read_geometry(self) -> None:
        """Each video's rate, size, boxes and landmarks from the alignments file, frame by frame."""
        try:
            with open_alignments(self.path) as alignments:
                for name, video, frames in alignments.videos():
                    count = video["frame_count"]
                    boxes = np.full((count, 4), np.nan, np.float32)
                    points = np.full((count, 68, 2), np.nan, np.float32)
                    for frame in frames:
                        if frame["faces"]:
                            boxes[frame["frame"]] = frame["faces"][0]["box"]
                            points[frame["frame"]] = frame["faces"][0]["landmarks_68"]
                    self.videos[name] = video
                    self._geometry[name] = boxes, points
        except Exception as error:  # raised again where the frame view asks
            self._failure = error

    def statuses(self, excluded: set[str]) -> dict[str, list[str]]:
        """Each video's status per frame, ``excluded`` where the frame's face is in the exclusion list."""
        return {name: ["excluded" if key in excluded else status
                       for status, key in zip(video, self.written.faces[name])]
                for name, video in self.written.statuses.items()}

    def rate(self, name: str) -> float:
        if name not in self.videos:  # a video after the first: its rate comes as the file is read
            self._read.join()
        return float(Fraction(self.videos[name]["rate"]))

    def summary(self, excluded: set[str]) -> dict:
        """The strip of each video as one letter a frame, and the missing stretches with their times."""
        statuses = self.statuses(excluded)
        rates = {name: self.rate(name) for name in statuses}
        return {"videos": [{"name": name, "rate": rates[name], "frames": len(video),
                            "strip": "".join(LETTERS[status] for status in video)}
                           for name, video in statuses.items()],
                "missing": [{"video": name, "first": first, "last": last, "start": round(first / rates[name], 3),
                             "end": round((last + 1) / rates[name], 3)}
                            for name, first, last in missing_stretches(statuses)]}

    def frame(self, key: str, excluded: set[str]) -> dict:
        """One frame's status, size, face box and landmarks (None where it has no face)."""
        name, index = self.position[key]
        self._read.join()
        if self._failure:
            raise self._failure
        video, (boxes, points) = self.videos[name], self._geometry[name]
        box, points = boxes[index], points[index]
        face_key = self.written.faces[name][index]
        return {"key": key, "video": name, "frame": index, "width": video["width"], "height": video["height"],
                "time": round(index / self.rate(name), 3), "face": face_key,
                "status": "excluded" if face_key in excluded else self.written.statuses[name][index],
                "box": None if np.isnan(box).any() else box.astype(float).round(1).tolist(),
                "landmarks": None if np.isnan(points).any() else points.astype(float).round(1).tolist()}
