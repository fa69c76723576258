"""Stage output: convert the target video, putting the source's face on every frame that has a face.

Decodes the target and encodes the result through ffmpeg pipes (no frame touches the disk) with the target's
audio muxed back in, at the rate the target was extracted at, so frame ``i`` of the output is frame ``i`` of
the alignments. Frames with no face pass unchanged. With ``mask.enabled``, the mask stage's segmenter keeps
what covers the target's face (a hand) in front of the new face. Writes ``data/output/swapped.mp4``,
``data/output/side_by_side.mp4`` (target | swapped), before/after stills in ``data/output/stills/``, and the
quality metrics ``data/metrics/output.json``, which are also logged on the training run in MLflow.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import mlflow
import numpy as np

from faceswap.convert.disclosure import Label, container_metadata
from faceswap.convert.evaluation import identity_frames, identity_shift, reconstruction_ssim, side_by_side
from faceswap.convert.fidelity import Fidelity
from faceswap.convert.occlusion import load_occlusion
from faceswap.convert.placement import TargetTrack, load_target_track, placement_series
from faceswap.convert.provenance import sign_in_place, signing_files
from faceswap.convert.swapper import FaceSwapper, Look, convert_stream
from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, atomic_file, read_json, write_json
from faceswap.faces.geometry import points_box
from faceswap.faces.identity import FaceEmbedder
from faceswap.faces.landmarks import five_points
from faceswap.faces.timeseries import jitter
from faceswap.media import video
from faceswap.media.imageset import encode_jpeg
from faceswap.train import tracking


def person_embedding(side: str) -> np.ndarray | None:
    """The embedding the filtered stage took as the side's person, if it found one."""
    embedding = read_json(paths.stage_output("filtered", side) / paths.PERSON_FILE)["embedding"]
    return None if embedding is None else np.array(embedding)


def still_frames(with_face: list[int], count: int) -> set[int]:
    """``count`` frames with a face, spread evenly over the video."""
    if not with_face:
        return set()
    return {with_face[int(i)] for i in np.linspace(0, len(with_face) - 1, count).round()}


class ConvertedFrames:
    """Where each converted frame goes: the swapped video, the side-by-side video, the stills; and what is
    counted and measured on the way (frames changed with and without a face, the swapped faces' identity, how
    faithfully each swapped face keeps the target's expression, pose, sharpness and colour)."""

    def __init__(self, track: TargetTrack, stills_count: int, label: Label):
        self.track, self.label = track, label
        self.stills = still_frames(track.with_face, stills_count)
        self.measured = identity_frames(track.with_face)
        self.embedder, self.swapped_faces = FaceEmbedder(), []
        self.fidelity = Fidelity()
        self.counts = {"swapped": 0, "changed_without_face": 0}

    def open(self, swapped_file, pair_file, stills_folder, p) -> None:
        info, target = self.track.info, self.track.video
        metadata = container_metadata(p.disclosure_text)
        self.encoder = video.Encoder(swapped_file, info, target, p.crf, p.preset, p.codec, metadata)
        if self.encoder.pix_fmt != video.WIDELY_PLAYED:
            cli.log.warning("output: the target is %dx%d, a side odd: %s is encoded %s (4:4:4), which fewer players "
                            "play (browsers, phones, QuickTime); crop the target to even sides for %s", info.width,
                            info.height, paths.OUTPUT_VIDEO, self.encoder.pix_fmt, video.WIDELY_PLAYED)
        blank = np.zeros((info.height, info.width, 3), np.uint8)
        pair_height, pair_width = side_by_side(blank, blank).shape[:2]
        pair_info = video.VideoInfo(**{**info.to_dict(), "width": pair_width, "height": pair_height})
        self.pair_encoder = video.Encoder(pair_file, pair_info, target, p.crf, p.preset, p.codec, metadata)
        self.stills_folder = stills_folder

    def write(self, index: int, original: np.ndarray, converted: np.ndarray) -> None:
        changed = not np.array_equal(original, converted)
        has_face = index < len(self.track.faces) and self.track.faces[index] is not None
        self.counts["swapped"] += changed and has_face
        self.counts["changed_without_face"] += changed and not has_face
        if index in self.measured:
            self.swapped_faces.append(self.embedder.embed(converted, points_box(self.track.landmarks[index])))
        if has_face:
            self.fidelity.add(index, self.track.shots[index], original, converted, self.track.landmarks[index])
        converted = self.label.draw(converted)  # on every frame: the video as a whole is a swap
        self.encoder.write(converted)
        pair = side_by_side(original, converted)
        self.pair_encoder.write(pair)
        if index in self.stills:
            (self.stills_folder / f"frame_{index:06d}.jpg").write_bytes(encode_jpeg(pair))

    def close(self) -> None:
        self.encoder.close()
        self.pair_encoder.close()


def convert_video(track: TargetTrack, swapper: FaceSwapper, p, label: Label,
                  credentials=None) -> tuple[int, ConvertedFrames]:
    """Convert the whole target into the output files, each written whole or not at all; with C2PA signing
    ``credentials``, both videos carry a signed manifest."""
    sink = ConvertedFrames(track, p.stills, label)
    with (atomic_file(paths.OUTPUT_VIDEO) as swapped, atomic_file(paths.SIDE_BY_SIDE) as pair,
          atomic_dir(paths.STILLS) as stills):
        sink.open(swapped, pair, stills, p)
        frames = convert_stream(cli.progress(video.decode(track.video, track.info), "output", len(track.faces)),
                                track.placements(), swapper, sink.write)
        video.check_frame_count(track.video, frames, len(track.faces), "as the frames stage decoded it",
                                "it changed since: run dvc repro")
        sink.close()
        if credentials:
            for path, name in ((swapped, paths.OUTPUT_VIDEO.name), (pair, paths.SIDE_BY_SIDE.name)):
                sign_in_place(path, name, p.disclosure_text, credentials)
    return frames, sink


def steadiness(track: TargetTrack) -> dict:
    """The jitter of the target's five landmarks and of where the face is placed, before and after smoothing:
    the same measure as the alignments stage's ``jitter_landmarks_px``."""
    landmarks = np.stack([five_points(points) if points is not None else np.full((5, 2), np.nan)
                          for points in track.landmarks]) if track.landmarks else np.zeros((0, 5, 2))
    size, padding = track.aligned_size, track.padding
    return {"jitter_landmarks_px": jitter(landmarks, track.shots),
            "jitter_placement_raw_px": jitter(placement_series(track.raw_transforms, size, padding), track.shots),
            "jitter_placement_px": jitter(placement_series(track.transforms, size, padding), track.shots)}


def log_on_training_run(metrics: dict) -> None:
    """Log the output's metrics, stills and side-by-side video on the model's MLflow run."""
    run = read_json(paths.RUN_FILE)
    tracking.setup()
    with tracking.start_run(run["run_id"]) as logged:
        if logged.info.run_id != run["run_id"]:  # trained against another store, e.g. on EC2 with none set
            cli.log.warning("output: MLflow run %s (the model's) is not in %s; the output's metrics went to new "
                            "run %s (set MLFLOW_TRACKING_URI to the store the model was trained with)",
                            run["run_id"], tracking.tracking_uri(), logged.info.run_id)
        mlflow.log_metrics({f"output_{k}": float(v) for k, v in metrics.items() if v is not None})
        mlflow.log_artifacts(str(paths.STILLS), "output/stills")
        mlflow.log_artifact(str(paths.SIDE_BY_SIDE), "output")


def main() -> None:
    p = params.load("output")
    label, credentials = Label(p.disclosure_text, p.disclosure_corner), signing_files()  # checked before any work
    occlusion = load_occlusion(params.load("mask").enabled)
    track = load_target_track(p.smooth_frames)
    autoencoder = keras.saving.load_model(paths.MODEL_FILE)
    swapper = FaceSwapper(autoencoder, track.aligned_size, Look.from_params(p), occlusion)
    frames, converted = convert_video(track, swapper, p, label, credentials)
    with_face, swapped = len(track.with_face), converted.counts["swapped"]
    metrics = {
        "frames": frames,
        "frames_with_face": with_face,
        "frames_swapped": swapped,
        "coverage": round(swapped / with_face, 4) if with_face else 0.0,
        "swaps_on_frames_without_face": converted.counts["changed_without_face"],
        "audio": track.info.has_audio,
        "occlusion_mask": occlusion is not None,
        "c2pa_signed": credentials is not None,
        **steadiness(track),
        **reconstruction_ssim(autoencoder),
        **identity_shift(converted.swapped_faces, *(person_embedding(side) for side in ("source", "target"))),
        **converted.fidelity.summary(),
    }
    write_json(paths.metrics("output"), metrics)
    log_on_training_run(metrics)
    cli.log.info("output: %s, %s", paths.OUTPUT_VIDEO, metrics)
    if swapped < with_face:
        cli.log.warning("output: %d of %d frames with a face were not swapped", with_face - swapped, with_face)


if __name__ == "__main__":
    cli.run(main)
