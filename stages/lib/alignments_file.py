"""The alignments file: per video, every frame with the faces found in it, readable with json alone.

Schema (version 1), documented in README.md, "Alignments file"::

    {"schema": "faceswap-pipeline/alignments", "version": 1, "side": "target",
     "aligned_size": 64, "padding": 0.15, "template_5": [[x, y] x 5],
     "videos": {"<video>": {"rate": "24000/1001", "width": 640, "height": 360, "frame_count": 472,
                            "frames": [{"frame": 0, "status": "detected" | "missing",
                                        "faces": [{"key", "box", "score", "landmarks_5", "landmarks_68",
                                                   "transform"}]}]}}}

``transform`` is the 2x3 matrix taking frame pixels to the aligned face.
"""

import numpy as np

from .landmarks import TEMPLATE_5

SCHEMA = "faceswap-pipeline/alignments"
VERSION = 1
FACE_FIELDS = ("key", "box", "score", "landmarks_5", "landmarks_68", "transform")


def build_alignments(side: str, videos: dict, faces: list[dict], size: int, padding: float) -> dict:
    """Lay aligned faces out frame by frame; a frame with no face gets status "missing", never a gap."""
    by_frame: dict[tuple[str, int], list[dict]] = {}
    for face in faces:
        by_frame.setdefault((face["video"], face["frame"]), []).append({k: face[k] for k in FACE_FIELDS})
    document = {"schema": SCHEMA, "version": VERSION, "side": side, "aligned_size": size, "padding": padding,
                "template_5": np.round(TEMPLATE_5, 6).tolist(), "videos": {}}
    for name, video in videos.items():
        frames = []
        for index in range(video["frames"]):
            found = by_frame.get((name, index), [])
            frames.append({"frame": index, "status": "detected" if found else "missing", "faces": found})
        document["videos"][name] = {"rate": video["sample_rate"], "width": video["width"], "height": video["height"],
                                    "frame_count": video["frames"], "frames": frames}
    return document


def coverage(document: dict) -> dict:
    """How many frames have a face, and the longest run of frames without one."""
    total = found = longest = 0
    for video in document["videos"].values():
        run = 0
        for frame in video["frames"]:
            total += 1
            if frame["status"] == "missing":
                run += 1
                longest = max(longest, run)
            else:
                found += 1
                run = 0
    return {"frames": total, "frames_with_face": found, "frames_missing": total - found,
            "coverage": round(found / total, 4) if total else 0.0, "longest_gap": longest}
