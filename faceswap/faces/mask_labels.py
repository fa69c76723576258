"""Mask labels: polygons drawn on target frames (on the review page) saying what covers the face, read by the
mask training. One documented, versioned file, ``data/labels/target.json``, tracked in git like the exclusion
lists::

    {"schema": "faceswap-pipeline/mask-labels", "version": 1,
     "frames": {"target_000123": {"occluders": [[[x, y], ...], ...], "face": [[[x, y], ...], ...]}}}

Keys are frame keys (``<video>_<frame>``, stable whatever the detection params); points are in pixels of the
target frame, so the labels survive a change of the aligned size or padding. ``occluders`` are polygons of what
is in front of the face (a hand, hair, a microphone); ``face`` optionally outlines the visible face. A frame
listed with both empty says "nothing covers this face". The visible face is the union of the ``face`` polygons
(else the landmark hull the caller passes) minus the occluders.
"""

import json
import re
from pathlib import Path

import cv2
import numpy as np

from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.faces.geometry import apply

SCHEMA = "faceswap-pipeline/mask-labels"
VERSION = 1
FRAME_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*_\d{6}$")
KINDS = ("occluders", "face")
MAX_POLYGONS = 64  # per kind and frame
MAX_POINTS = 512  # per polygon
MAX_FRAME_POINTS = 1000  # per frame, all polygons: a person clicks a few dozen


def check_frame(key: str, label, where: str) -> dict[str, list]:
    """One frame's label as plain lists of [x, y] floats; anything else is a UserError naming ``where``."""
    if not isinstance(key, str) or not FRAME_KEY.match(key):
        raise UserError(f"{where}: {key!r} is not a frame key like 'target_000123'")
    if not isinstance(label, dict) or set(label) - set(KINDS):
        raise UserError(f"{where}: frame {key}: give an object with 'occluders' and/or 'face' polygon lists")
    checked = {}
    for kind in KINDS:
        polygons = label.get(kind, [])
        if not isinstance(polygons, list) or len(polygons) > MAX_POLYGONS:
            raise UserError(f"{where}: frame {key}: '{kind}' must be a list of at most {MAX_POLYGONS} polygons")
        checked[kind] = [check_polygon(polygon, f"{where}: frame {key}: {kind}") for polygon in polygons]
    if sum(len(polygon) for polygons in checked.values() for polygon in polygons) > MAX_FRAME_POINTS:
        raise UserError(f"{where}: frame {key}: at most {MAX_FRAME_POINTS} points in all, far more than a person "
                        f"draws")
    return checked


def check_polygon(polygon, where: str) -> list[list[float]]:
    try:
        points = np.asarray(polygon, np.float64)
    except (TypeError, ValueError):
        points = np.zeros((0,))
    if points.ndim != 2 or points.shape[1:] != (2,) or not 3 <= len(points) <= MAX_POINTS:
        raise UserError(f"{where}: a polygon is 3 to {MAX_POINTS} [x, y] points")
    if not np.isfinite(points).all() or np.abs(points).max() > 1e5:
        raise UserError(f"{where}: polygon points must be finite pixel coordinates")
    return np.round(points, 1).tolist()


def read_mask_labels(path: Path) -> dict[str, dict[str, list]]:
    """The labelled frames of a labels file, checked; no file means no label yet."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); fix it or restore it with git") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise UserError(f"{path}: not a mask labels file (no schema {SCHEMA!r})")
    if document.get("version") != VERSION:
        raise UserError(f"{path}: mask labels version {document.get('version')!r}; this code reads {VERSION}")
    frames = document.get("frames")
    if not isinstance(frames, dict):
        raise UserError(f"{path}: 'frames' must map frame keys to labels")
    return {key: check_frame(key, label, str(path)) for key, label in frames.items()}


def write_mask_labels(path: Path, frames: dict[str, dict]) -> None:
    """Check and write the labels whole (atomically), one frame a line so that git diffs stay readable."""
    checked = {key: check_frame(key, label, str(path)) for key, label in sorted(frames.items())}
    lines = [json.dumps(key) + ": " + json.dumps(label, separators=(",", ":")) for key, label in checked.items()]
    body = ",\n".join(lines)
    text = (f'{{"schema": "{SCHEMA}", "version": {VERSION}, "frames": {{' + ("\n" + body + "\n" if body else "")
            + "}}\n")
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def visible_face(label: dict[str, list], transform: np.ndarray, size: int, hull: np.ndarray) -> np.ndarray:
    """The visible-face mask (uint8, 255 inside) of a labelled frame in the aligned face of side ``size``:
    the ``face`` polygons (else ``hull``, the caller's landmark-hull mask) minus the occluders, each polygon
    moved into the aligned face by the frame-to-aligned ``transform``."""
    def fill(polygons) -> np.ndarray:
        mask = np.zeros((size, size), np.uint8)
        for polygon in polygons:
            cv2.fillPoly(mask, [np.round(apply(transform, np.asarray(polygon))).astype(np.int32)], 255)
        return mask

    face = fill(label["face"]) if label["face"] else hull.copy()
    face[fill(label["occluders"]) > 0] = 0
    return face
