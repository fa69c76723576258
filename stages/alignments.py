"""Stage alignments: 68-point landmarks, the transform to the canonical pose, aligned faces, masks and
the alignments file.

Writes ``data/alignments/<side>/``: aligned faces (``<key>.jpg``) and landmark-hull masks
(``<key>.mask.png``) at ``alignments.size`` as tar shards, ``index.jsonl``, and ``alignments.json``
(every frame of every video, with or without a face: see README, "Alignments file"). The coverage
summary goes to ``data/metrics/alignments-<side>.json``.
"""

from pathlib import Path

import cv2
import numpy as np

from stages.lib import cli, params
from stages.lib.alignments_file import build_alignments, coverage
from stages.lib.atomic import atomic_dir, read_json, write_json
from stages.lib.imageset import ShardWriter, decode_image, encode_jpeg, encode_png, iter_samples, read_index
from stages.lib.landmarks import LandmarkModel, alignment_transform, apply, hull_mask


def crop_to_frame(placement: list[float], crop_size: int) -> np.ndarray:
    """The 2x3 matrix taking crop pixels to frame pixels, from a crop's placement ``[x0, y0, side]``."""
    x0, y0, side = placement
    scale = side / crop_size
    return np.array([[scale, 0, x0], [0, scale, y0]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 matrix applying ``inner`` then ``outer``."""
    return np.vstack([outer, [0, 0, 1]])[:2] @ np.vstack([inner, [0, 0, 1]])


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("alignments")
    filtered = Path("data/filtered") / side
    faces = read_index(filtered)
    if side == "target":  # one face per target frame: the detector's most confident
        best: dict[str, dict] = {}
        for face in faces:
            if face["frame_key"] not in best or face["score"] > best[face["frame_key"]]["score"]:
                best[face["frame_key"]] = face
        faces = [face for face in faces if best[face["frame_key"]] is face]
    model = LandmarkModel()
    aligned = []
    with atomic_dir(Path("data/alignments") / side) as out:
        with ShardWriter(out, "faces") as shards:
            for face, files in cli.progress(iter_samples(filtered, faces), f"alignments@{side}", len(faces)):
                crop = decode_image(files["jpg"])
                to_frame = crop_to_frame(face["crop"], crop.shape[0])
                to_crop = cv2.invertAffineTransform(to_frame)
                box_in_crop = [*apply(to_crop, np.array([face["box"][:2]]))[0],
                               face["box"][2] / to_frame[0, 0], face["box"][3] / to_frame[0, 0]]
                landmarks = apply(to_frame, model.predict(crop, box_in_crop))
                transform = alignment_transform(landmarks, p.size, p.padding)
                image = cv2.warpAffine(crop, compose(transform, to_frame), (p.size, p.size), flags=cv2.INTER_AREA,
                                       borderMode=cv2.BORDER_REPLICATE)
                mask = hull_mask(apply(transform, landmarks), p.size)
                record = {**{k: v for k, v in face.items() if k not in ("key", "shard")},
                          "landmarks_68": np.round(landmarks, 2).tolist(),
                          "transform": np.round(transform, 6).tolist()}
                shards.add(face["key"], {"jpg": encode_jpeg(image), "mask.png": encode_png(mask)}, record)
                aligned.append({"key": face["key"], **record})
        videos = read_json(filtered / "videos.json")
        document = build_alignments(side, videos, aligned, p.size, p.padding)
        write_json(out / "alignments.json", document)
        summary = coverage(document)
        write_json(Path("data/metrics") / f"alignments-{side}.json", summary)
    cli.log.info("alignments@%s: %d aligned faces; coverage %s", side, len(aligned), summary)
    if side == "target" and summary["longest_gap"] > 0:
        cli.log.warning("alignments@target: %d frames have no face (longest gap %d frames); they are left unswapped",
                        summary["frames_missing"], summary["longest_gap"])


if __name__ == "__main__":
    cli.run(main)
