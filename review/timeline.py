"""The target's timeline: every frame's status from the alignments file (detected, recovered, missing), with
``excluded`` where the face conversion would use has been excluded since; and each frame's face box and 68
landmarks, for the frame view. Read once from ``alignments.json`` as it streams, frame by frame, and kept as
compact arrays (a frame's points are 544 bytes), since a feature film's parsed JSON would take gigabytes."""

from fractions import Fraction

import numpy as np

from faceswap.core import paths
from faceswap.faces.alignments_file import missing_stretches, open_alignments

LETTERS = {"detected": "d", "recovered": "r", "missing": "m", "excluded": "x"}


class Timeline:
    def __init__(self, side: str = "target"):
        self.videos = {}
        self.position = {}  # frame key -> (video, frame)
        with open_alignments(paths.stage_output("alignments", side) / paths.ALIGNMENTS_FILE) as alignments:
            for name, video, frames in alignments.videos():
                count = video["frame_count"]
                boxes = np.full((count, 4), np.nan, np.float32)
                points = np.full((count, 68, 2), np.nan, np.float32)
                keys, statuses = [], []
                for frame in frames:
                    face = frame["faces"][0] if frame["faces"] else None
                    keys.append(face["key"] if face else None)
                    statuses.append(frame["status"])
                    if face:
                        boxes[frame["frame"]] = face["box"]
                        points[frame["frame"]] = face["landmarks_68"]
                    self.position[f"{name}_{frame['frame']:06d}"] = (name, frame["frame"])
                self.videos[name] = {"rate": video["rate"], "width": video["width"], "height": video["height"],
                                     "statuses": statuses, "face_keys": keys, "boxes": boxes, "points": points}

    def statuses(self, excluded: set[str]) -> dict[str, list[str]]:
        """Each video's status per frame, ``excluded`` where the frame's face is in the exclusion list."""
        return {name: ["excluded" if key in excluded else status
                       for status, key in zip(video["statuses"], video["face_keys"])]
                for name, video in self.videos.items()}

    def summary(self, excluded: set[str]) -> dict:
        """The strip of each video as one letter a frame, and the missing stretches with their times."""
        statuses = self.statuses(excluded)
        rates = {name: float(Fraction(video["rate"])) for name, video in self.videos.items()}
        return {"videos": [{"name": name, "rate": rates[name], "frames": len(video),
                            "strip": "".join(LETTERS[status] for status in video)}
                           for name, video in statuses.items()],
                "missing": [{"video": name, "first": first, "last": last, "start": round(first / rates[name], 3),
                             "end": round((last + 1) / rates[name], 3)}
                            for name, first, last in missing_stretches(statuses)]}

    def frame(self, key: str, excluded: set[str]) -> dict:
        """One frame's status, size, face box and landmarks (None where it has no face)."""
        name, index = self.position[key]
        video = self.videos[name]
        box, points = video["boxes"][index], video["points"][index]
        face_key = video["face_keys"][index]
        return {"key": key, "video": name, "frame": index, "width": video["width"], "height": video["height"],
                "time": round(index / float(Fraction(video["rate"])), 3), "face": face_key,
                "status": "excluded" if face_key in excluded else video["statuses"][index],
                "box": None if np.isnan(box).any() else box.astype(float).round(1).tolist(),
                "landmarks": None if np.isnan(points).any() else points.astype(float).round(1).tolist()}
