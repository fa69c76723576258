"""Stage output: convert the target video, putting the source's face on every frame that has a face.

Decodes the target and encodes the result through ffmpeg pipes (no frame touches the disk) with the target's
audio muxed back in, at the rate the target was extracted at, so frame ``i`` of the output is frame ``i`` of
the alignments. Frames with no face pass unchanged. Writes ``data/output/swapped.mp4``,
``data/output/side_by_side.mp4`` (target | swapped), before/after stills in ``data/output/stills/``, and the
quality metrics ``data/metrics/output.json``, which are also logged on the training run in MLflow.
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import mlflow
import numpy as np

from faceswap.convert.evaluation import identity_frames, identity_shift, landmark_box, reconstruction_ssim, side_by_side
from faceswap.convert.placement import jitter, placed_points, smooth_transforms
from faceswap.convert.swapper import FaceSwapper, Look, convert_stream
from faceswap.core import cli, params
from faceswap.core.atomic import atomic_dir, atomic_file, read_json, write_json
from faceswap.faces.identity import PERSON_FILE, FaceEmbedder
from faceswap.faces.landmarks import five_points
from faceswap.media import video
from faceswap.media.imageset import encode_jpeg
from faceswap.train import tracking

OUTPUT = Path("data/output/swapped.mp4")
SIDE_BY_SIDE = Path("data/output/side_by_side.mp4")
STILLS = Path("data/output/stills")
METRICS = Path("data/metrics/output.json")


def person_embedding(side: str) -> np.ndarray | None:
    """The embedding the filtered stage took as the side's person, if it found one."""
    embedding = read_json(Path("data/filtered") / side / PERSON_FILE)["embedding"]
    return None if embedding is None else np.array(embedding)


def main() -> None:
    p = params.load("output")
    (name, meta), = read_json(Path("data/frames/target/videos.json")).items()
    document = read_json(Path("data/alignments/target/alignments.json"))
    entries = document["videos"][name]["frames"]
    size, padding = document["aligned_size"], document["padding"]
    info = video.VideoInfo(**{k: meta[k] for k in ("fps", "width", "height", "duration", "has_audio")},
                           rate=meta["sample_rate"])
    target_path = Path("data/raw/target") / meta["file"]

    faces = [entry["faces"][0] if entry["faces"] else None for entry in entries]
    raw = [np.array(face["transform"]) if face else None for face in faces]
    transforms = smooth_transforms(raw, p.smooth_frames)
    landmarks = [np.array(face["landmarks_68"]) if face else None for face in faces]
    with_face = [i for i, face in enumerate(faces) if face]
    still_frames = {with_face[int(i)] for i in np.linspace(0, len(with_face) - 1, p.stills).round()} \
        if with_face else set()

    autoencoder = keras.saving.load_model("models/faceswap.keras")
    swapper = FaceSwapper(autoencoder, size, Look(p.colour, p.blend, p.forehead, p.erode, p.feather))
    placements = [(transforms[i], landmarks[i]) if face else None for i, face in enumerate(faces)]
    counts = {"swapped": 0, "changed_without_face": 0}
    embedder, measured, swapped_faces = FaceEmbedder(), identity_frames(with_face), []
    with atomic_file(OUTPUT) as tmp, atomic_file(SIDE_BY_SIDE) as tmp_pair, atomic_dir(STILLS) as stills:
        encoder = video.Encoder(tmp, info, target_path, p.crf, p.preset, p.codec)
        blank = np.zeros((info.height, info.width, 3), np.uint8)
        pair_height, pair_width = side_by_side(blank, blank).shape[:2]
        pair_info = video.VideoInfo(**{**info.to_dict(), "width": pair_width, "height": pair_height})
        pair_encoder = video.Encoder(tmp_pair, pair_info, target_path, p.crf, p.preset, p.codec)

        def write(index, original, converted):
            changed = not np.array_equal(original, converted)
            has_face = index < len(faces) and faces[index] is not None
            counts["swapped"] += changed and has_face
            counts["changed_without_face"] += changed and not has_face
            encoder.write(converted)
            pair = side_by_side(original, converted)
            pair_encoder.write(pair)
            if index in measured:
                swapped_faces.append(embedder.embed(converted, landmark_box(landmarks[index])))
            if index in still_frames:
                (stills / f"frame_{index:06d}.jpg").write_bytes(encode_jpeg(pair))

        frames = convert_stream(cli.progress(video.decode(target_path, info), "output", len(entries)), placements,
                                swapper, write)
        encoder.close()
        pair_encoder.close()

    metrics = {
        "frames": frames,
        "frames_with_face": len(with_face),
        "frames_swapped": counts["swapped"],
        "coverage": round(counts["swapped"] / len(with_face), 4) if with_face else 0.0,
        "swaps_on_frames_without_face": counts["changed_without_face"],
        "audio": info.has_audio,
        "jitter_target_landmarks_px": round(jitter([five_points(l) if l is not None else None for l in landmarks]), 3),
        "jitter_placement_unsmoothed_px": round(jitter([placed_points(t, size, padding) if t is not None else None
                                                        for t in raw]), 3),
        "jitter_placement_px": round(jitter([placed_points(t, size, padding) if t is not None else None
                                             for t in transforms]), 3),
        **reconstruction_ssim(autoencoder),
        **identity_shift(swapped_faces, *(person_embedding(side) for side in ("source", "target"))),
    }
    write_json(METRICS, metrics)
    run = read_json(tracking.RUN_FILE)
    tracking.setup()
    with tracking.start_run(run["run_id"]) as logged:
        if logged.info.run_id != run["run_id"]:  # trained against another store, e.g. on EC2 with none set
            cli.log.warning("output: MLflow run %s (the model's) is not in %s; the output's metrics went to new "
                            "run %s (set MLFLOW_TRACKING_URI to the store the model was trained with)",
                            run["run_id"], tracking.tracking_uri(), logged.info.run_id)
        mlflow.log_metrics({f"output_{k}": float(v) for k, v in metrics.items()})
        mlflow.log_artifacts(str(STILLS), "output/stills")
        mlflow.log_artifact(str(SIDE_BY_SIDE), "output")
    cli.log.info("output: %s, %s", OUTPUT, metrics)
    if metrics["coverage"] < 1:
        cli.log.warning("output: %d of %d frames with a face were not swapped", len(with_face) - counts["swapped"],
                        len(with_face))


if __name__ == "__main__":
    cli.run(main)
