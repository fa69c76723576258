"""Stage output: convert the target video, putting the source's face on every frame that has a face.

Decodes the target and encodes the result through ffmpeg pipes with the target's audio muxed back in, at the
frame rate the target was extracted at, so frame ``i`` of the output is frame ``i`` of the alignments.
Frames with no face pass unchanged. Writes ``data/output/swapped.mp4`` and ``data/metrics/output.json``,
and logs the metrics on the training run in MLflow.
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import mlflow  # noqa: E402

from stages.lib import cli, params, tracking, video  # noqa: E402
from stages.lib.atomic import atomic_file, read_json, write_json  # noqa: E402
from stages.lib.convert import FaceSwapper  # noqa: E402

OUTPUT = Path("data/output/swapped.mp4")
BATCH = 32
NO_FACE = {"status": "missing", "faces": []}


def main() -> None:
    p = params.load("output")
    (name, meta), = read_json(Path("data/frames/target/videos.json")).items()
    document = read_json(Path("data/alignments/target/alignments.json"))
    entries = document["videos"][name]["frames"]
    info = video.VideoInfo(**{k: meta[k] for k in ("rate", "fps", "width", "height", "duration", "has_audio")})
    info.rate = meta["sample_rate"]
    target_path = Path("data/raw/target") / meta["file"]
    swapper = FaceSwapper(keras.saving.load_model("models/faceswap.keras"), document["aligned_size"], p.feather)
    frames = swapped = 0
    with atomic_file(OUTPUT) as tmp:
        encoder = video.Encoder(tmp, info, target_path, p.crf, p.preset)
        batch = []

        def flush():
            nonlocal swapped
            converted, count = swapper.convert(batch, [entries[i] if i < len(entries) else NO_FACE
                                                       for i in range(frames - len(batch), frames)])
            swapped += count
            for frame in converted:
                encoder.write(frame)
            batch.clear()

        for frame in cli.progress(video.decode(target_path, info), "output", len(entries)):
            batch.append(frame)
            frames += 1
            if len(batch) == BATCH:
                flush()
        flush()
        encoder.close()
    with_face = sum(1 for entry in entries if entry["faces"])
    metrics = {"frames": frames, "frames_with_face": with_face, "frames_swapped": swapped,
               "coverage": round(swapped / with_face, 4) if with_face else 0.0, "audio": info.has_audio}
    write_json(Path("data/metrics/output.json"), metrics)
    run = read_json(tracking.RUN_FILE)
    tracking.setup()
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({f"output_{k}": float(v) for k, v in metrics.items()})
    cli.log.info("output: %s, %s", OUTPUT, metrics)


if __name__ == "__main__":
    cli.run(main)
