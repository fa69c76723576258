"""Training throughput of each architecture: examples per second and achieved FLOP/s against the fp32 matmul
peak of the same machine, measured in the same run (the machine is shared and noisy: compare ratios, not
absolute figures), and whether the input pipeline keeps up with the training step: ``input ex/s`` is the feeder
alone (faces read from shards, decoded, augmented, in its thread), against ``examples/s`` the step takes.

    python -m bench.train [--steps 20] [--batch-size 16] [--architectures light original gpu128] [--xla]
                          [--repeats 3]

FLOPs are counted analytically: 2 * multiply-adds of every convolution and dense layer on the way through
the encoder and one decoder, times 3 for a training step (forward, and a backward pass of twice the work).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from bench.scale import write_faces
from faceswap.train.feeder import BatchFeeder
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import ARCHITECTURES, build_autoencoder
from faceswap.train.stream import TrainingFaces
from faceswap.train.tracking import machine


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """fp32 FLOP/s of a large matrix product, the best of ``repeats``."""
    a, b = (keras.random.normal((n, n), seed=i) for i in range(2))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best


def layer_flops(model: keras.Model) -> float:
    """Forward FLOPs of one example through the convolutions and dense layers of ``model`` (nested models
    included)."""
    total = 0.0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kernel_h, kernel_w, channels, _ = layer.kernel.shape
            total += 2 * height * width * kernel_h * kernel_w * channels * filters
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * np.prod(layer.kernel.shape)
    return total


def step_flops(autoencoder: keras.Model, batch_size: int) -> float:
    """FLOPs of one training step: each side's batch through the encoder and its own decoder, times 3."""
    encoder = autoencoder.get_layer("encoder")
    per_side = [layer_flops(encoder) + layer_flops(autoencoder.get_layer(f"decoder_{side}"))
                for side in ("target", "source")]
    return 3 * batch_size * sum(per_side)


def synthetic_side(folder: Path, size: int, count: int = 64) -> TrainingFaces:
    """``count`` smooth random faces of ``size`` px (``bench.scale.write_faces``), stored as the alignments stage
    stores them, read as training reads them (``stream.TrainingFaces``: decoded from the shards for each batch)."""
    write_faces(folder, count, size)
    return TrainingFaces(folder, size)


def measure(name: str, batch_size: int, steps: int, xla: bool, repeats: int, scratch: Path) -> dict:
    size = ARCHITECTURES[name].size
    data = {side: synthetic_side(scratch / f"{name}-{side}", size) for side in ("target", "source")}
    keras.utils.set_random_seed(0)
    autoencoder = build_autoencoder(name)
    autoencoder.compile(optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5), loss=FaceLoss(), jit_compile=xla)
    with BatchFeeder(data, batch_size, seed=0) as feeder:
        batches = feeder.batches()
        prepared = [next(batches) for _ in range(2)]  # the input pipeline alone, its workers full: read, augment
        started = time.perf_counter()
        for _ in range(16):
            next(batches)
        prepare_seconds = (time.perf_counter() - started) / 16

        # the same steps on one batch prepared beforehand: the trainer alone, to see what feeding costs
        fixed = (batch for batch in iter(lambda: prepared[0], None))
        for source in (batches, fixed):  # the first windows of a run are slow whatever feeds them: warm up both
            autoencoder.fit(source, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)
        # Best of ``repeats`` windows, as the matmul peak is a best of 10: a shared machine moves between a fast
        # and a slow speed (see BENCHMARKS.md), and one window may fall on either.
        seconds = seconds_alone = float("inf")
        for _ in range(repeats):
            busy, started = feeder.busy_seconds, time.perf_counter()
            autoencoder.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
            window = time.perf_counter() - started
            if window < seconds:
                seconds, input_load = window, (feeder.busy_seconds - busy) / window
            started = time.perf_counter()
            autoencoder.fit(fixed, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
            seconds_alone = min(seconds_alone, time.perf_counter() - started)
    return {"examples_per_second": 2 * batch_size * steps / seconds, "flops": step_flops(autoencoder, batch_size)
            * steps / seconds, "step_seconds": seconds / steps, "step_seconds_alone": seconds_alone / steps,
            "prepare_seconds": prepare_seconds, "input_load": input_load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--architectures", nargs="+", default=sorted(ARCHITECTURES), choices=sorted(ARCHITECTURES))
    parser.add_argument("--xla", action="store_true", help="compile the training step with XLA")
    parser.add_argument("--repeats", type=int, default=3, help="timing windows of each kind; the best counts")
    args = parser.parse_args()
    import tensorflow as tf

    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"machine: {machine()}; devices: {devices}; keras {keras.__version__} on {keras.backend.backend()}; "
          f"intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    peak = matmul_peak()
    print(f"fp32 matmul peak: {peak / 1e9:.1f} GFLOP/s")
    print(f"{'architecture':<12} {'batch':>5} {'examples/s':>10} {'GFLOP/s':>8} {'of peak':>7} {'step s':>7} "
          f"{'alone s':>7} {'batch prep s':>12} {'input ex/s':>10} {'input load':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.architectures:
            r = measure(name, args.batch_size, args.steps, args.xla, args.repeats, Path(scratch))
            print(f"{name:<12} {args.batch_size:>5} {r['examples_per_second']:>10.1f} {r['flops'] / 1e9:>8.1f} "
                  f"{r['flops'] / peak:>7.0%} {r['step_seconds']:>7.3f} {r['step_seconds_alone']:>7.3f} "
                  f"{r['prepare_seconds']:>12.3f} {2 * args.batch_size / r['prepare_seconds']:>10.0f} "
                  f"{r['input_load']:>10.2f}")
            peak_again = matmul_peak()
            print(f"{'':<12} fp32 matmul peak after it: {peak_again / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
