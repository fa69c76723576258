"""Feature-film scale, so far the training input: a side of 10^5 aligned faces stored as the alignments stage
stores them, indexed and streamed through the training feeder as the model stage does, with its time, throughput,
memory and disk.

    python -m bench.scale [--faces 100000] [--size 128] [--batch-size 32] [--steps 200]
    python -m bench.scale --quick          # 2,000 faces at 32 px, 20 steps: a smoke test, no timing asserted

The faces are smooth random images (blurred noise, about a real face's JPEG size), the landmarks random; what is
measured does not depend on what the faces show. Each measurement runs in a fresh process, so that its peak
resident memory is its own: the baseline is the same process doing nothing but import the code.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.extract import machine

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from faceswap.train.feeder import BatchFeeder
from faceswap.train.stream import TrainingFaces
folder, size, batch, steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
data = {side: TrainingFaces(folder / side, size) for side in ("target", "source")}
indexed = time.perf_counter() - started
after_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with BatchFeeder(data, batch, seed=0) as feeder:  # as the model stage feeds it, its workers full
    batches = feeder.batches()
    next(batches)
    started = time.perf_counter()
    for _ in range(steps):
        next(batches)
    fed = time.perf_counter() - started
print(json.dumps({"faces": sum(len(d) for d in data.values()), "index_s": indexed, "feed_s": fed,
                  "base_kib": base, "index_kib": after_index - base,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base}))
"""


def write_faces(folder: Path, count: int, size: int) -> float:
    """``count`` faces of ``size`` px in ``folder`` as the alignments stage writes them, the seconds it took: smooth
    random images (blurred noise, about a real face's JPEG size and decoding time), a full mask, random landmarks."""
    import cv2
    import numpy as np

    from faceswap.media.imageset import ShardWriter, encode_jpeg, encode_png

    rng = np.random.default_rng(0)
    pattern = [cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (0, 0), size / 16)
               for _ in range(64)]
    mask = encode_png(np.full((size, size), 255, np.uint8))
    started = time.perf_counter()
    with ShardWriter(folder, "aligned") as writer:
        for i in range(count):
            face = np.roll(pattern[i % 64], i // 64, axis=1)  # every face its own bytes
            writer.add(f"face{i:06d}", {"jpg": encode_jpeg(face), "mask.png": mask},
                       {"landmarks_68": rng.uniform(size / 4, 3 * size / 4, (68, 2)).round(2).tolist(),
                        "transform": [[1, 0, 0], [0, 1, 0]]})
    return time.perf_counter() - started


def disk_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000, help="faces per side (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="face size in px (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2,000 faces at 32 px, 20 steps")
    args = parser.parse_args()
    if args.quick:
        args.faces, args.size, args.steps = 2000, 32, 20
    print(f"machine: {machine()}; {args.faces} faces a side at {args.size} px, batch {args.batch_size}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        seconds = sum(write_faces(scratch / side, args.faces, args.size) for side in ("target", "source"))
        size, files = disk_bytes(scratch)
        print(f"{'step':<34} {'time s':>8} {'faces/s':>9} {'peak MiB':>9} {'disk MiB':>9} {'objects':>8}")
        print(f"{'write both sides (alignments)':<34} {seconds:>8.1f} {2 * args.faces / seconds:>9.0f} {'':>9} "
              f"{size / 2**20:>9.0f} {files:>8}")
        result = subprocess.run([sys.executable, "-c", MEASURE, str(scratch), str(args.size), str(args.batch_size),
                                 str(args.steps)], capture_output=True, text=True, check=True)
        r = json.loads(result.stdout.splitlines()[-1])
        print(f"{'index both sides (TrainingFaces)':<34} {r['index_s']:>8.1f} {r['faces'] / r['index_s']:>9.0f} "
              f"{r['index_kib'] / 1024:>9.0f}")
        fed = args.steps * 2 * args.batch_size
        print(f"{'feed ' + str(args.steps) + ' batches (read, augment)':<34} {r['feed_s']:>8.1f} "
              f"{fed / r['feed_s']:>9.0f} {r['peak_kib'] / 1024:>9.0f}")
        print(f"(peak MiB: resident memory above the process's own {r['base_kib'] / 1024:.0f} MiB after importing; "
              f"the faces held in memory would be {2 * args.faces * args.size**2 * 6 / 2**20:.0f} MiB with their maps)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
