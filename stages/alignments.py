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

from collections.abc import Iterable, Iterator
from fractions import Fraction
from functools import partial
from itertools import groupby

import numpy as np

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, write_json
from faceswap.core.workers import map_in_workers
from faceswap.faces.alignments_file import alignments_document, coverage, missing_stretches, write_alignments
from faceswap.faces.geometry import aligned_face, apply, box_in_crop, crop_to_frame
from faceswap.faces.landmarks import LandmarkModel, alignment_transform, hull_mask
from faceswap.faces.stabilise import Stabiliser
from faceswap.faces.timeline_file import timeline, write_timeline
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.cuts import cut_frames, shot_numbers
from faceswap.media.imageset import ShardWriter, decode_image, encode_jpeg, encode_png, iter_index, iter_samples
from faceswap.media.shard_reader import ShardReader
from faceswap.media.video import read_catalogue


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


def video_shots(side: str, videos: dict, threshold: float) -> dict[str, list[int]]:
    """Each video's shot number per frame, from the hard cuts ffmpeg's scdet finds in the input video."""
    return {name: shot_numbers(cut_frames(paths.raw(side) / entry["file"], entry["sample_rate"], threshold),
                               entry["frames"]) for name, entry in videos.items()}


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
            if target:  # steadied as the frames stream by, a window of them held
                ((name, video),) = document["videos"].items()
                stabiliser = Stabiliser(p.max_gap, p.smoothing_window, p.size, p.padding)
                video["frames"] = stabiliser.steadied(video["frames"])
            written = write_alignments(out / paths.ALIGNMENTS_FILE, document)
            steadiness = {**stabiliser.steadiness, "shot_cuts": max(shots[name], default=0)} if target else {}
        write_contact_sheet(out, paths.contact_sheet("alignments", side), f"alignments@{side}")
        summary = {**coverage(written.statuses), **steadiness}
        write_json(paths.metrics(f"alignments-{side}"), summary)
        write_timeline(paths.timeline(side), timeline(written))
    cli.log.info("alignments@%s: %d aligned faces; %s", side, shards.count, summary)
    if side == "target":
        warn_missing(written.statuses, document)


if __name__ == "__main__":
    cli.run(main)
