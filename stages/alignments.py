"""Stage alignments: 68-point landmarks, the transform to the canonical pose, aligned faces, masks and
the alignments file.

On the target, each frame's face is the one nearest the target's person (filtered recorded the distance);
gaps of at most ``alignments.max_gap`` frames between faces are recovered by interpolating the face's points,
and points are smoothed over time (``alignments.smoothing_window``), never across a hard cut between shots
(ffmpeg's scdet over ``alignments.cut_threshold``, each frame's shot recorded in the file). A stretch still
without a face is a loud warning: it stays unswapped.

Writes ``data/alignments/<side>/``: aligned faces (``<key>.jpg``) and landmark-hull masks (``<key>.mask.png``) at
``alignments.size`` as tar shards (detected faces only: training material), ``index.jsonl``, and
``alignments.json`` (every frame of every video: see README, "Alignments file"); the coverage summary
``data/metrics/alignments-<side>.json``, the per-frame status ``data/metrics/alignments-<side>-timeline.csv``
and the contact sheet ``data/sheets/alignments-<side>.jpg``.
"""

import csv
from collections.abc import Iterable, Iterator
from fractions import Fraction
from functools import partial
from itertools import groupby
from pathlib import Path

import numpy as np

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, atomic_file, write_json
from faceswap.core.workers import map_in_workers
from faceswap.faces.alignments_file import alignments_document, coverage, missing_stretches, timeline, write_alignments
from faceswap.faces.geometry import aligned_face, apply, box_in_crop, crop_to_frame
from faceswap.faces.landmarks import LandmarkModel, alignment_transform, five_points, hull_mask
from faceswap.faces.timeseries import interpolate_gaps, jitter, smooth
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.cuts import cut_frames, shot_numbers
from faceswap.media.imageset import ShardWriter, decode_image, encode_jpeg, encode_png, iter_index, iter_samples
from faceswap.media.shard_reader import ShardReader
from faceswap.media.video import read_catalogue

# a face's points over time, as one (n, 2) array: box as two points (x, y) and (w, h), then the landmarks
POINT_FIELDS = (("box", 2), ("landmarks_5", 5), ("landmarks_68", 68))


def align_face(model: LandmarkModel, sample: tuple, size: int, padding: float) -> tuple:
    """Landmarks of one filtered crop in frame pixels, the transform to the canonical pose, and the aligned face
    and mask as image files (run in a worker process); the crop's record comes back with them. The landmarks
    are found in the crop; the aligned face is warped from the frame, once, as conversion warps it (a face
    warped from the crop was resampled twice and a JPEG generation older)."""
    face, files = sample
    crop = decode_image(files["jpg"])
    to_frame = crop_to_frame(face["crop"], crop.shape[0])
    landmarks = apply(to_frame, model.predict(crop, box_in_crop(face["box"], face["crop"], crop.shape[0])))
    transform = alignment_transform(landmarks, size, padding)
    image = aligned_face(decode_image(files["frame.jpg"]), transform, size)
    mask = hull_mask(apply(transform, landmarks), size)
    return face, {"jpg": encode_jpeg(image), "mask.png": encode_png(mask)}, landmarks, transform


def with_frames(samples: Iterable[tuple], frames: ShardReader) -> Iterator[tuple]:
    """Each filtered face's sample with the JPEG of the frame it was found in."""
    for face, files in samples:
        yield face, {**files, "frame.jpg": frames.read(face["frame_key"])}


def aligned_faces(side: str, faces: Iterable[dict], shards: ShardWriter, size: int, padding: float) -> Iterator[dict]:
    """Align each face in worker processes, add its aligned image and mask to ``shards``, and yield its record
    with the landmarks and transform. Lazy: faces are read, aligned and stored as the records are taken."""
    samples = with_frames(iter_samples(paths.stage_output("filtered", side), faces),
                          ShardReader(paths.stage_output("frames", side)))
    results = map_in_workers(partial(align_face, size=size, padding=padding), samples, setup=LandmarkModel)
    for face, files, landmarks, transform in cli.progress(results, f"alignments@{side}"):
        record = {**{k: v for k, v in face.items() if k not in ("key", "shard")},  # arrays: a fifth
                  "landmarks_68": np.round(landmarks, 2), "transform": np.round(transform, 6)}  # of lists
        shards.add(face["key"], files, record)
        yield {"key": face["key"], **record}


def wanted_faces(faces: Iterable[dict]) -> Iterator[dict]:
    """One face per frame: the nearest to the side's person (the most confident on a tie). The faces of a frame
    come together in the index."""
    for _, group in groupby(faces, key=lambda face: face["frame_key"]):
        yield min(group, key=lambda face: (face["identity_distance"], -face["score"]))


def stabilise(frames: list[dict], max_gap: int, window: int, size: int, padding: float) -> dict:
    """Recover short gaps and smooth the points of the first face of each frame, in place; return the jitter
    of the five points before and after smoothing."""
    points = np.full((len(frames), sum(n for _, n in POINT_FIELDS), 2), np.nan)
    for index, frame in enumerate(frames):
        if frame["faces"]:
            points[index] = np.concatenate([np.reshape(frame["faces"][0][name], (n, 2)) for name, n in POINT_FIELDS])
    shots = [frame["shot"] for frame in frames]
    recovered = set(interpolate_gaps(points, max_gap, shots))
    smoothed = smooth(points, window, shots)
    for index, frame in enumerate(frames):
        if np.isnan(smoothed[index, 0, 0]):
            continue
        if index in recovered:
            frame["status"] = "recovered"
            frame["faces"] = [{"key": None, "source": "interpolated", "score": None, "identity_distance": None}]
        parts = np.split(smoothed[index], np.cumsum([n for _, n in POINT_FIELDS])[:-1])
        face = frame["faces"][0]
        face.update({name: np.round(part, 2).reshape(-1) if name == "box" else np.round(part, 2)
                     for (name, _), part in zip(POINT_FIELDS, parts)})
        face["transform"] = np.round(alignment_transform(parts[2], size, padding), 6)
    landmarks = slice(7, None)  # measured on the points as written (to 0.01 px), as the output stage reads them
    return {"jitter_landmarks_raw_px": jitter(five_points(points[:, landmarks]), shots),
            "jitter_landmarks_px": jitter(five_points(np.round(smoothed[:, landmarks], 2)), shots)}


def video_shots(side: str, videos: dict, threshold: float) -> dict[str, list[int]]:
    """Each video's shot number per frame, from the hard cuts ffmpeg's scdet finds in the input video."""
    return {name: shot_numbers(cut_frames(paths.raw(side) / entry["file"], entry["sample_rate"], threshold),
                               entry["frames"]) for name, entry in videos.items()}


def write_timeline(path: Path, rows: list[dict]) -> None:
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["position", "status_code"])
        writer.writeheader()
        writer.writerows(rows)


def warn_missing(statuses: dict[str, list[str]], document: dict) -> None:
    """One loud line per stretch of target frames still without a face: they stay unswapped."""
    for name, first, last in missing_stretches(statuses):
        seconds = 1 / Fraction(document["videos"][name]["rate"])
        cli.log.warning("alignments@target: NO FACE in frames %d-%d of %s (%d frames, %.2f-%.2f s): they stay "
                        "unswapped; see %s, raise alignments.max_gap or lower crops.score_threshold", first, last,
                        name, last - first + 1, first * seconds, (last + 1) * seconds,
                        paths.contact_sheet("crops", "target"))


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("alignments")
    filtered = paths.stage_output("filtered", side)
    faces = iter_index(filtered)  # never whole: a feature film's records would take gigabytes
    if side == "target":
        faces = wanted_faces(faces)
    videos = read_catalogue(filtered)
    target = side == "target"  # only the target is smoothed, so only its cuts are looked for
    settings = {"aligned_size": p.size, "padding": p.padding, "max_gap": p.max_gap,
                "smoothing_window": p.smoothing_window if target else 0,
                "cut_threshold": p.cut_threshold if target else None}
    shots = video_shots(side, videos, p.cut_threshold) if target else None
    with atomic_dir(paths.stage_output("alignments", side)) as out:
        with ShardWriter(out, "faces") as shards:
            aligned = aligned_faces(side, faces, shards, p.size, p.padding)
            document = alignments_document(side, videos, aligned, settings, shots)
            steadiness = {}
            if target:  # smoothing needs the whole clip: its frames are held (about 2 KB each)
                (video,) = document["videos"].values()
                video["frames"] = list(video["frames"])
                steadiness = stabilise(video["frames"], p.max_gap, p.smoothing_window, p.size, p.padding)
                steadiness["shot_cuts"] = video["frames"][-1]["shot"] if video["frames"] else 0
            statuses = write_alignments(out / paths.ALIGNMENTS_FILE, document)  # the source streams through here
        write_contact_sheet(out, paths.contact_sheet("alignments", side), f"alignments@{side}")
        summary = {**coverage(statuses), **steadiness}
        write_json(paths.metrics(f"alignments-{side}"), summary)
        write_timeline(paths.timeline(side), timeline(statuses))
    cli.log.info("alignments@%s: %d aligned faces; %s", side, shards.count, summary)
    if side == "target":
        warn_missing(statuses, document)


if __name__ == "__main__":
    cli.run(main)
