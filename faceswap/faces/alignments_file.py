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
``shot`` (counted from 0, one more after each hard cut). ``write_alignments`` writes it and ``read_alignments``
reads it back, checking the schema and version: every consumer reads it there. Version 2 is still read, as a
video with no cut known.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.faces.landmarks import TEMPLATE_5
from faceswap.faces.timeseries import runs
from faceswap.media.imageset import plain

SCHEMA = "faceswap-pipeline/alignments"
VERSION = 3
READABLE_VERSIONS = (2, 3)  # version 2 has no shots: read as one shot per video
FACE_FIELDS = ("key", "box", "score", "identity_distance", "landmarks_5", "landmarks_68", "transform")
STATUS_CODES = {"missing": 0, "recovered": 1, "detected": 2}  # the timeline plot's y axis


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


def timeline(statuses: dict[str, list[str]]) -> list[dict]:
    """One row per frame of every video, in order: position, video, frame, status and its code."""
    rows = []
    for name, video in statuses.items():
        for frame, status in enumerate(video):
            rows.append({"position": len(rows), "video": name, "frame": frame, "status": status,
                         "status_code": STATUS_CODES[status]})
    return rows


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


def write_alignments(path: Path, document: dict) -> dict[str, list[str]]:
    """Write the document as compact JSON with one frame per line: a fifth of the size of indented JSON, a diff
    shows the frames that changed, and the text is written frame by frame, never built whole in memory.
    Points may be numpy arrays (a fifth of the memory of lists of floats until written).

    Returns each video's status per frame, as written: what ``coverage``, ``timeline`` and
    ``missing_stretches`` read."""
    def opened(mapping: dict, key: str) -> str:  # '{"a": 1, ..., "key": ' with the value still to come
        rest = {k: v for k, v in mapping.items() if k != key}
        return (json.dumps(rest)[:-1] + ", " if rest else "{") + json.dumps(key) + ": "

    statuses = {name: [] for name in document["videos"]}

    with atomic_file(path) as tmp, open(tmp, "w") as out:
        out.write(opened(document, "videos") + "{")
        for number, (name, video) in enumerate(document["videos"].items()):
            out.write(("," if number else "") + "\n" + json.dumps(name) + ": " + opened(video, "frames") + "[")
            for index, frame in enumerate(video["frames"]):
                out.write(("," if index else "") + "\n" + json.dumps(frame, separators=(",", ":"), default=plain))
                statuses[name].append(frame["status"])
            out.write("]}")
        out.write("}}\n")
    return statuses


def read_alignments(path: Path) -> dict:
    """An alignments file, checked: its schema, its version and the keys a consumer needs. A file of another
    version (written by older code) stops with one line saying how to write it anew."""
    path = Path(path)
    remake = f"run `dvc repro -f alignments@{path.parent.name}` to write it anew"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found; {remake}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); {remake}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UserError(f"{path}: not an alignments file (no schema {SCHEMA!r}); {remake}")
    if document.get("version") not in READABLE_VERSIONS:
        raise UserError(f"{path}: alignments version {document.get('version')!r}, this code reads versions "
                        f"{' and '.join(map(str, READABLE_VERSIONS))}; {remake}")
    missing = [key for key in ("side", "aligned_size", "padding", "videos") if key not in document]
    if missing:
        raise UserError(f"{path}: lacks {', '.join(missing)}; {remake}")
    return document


def first_faces(document: dict, video: str) -> list[dict | None]:
    """The first face of each frame of one video, None where the frame has none: on the target, the one face
    conversion swaps."""
    return [frame["faces"][0] if frame["faces"] else None for frame in document["videos"][video]["frames"]]


def frame_shots(document: dict, video: str) -> list[int]:
    """Each frame's shot in one video; a version 2 file knows of no cut: one shot."""
    return [frame.get("shot", 0) for frame in document["videos"][video]["frames"]]
