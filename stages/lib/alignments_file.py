"""The alignments file: per video, every frame with the faces found in it, readable with json alone.

Schema (version 2), documented in README.md, "Alignments file"::

    {"schema": "faceswap-pipeline/alignments", "version": 2, "side": "target",
     "aligned_size": 64, "padding": 0.15, "template_5": [[x, y] x 5], "max_gap": 12, "smoothing_window": 5,
     "videos": {"<video>": {"rate": "24000/1001", "width": 640, "height": 360, "frame_count": 472,
                            "frames": [{"frame": 0, "status": "detected" | "recovered" | "missing",
                                        "faces": [{"key", "source", "box", "score", "identity_distance",
                                                   "landmarks_5", "landmarks_68", "transform"}]}]}}}

``transform`` is the 2x3 matrix taking frame pixels to the aligned face. Version 2 added the status
"recovered", and per face ``source`` (detected or interpolated) and ``identity_distance``.
"""

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_file
from .imageset import plain
from .landmarks import TEMPLATE_5

SCHEMA = "faceswap-pipeline/alignments"
VERSION = 2
FACE_FIELDS = ("key", "box", "score", "identity_distance", "landmarks_5", "landmarks_68", "transform")
STATUS_CODES = {"missing": 0, "recovered": 1, "detected": 2}  # the timeline plot's y axis


def build_alignments(side: str, videos: dict, faces: list[dict], settings: dict) -> dict:
    """Lay aligned faces out frame by frame; a frame with no face gets status "missing", never a gap.

    ``settings`` are the alignments params recorded in the file (aligned_size, padding, max_gap, ...).
    """
    by_frame: dict[tuple[str, int], list[dict]] = {}
    for face in faces:
        by_frame.setdefault((face["video"], face["frame"]), []).append(
            {"source": "detected", **{k: face[k] for k in FACE_FIELDS}})
    document = {"schema": SCHEMA, "version": VERSION, "side": side, **settings,
                "template_5": np.round(TEMPLATE_5, 6).tolist(), "videos": {}}
    for name, video in videos.items():
        frames = []
        for index in range(video["frames"]):
            found = by_frame.get((name, index), [])
            frames.append({"frame": index, "status": "detected" if found else "missing", "faces": found})
        document["videos"][name] = {"rate": video["sample_rate"], "width": video["width"], "height": video["height"],
                                    "frame_count": video["frames"], "frames": frames}
    return document


def timeline(document: dict) -> list[dict]:
    """One row per frame of every video, in order: position, video, frame, status and its code."""
    rows = []
    for name, video in document["videos"].items():
        for frame in video["frames"]:
            rows.append({"position": len(rows), "video": name, "frame": frame["frame"], "status": frame["status"],
                         "status_code": STATUS_CODES[frame["status"]]})
    return rows


def missing_stretches(document: dict) -> list[tuple[str, int, int]]:
    """``(video, first, last)`` frame of each run of frames without a face."""
    stretches = []
    for name, video in document["videos"].items():
        start = None
        for frame in video["frames"] + [{"frame": video["frame_count"], "status": "end"}]:
            if frame["status"] == "missing" and start is None:
                start = frame["frame"]
            elif frame["status"] != "missing" and start is not None:
                stretches.append((name, start, frame["frame"] - 1))
                start = None
    return stretches


def coverage(document: dict) -> dict:
    """How many frames have a face (detected or recovered), and the longest run of frames without one."""
    counts = dict.fromkeys(STATUS_CODES, 0)
    for video in document["videos"].values():
        for frame in video["frames"]:
            counts[frame["status"]] += 1
    total = sum(counts.values())
    with_face = counts["detected"] + counts["recovered"]
    return {"frames": total, "frames_detected": counts["detected"], "frames_recovered": counts["recovered"],
            "frames_missing": counts["missing"], "coverage": round(with_face / total, 4) if total else 0.0,
            "longest_gap": max((last - first + 1 for _, first, last in missing_stretches(document)), default=0)}


def write_alignments(path: Path, document: dict) -> None:
    """Write the document as compact JSON with one frame per line: a fifth of the size of indented JSON, a diff
    shows the frames that changed, and the text is written frame by frame, never built whole in memory.
    Points may be numpy arrays (a fifth of the memory of lists of floats until written)."""
    def opened(mapping: dict, key: str) -> str:  # '{"a": 1, ..., "key": ' with the value still to come
        rest = {k: v for k, v in mapping.items() if k != key}
        return (json.dumps(rest)[:-1] + ", " if rest else "{") + json.dumps(key) + ": "

    with atomic_file(path) as tmp, open(tmp, "w") as out:
        out.write(opened(document, "videos") + "{")
        for number, (name, video) in enumerate(document["videos"].items()):
            out.write(("," if number else "") + "\n" + json.dumps(name) + ": " + opened(video, "frames") + "[")
            for index, frame in enumerate(video["frames"]):
                out.write(("," if index else "") + "\n" + json.dumps(frame, separators=(",", ":"), default=plain))
            out.write("]}")
        out.write("}}\n")
