"""The alignments file: per video, every frame with the faces found in it, readable with json alone.

Schema (version 3), documented in README.md, "Alignments file"::

    {"schema": "faceswap-pipeline/alignments", "version": 3, "side": "target",
     "aligned_size": 64, "padding": 0.15, "template_5": [[x, y] x 5], "max_gap": 12, "smoothing_window": 5,
     "cut_threshold": 5.0,
     "videos": {"<video>": {"rate": "24000/1001", "width": 640, "height": 360, "frame_count": 472,
                            "frames": [{"frame": 0, "shot": 0, "status": "detected" | "recovered" | "missing",
                                        "faces": [{"key", "source", "box", "score", "identity_distance",
                                                   "landmarks_5", "landmarks_68", "transform"}]}]}}}

``transform`` is the 2x3 matrix taking frame pixels to the aligned face. Version 2 added the status
"recovered", and per face ``source`` (detected or interpolated) and ``identity_distance``; version 3 each frame's
``shot`` (counted from 0, one more after each hard cut). ``write_alignments`` writes it frame by frame and
``open_alignments`` reads it back the same way, checking the schema, the version and every frame: every consumer
reads it there. Version 2 is still read, as a video with no cut known.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.core.damage import damaged, is_count, is_rate
from faceswap.core.json_stream import JsonStream
from faceswap.faces.landmarks import TEMPLATE_5
from faceswap.faces.timeseries import runs
from faceswap.media.imageset import plain

SCHEMA = "faceswap-pipeline/alignments"
VERSION = 3
READABLE_VERSIONS = (2, 3)  # version 2 has no shots: read as one shot per video
FACE_FIELDS = ("key", "box", "score", "identity_distance", "landmarks_5", "landmarks_68", "transform")
STATUS_CODES = {"missing": 0, "recovered": 1, "detected": 2}  # the timeline plot's y axis
FACE_SHAPES = {"box": (4,), "landmarks_68": (68, 2), "transform": (2, 3)}  # what conversion and the timeline read


def alignments_document(side: str, videos: dict, faces: Iterable[dict], settings: dict,
                        shots: dict[str, list[int]] | None = None) -> dict:
    """Lay aligned faces out frame by frame; a frame with no face gets status "missing", never a gap.

    ``faces`` come in index order, video by video (in the order of ``videos``) and frame by frame. Each video's
    ``frames`` is a generator that takes faces as it goes, so ``write_alignments`` writes a feature film's
    file without holding it; ``list()`` it to change frames first. ``settings`` are the alignments params
    recorded in the file (aligned_size, padding, max_gap, ...); ``shots`` each video's shot number per frame
    (none given: one shot).
    """
    faces, names = iter(faces), list(videos)
    upcoming = [next(faces, None)]  # the next face not yet placed

    def frames(name: str, count: int) -> Iterator[dict]:
        numbers = (shots or {}).get(name) or [0] * count
        for index in range(count):
            found = []
            while upcoming[0] is not None and (upcoming[0]["video"], upcoming[0]["frame"]) == (name, index):
                found.append({"source": "detected", **{k: upcoming[0][k] for k in FACE_FIELDS}})
                upcoming[0] = next(faces, None)
            yield {"frame": index, "shot": numbers[index], "status": "detected" if found else "missing",
                   "faces": found}
        if upcoming[0] is not None and upcoming[0]["video"] not in names[names.index(name) + 1:]:
            raise ValueError(f"alignments: face {upcoming[0]['key']} is out of order, or past the last frame "
                             f"of its video (video {name} has {count})")

    document = {"schema": SCHEMA, "version": VERSION, "side": side, **settings,
                "template_5": np.round(TEMPLATE_5, 6).tolist(), "videos": {}}
    for name, video in videos.items():
        document["videos"][name] = {"rate": video["sample_rate"], "width": video["width"], "height": video["height"],
                                    "frame_count": video["frames"], "frames": frames(name, video["frames"])}
    return document


class Written(NamedTuple):
    """What ``write_alignments`` wrote, frame by frame: each video's statuses, which ``coverage``, ``timeline`` and
    ``missing_stretches`` read, and the key of each frame's first face (the one conversion swaps; None)."""
    statuses: dict[str, list[str]]
    faces: dict[str, list[str | None]]


def missing_stretches(statuses: dict[str, list[str]]) -> list[tuple[str, int, int]]:
    """``(video, first, last)`` frame of each run of frames without a face."""
    return [(name, gap.start, gap.stop - 1) for name, video in statuses.items()
            for gap in runs([status == "missing" for status in video])]


def coverage(statuses: dict[str, list[str]]) -> dict:
    """How many frames have a face (detected or recovered), and the longest run of frames without one."""
    counts = dict.fromkeys(STATUS_CODES, 0)
    for video in statuses.values():
        for status in video:
            counts[status] += 1
    total = sum(counts.values())
    with_face = counts["detected"] + counts["recovered"]
    return {"frames": total, "frames_detected": counts["detected"], "frames_recovered": counts["recovered"],
            "frames_missing": counts["missing"], "coverage": round(with_face / total, 4) if total else 0.0,
            "longest_gap": max((last - first + 1 for _, first, last in missing_stretches(statuses)), default=0)}


def write_alignments(path: Path, document: dict) -> Written:
    """Write the document as compact JSON with one frame per line: a fifth of the size of indented JSON, a diff
    shows the frames that changed, and the text is written frame by frame, never built whole in memory.
    Points may be numpy arrays (a fifth of the memory of lists of floats until written).

    Returns each video's status and first face per frame, as written (``Written``)."""
    def opened(mapping: dict, key: str) -> str:  # '{"a": 1, ..., "key": ' with the value still to come
        rest = {k: v for k, v in mapping.items() if k != key}
        return (json.dumps(rest)[:-1] + ", " if rest else "{") + json.dumps(key) + ": "

    written = Written({name: [] for name in document["videos"]}, {name: [] for name in document["videos"]})

    with atomic_file(path) as tmp, open(tmp, "w") as out:
        out.write(opened(document, "videos") + "{")
        for number, (name, video) in enumerate(document["videos"].items()):
            out.write(("," if number else "") + "\n" + json.dumps(name) + ": " + opened(video, "frames") + "[")
            for index, frame in enumerate(video["frames"]):
                out.write(("," if index else "") + "\n" + json.dumps(frame, separators=(",", ":"), default=plain))
                written.statuses[name].append(frame["status"])
                written.faces[name].append(frame["faces"][0]["key"] if frame["faces"] else None)
            out.write("]}")
        out.write("}}\n")
    return written


def read_alignments(path: Path) -> dict:
    """A whole alignments file, checked as ``open_alignments`` checks it: for a small file (a feature film's takes
    gigabytes parsed: stream it with ``open_alignments``)."""
    with open_alignments(path) as alignments:
        videos = {name: {**video, "frames": list(frames)} for name, video, frames in alignments.videos()}
        return {**alignments.header, "videos": videos}


def open_alignments(path: Path) -> "AlignmentsStream":
    """``with open_alignments(path) as alignments``: the file read as it streams, checked as it comes."""
    return AlignmentsStream(path)


class AlignmentsStream:
    """An alignments file read as it streams, frame by frame, in the memory of one frame: the settings first
    (``header``), then ``videos()``. Everything is checked as it comes: a file of another version (written by older
    code) stops with one line saying how to write it anew; a damaged one (cut short, a frame out of place, a rate of
    0) with one line saying how to get it back, at the first wrong frame."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._json = JsonStream(self.path, open(self.path, encoding="utf-8"))
        except FileNotFoundError:
            raise damaged(self.path, "not found") from None
        except IsADirectoryError:
            raise damaged(self.path, "is a folder, not a file") from None
        try:
            self.header = self._read_header()
        except BaseException:
            self._json.file.close()
            raise

    def _read_header(self) -> dict:
        """The settings, up to the videos, checked."""
        first = self._json.peek()
        if first != "{":
            if not first:
                raise damaged(self.path, "empty")
            check_header(self.path, None)
        header = {}
        self._top = self._json.members()
        for key in self._top:
            if key == "videos":
                check_header(self.path, {**header, "videos": None})
                return header
            header[key] = self._json.value()
        check_header(self.path, header)  # no videos: says so

    def videos(self) -> Iterator[tuple[str, dict, Iterator[dict]]]:
        """``(name, video, frames)`` of each video: its rate, size and frame count, and its frames one by one,
        checked. Frames a caller leaves unread are skipped when it asks for the next video."""
        if self._json.peek() != "{":
            raise damaged(self.path, "videos is not an object with an entry per video")
        count = 0
        for name in self._json.members():
            video, framed = {}, False
            for key in self._json.members():
                if key != "frames":
                    video[key] = self._json.value()
                    continue
                check_video(self.path, name, video)
                frames, framed = self._frames(name, video), True
                yield name, video, frames
                for _ in frames:  # what the caller did not read
                    pass
            if not framed:
                raise damaged(self.path, f"video {name!r} lacks frames")
            count += 1
        if not count:
            raise damaged(self.path, "videos is not an object with an entry per video")
        for key in self._top:  # anything after the videos
            self.header[key] = self._json.value()
        if self._json.peek():
            raise damaged(self.path, "holds more than one JSON value")

    def _frames(self, name: str, video: dict) -> Iterator[dict]:
        """One video's frames, each checked, and as many as its frame count says."""
        lacking = f"video {name!r}: frames is not a list of its {video['frame_count']} frames"
        if self._json.peek() != "[":
            raise damaged(self.path, lacking)
        count = 0
        for _ in self._json.elements():
            if count == video["frame_count"]:
                raise damaged(self.path, lacking)
            frame = self._json.value()
            check_frame(self.path, name, count, frame, self.header["version"])
            yield frame
            count += 1
        if count != video["frame_count"]:
            raise damaged(self.path, lacking)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._json.file.close()


def check_header(path: Path, document) -> None:
    """What precedes the videos: the schema, a version this code reads, the settings."""
    remake = f"run `dvc repro -f alignments@{path.parent.name}` to write it anew"
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UserError(f"{path}: not an alignments file (no schema {SCHEMA!r}); {remake}")
    if document.get("version") not in READABLE_VERSIONS:
        raise UserError(f"{path}: alignments version {document.get('version')!r}, this code reads versions "
                        f"{' and '.join(map(str, READABLE_VERSIONS))}; {remake}")
    missing = [key for key in ("side", "aligned_size", "padding", "videos") if key not in document]
    if missing:
        raise UserError(f"{path}: lacks {', '.join(missing)}; {remake}")
    if not is_count(document["aligned_size"], 1) or not isinstance(document["padding"], int | float):
        raise damaged(path, "aligned_size is not a whole number above 0, or padding not a number")


def check_video(path: Path, name: str, video: dict) -> None:
    """One video's rate, size and frame count, written before its frames (which are checked one by one)."""
    keys = ("rate", "width", "height", "frame_count")
    if any(key not in video for key in keys):
        raise damaged(path, f"video {name!r} lacks one of {', '.join(keys)} before its frames")
    if not is_rate(video["rate"]):
        raise damaged(path, f"video {name!r}: rate {video['rate']!r} is not a positive fraction")
    if not (is_count(video["width"], 1) and is_count(video["height"], 1) and is_count(video["frame_count"])):
        raise damaged(path, f"video {name!r}: width, height and frame_count are not whole numbers (the size "
                            "above 0)")


def check_frame(path: Path, name: str, index: int, frame, version: int) -> None:
    """Frame ``index`` of a video: numbered ``index``, a known status, its shot, its faces with their points."""
    where = f"video {name!r}, frame {index}"
    if not isinstance(frame, dict) or frame.get("frame") != index:
        raise damaged(path, f"{where}: not the record of frame {index} (frames out of place or out of range)")
    if frame.get("status") not in STATUS_CODES or not isinstance(frame.get("faces"), list):
        raise damaged(path, f"{where}: no known status or no list of faces")
    if version >= 3 and not is_count(frame.get("shot")):
        raise damaged(path, f"{where}: shot is not a whole number")
    for face in frame["faces"]:
        if not isinstance(face, dict) or any(np.shape(face.get(key)) != shape for key, shape in FACE_SHAPES.items()):
            raise damaged(path, f"{where}: a face lacks a box of 4 numbers, 68 landmarks or a 2x3 transform")


def first_faces(alignments: "AlignmentsStream", video: str) -> Iterator[tuple[dict | None, int]]:
    """The first face of each frame of one video (None where the frame has none: on the target, the one face
    conversion swaps) and the frame's shot (a version 2 file knows of no cut: one shot), as the file streams."""
    for name, _, frames in alignments.videos():
        if name == video:
            for frame in frames:
                yield (frame["faces"][0] if frame["faces"] else None), frame.get("shot", 0)
            return
    raise damaged(alignments.path, f"holds no video {video!r}")
