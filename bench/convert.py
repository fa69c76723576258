"""Benchmark the output stage's conversion: frames per second at the sample's 640x360 against real time.

Each figure is measured in the same run as a baseline, ffmpeg decoding and re-encoding the same frames with
nothing in between, so the ratio says what the face swap costs on this machine whatever else it is doing.
Models (the face model and the mask stage's segmenter) are built untrained (speed does not depend on the
weights), so only the target's alignments are needed: run ``dvc repro alignments@target`` (or ``dvc pull
alignments@target``) first.

    python -m bench.convert [--frames 240] [--repeat 2]
"""

import argparse
import itertools
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from faceswap.convert.occlusion import Occlusion
from faceswap.convert.placement import load_target_track
from faceswap.convert.swapper import FaceSwapper, Look, convert_stream
from faceswap.core import cli, params
from faceswap.mask.network import build_segmenter
from faceswap.media import video
from faceswap.train import tracking
from faceswap.train.networks import build_autoencoder


def timed(run, repeat: int) -> float:
    """The best of ``repeat`` wall-clock times, in seconds: the run least disturbed by other work."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def encode_to(out: Path, info: video.VideoInfo, p, frames, swapper: FaceSwapper | None = None,
              placements: list | None = None) -> None:
    """Encode ``frames`` to ``out``, through ``swapper`` when one is given (else as they are: the baseline)."""
    encoder = video.Encoder(out, info, None, p.crf, p.preset, p.codec)
    if swapper is None:
        for frame in frames:
            encoder.write(frame)
    else:
        convert_stream(frames, placements, swapper, lambda index, original, converted: encoder.write(converted))
    encoder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240, help="target frames converted per measurement")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    p = params.load("output")
    track = load_target_track(p.smooth_frames)  # the alignments file, read and checked
    info = track.info
    placements = track.placements()[:args.frames]
    frames = list(itertools.islice(video.decode(track.video, info), args.frames))
    count = len(frames)

    def first_frames():
        return itertools.islice(video.decode(track.video, info), count)

    print(f"machine: {tracking.machine()}; keras {keras.__version__} on {keras.backend.backend()}")
    print(f"target: {track.video} {info.width}x{info.height} at {info.fps:.3f} fps; {count} frames; "
          f"x264 preset {p.preset}, crf {p.crf}; best of {args.repeat}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.mp4"
        baseline = timed(lambda: encode_to(out, info, p, first_frames()), args.repeat)
        rows.append(("decode + encode only (baseline)", baseline))
        segmenter = Occlusion(build_segmenter(params.load("mask").size))
        for architecture in ("light", "original"):
            for blend, occlusion in (("alpha", None), ("alpha", segmenter), ("poisson", None)):
                swapper = FaceSwapper(build_autoencoder(architecture), track.aligned_size,
                                      replace(Look.from_params(p), blend=blend), occlusion)
                swapper.convert(frames[:2], placements[:2])  # warm up: the first predict builds the graph
                seconds = timed(lambda s=swapper: encode_to(out, info, p, first_frames(), s, placements), args.repeat)
                mask = ", occlusion mask" if occlusion else ""
                rows.append((f"convert, {architecture} model, {blend} blend{mask}", seconds))
    print(f"\n{'measurement':58} {'frames/s':>9} {'x real time':>12} {'time / baseline':>16}")
    for label, seconds in rows:
        fps = count / seconds
        print(f"{label:58} {fps:9.1f} {fps / info.fps:12.2f} {seconds / baseline:16.2f}")


if __name__ == "__main__":
    cli.run(main)
