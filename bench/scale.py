"""Feature-film scale: a source of 10^5 frames through extraction, training and the DVC remote, and the training
input of 10^5 aligned faces a side, with the time, throughput, memory, disk and objects of each step.

    python -m bench.scale [--frames 100000] [--model-steps 200] [--preset-steps 20] [--faces 100000] [--size 128]
    python -m bench.scale --quick          # 300 frames, 2,000 faces at 32 px: a smoke test, no timing asserted

The film: the bundled source looped to ``--frames`` frames, drifting in brightness, contrast and tilt so that
every frame differs, through frames -> crops -> filtered -> alignments of the source as ``dvc repro`` runs them
(peak memory: the stage's processes together), the model stage for ``--model-steps`` at 64 px on it and the
sample's target, a no-op ``dvc status`` and ``dvc repro``, then ``dvc push`` to moto_server on loopback and
``dvc pull`` into a fresh clone, each beside a raw boto3 copy of the same files, and last the source realigned at
the GPU preset's 128 px and the model stage at its architecture for ``--preset-steps``. It uses the project scaffolding
the tests use (``tests/helpers.py``).

The training input: faces that are smooth random images (blurred noise, about a real face's JPEG size), the
landmarks random; what is measured does not depend on what the faces show. Each measurement runs in a fresh
process, so that its peak resident memory is its own: the baseline is the same process doing nothing but import
the code. ``--frames 0`` or ``--faces 0`` skips a part.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from bench.extract import REPO, machine, run_measured
from faceswap.media import video
from faceswap.media.imageset import read_index
from tests.helpers import free_port, git_dvc_repo, loopback_bucket, serving, set_params, sh, use_loopback_remote

DVC_JOBS = 4 * os.cpu_count()  # DVC's default transfers at once, which the raw copy matches

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


FILM_VARIATION = ("eq=brightness=0.04*sin(2*PI*t/31):contrast=1+0.08*sin(2*PI*t/17):eval=frame,"
                  "rotate=0.06*sin(2*PI*t/13):fillcolor=black")
SOURCE_STAGES = ("frames@source", "crops@source", "filtered@source", "alignments@source")


def make_film(out: Path, frames: int) -> float:
    """The bundled source (2.4 s at 30 fps) looped to ``frames`` frames, its brightness, contrast and tilt drifting
    on periods of 31, 17 and 13 s, which no loop repeats: every frame its own pixels. The seconds it took."""
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([video.FFMPEG, "-v", "error", "-stream_loop", "-1", "-i", str(REPO / "data/raw/source/source.mp4"),
                    "-frames:v", str(frames), "-vf", FILM_VARIATION, "-an", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "20", str(out)], check=True)
    return time.perf_counter() - started


def film_project(root: Path, frames: int, steps: int) -> float:
    """A git + DVC project in ``root`` whose source is a film of ``frames`` frames and whose target is the sample's,
    every source face kept (``filtered.duplicate_bits: 0``: a looped clip's near-duplicates would otherwise leave
    a few hundred faces for the later stages), training ``steps`` steps (the mask 20). The seconds the film took."""
    git_dvc_repo(root)
    seconds = make_film(root / "data/raw/source/film.mp4", frames)
    (root / "data/raw/target").mkdir(parents=True)
    shutil.copy(REPO / "data/raw/target/target.mp4", root / "data/raw/target")
    set_params(root, {"filtered": {"duplicate_bits": 0}, "mask": {"steps": 20},
                      "model": {"steps": steps, "preview_every": steps, "checkpoint_every": steps, "log_every": steps}})
    return seconds


def folder_size(folder: Path) -> tuple[float, int]:
    """MiB and files under ``folder``."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20, len(files)


def copy_objects(s3, bucket: str, files: list[Path], base: Path, prefix: str, download: bool = False) -> float:
    """The raw copy beside DVC's: each file uploaded to (or downloaded from) ``prefix`` by boto3, as many at once
    as DVC's default jobs. Seconds."""
    def one(path: Path) -> None:
        key = f"{prefix}/{path.relative_to(base)}"
        if download:
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
        else:
            s3.upload_file(str(path), bucket, key)

    started = time.perf_counter()
    with ThreadPoolExecutor(DVC_JOBS) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - started


def row(step: str, seconds: float, count: int | None, peak: float | None = None, folder: Path | None = None,
        moved: tuple[float, int] | None = None) -> None:
    """One step of the film's table: its time, ``count`` (frames) a second, peak MiB, and the MiB and files of
    ``folder`` (or ``moved``)."""
    disk, objects = moved or (folder_size(folder) if folder else ("", ""))
    rate = f"{count / seconds:.{0 if count / seconds >= 10 else 2}f}" if count else ""
    print(f"{step:<28} {seconds:>8.1f} {rate:>9} {f'{peak:.0f}' if peak else '':>9} "
          f"{f'{disk:.0f}' if disk != '' else '':>9} {objects:>8}", flush=True)


DVC = [str(Path(sys.executable).with_name("dvc"))]
TOOL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def film_at_scale(scratch: Path, frames: int, steps: int, preset_steps: int) -> None:
    """The film through the pipeline as DVC runs it, then through the remote, then the model at the GPU preset's
    size; one row a step."""
    root = scratch / "project"
    made = film_project(root, frames, steps)
    print(f"source: the bundled source looped to {frames} frames at 30 fps ({frames / 30 / 60:.0f} min), made in "
          f"{made:.0f} s; target: the sample (472 frames)")
    print(f"{'step':<28} {'time s':>8} {'frames/s':>9} {'peak MiB':>9} {'disk MiB':>9} {'objects':>8}")
    total = 0.0
    for stage in SOURCE_STAGES:
        seconds, peak = run_measured([*DVC, "repro", "--single-item", stage], root, TOOL_ENV)
        total += seconds
        row(stage, seconds, frames, peak, root / "data" / stage.split("@")[0] / "source")
    row("source extraction, in all", total, frames)
    faces = len(read_index(root / "data/alignments/source"))
    sh(*DVC, "repro", "alignments@target", cwd=root)
    seconds, peak = run_measured([*DVC, "repro", "--single-item", "model"], root, TOOL_ENV)
    row(f"model, {steps} steps at 64 px", seconds, steps, peak, root / "models")
    sh(*DVC, "repro", cwd=root)  # the mask and the output, for a no-op of the whole pipeline
    for command in ("status", "repro"):
        seconds, peak = run_measured([*DVC, command], root, TOOL_ENV)
        row(f"dvc {command}, nothing to do", seconds, None, peak)
    print(f"({faces} source faces aligned; frames/s of the model row: steps/s)")
    through_remote(scratch, root, frames)
    print("(a copy's frames/s: the film's frames over its time, every stage's outputs moved; dvc pull also checks "
          "the files out into the workspace)")
    if preset_steps:
        at_preset_size(root, frames, preset_steps)


def at_preset_size(root: Path, frames: int, steps: int) -> None:
    """The model stage at the GPU preset's architecture and size (params-gpu.yaml: ``ud128wide``, 128 px, batch 32)
    on the film's faces aligned anew at 128 px, in float32: a CPU emulates the preset's float16."""
    preset = yaml.safe_load((REPO / "params-gpu.yaml").read_text())
    set_params(root, {"alignments": {"size": preset["alignments"]["size"]}, "mask": {"size": preset["mask"]["size"]},
                      "model": {"architecture": preset["model"]["architecture"], "steps": steps,
                                "batch_size": preset["model"]["batch_size"], "mixed_precision": False,
                                "preview_every": steps, "checkpoint_every": steps, "log_every": steps}})
    size = preset["alignments"]["size"]
    seconds, peak = run_measured([*DVC, "repro", "--single-item", "alignments@source"], root, TOOL_ENV)
    row(f"alignments@source at {size} px", seconds, frames, peak, root / "data/alignments/source")
    sh(*DVC, "repro", "--single-item", "alignments@target", cwd=root)
    seconds, peak = run_measured([*DVC, "repro", "--single-item", "model"], root, TOOL_ENV)
    row(f"model, {steps} steps, {preset['model']['architecture']}", seconds, steps, peak, root / "models")


def through_remote(scratch: Path, root: Path, frames: int) -> None:
    """``dvc push`` of the project to moto_server on loopback and ``dvc pull`` into a fresh clone, each beside a
    raw boto3 copy of the objects DVC pushed."""
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "a film-sized source", cwd=root)
    port = free_port()
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    with serving([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], scratch / "moto.log",
                 port) as endpoint:
        s3 = loopback_bucket(endpoint, "faceswap-scale")
        use_loopback_remote(root, endpoint, "faceswap-scale")
        seconds, peak = run_measured([*DVC, "push"], root, TOOL_ENV)
        pushed = [item["Key"].removeprefix("store/") for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="faceswap-scale", Prefix="store/") for item in page.get("Contents", [])]
        moved = (sum((root / ".dvc/cache" / key).stat().st_size for key in pushed) / 2**20, len(pushed))
        row("dvc push", seconds, frames, peak, moved=moved)
        upload = copy_objects(s3, "faceswap-scale", [root / ".dvc/cache" / key for key in pushed], root / ".dvc/cache",
                              "raw")
        row("raw boto3 upload, same files", upload, frames, moved=moved)
        clone = scratch / "clone"
        sh("git", "clone", "-q", str(root), str(clone), cwd=scratch)
        use_loopback_remote(clone, endpoint, "faceswap-scale")
        seconds, peak = run_measured([*DVC, "pull"], clone, TOOL_ENV)
        row("dvc pull, a fresh clone", seconds, frames, peak, moved=moved)
        download = scratch / "download"
        row("raw boto3 download", copy_objects(s3, "faceswap-scale", [download / key for key in pushed], download,
                                               "raw", True), frames, moved=moved)


def input_at_scale(scratch: Path, faces: int, size: int, batch_size: int, steps: int) -> None:
    """Both sides of ``faces`` aligned faces written, indexed and fed to training; one row a step."""
    print(f"training input: {faces} faces a side at {size} px, batch {batch_size}")
    seconds = sum(write_faces(scratch / side, faces, size) for side in ("target", "source"))
    disk, files = folder_size(scratch)
    print(f"{'step':<34} {'time s':>8} {'faces/s':>9} {'peak MiB':>9} {'disk MiB':>9} {'objects':>8}")
    print(f"{'write both sides (alignments)':<34} {seconds:>8.1f} {2 * faces / seconds:>9.0f} {'':>9} "
          f"{disk:>9.0f} {files:>8}")
    result = subprocess.run([sys.executable, "-c", MEASURE, str(scratch), str(size), str(batch_size), str(steps)],
                            capture_output=True, text=True, check=True)
    r = json.loads(result.stdout.splitlines()[-1])
    print(f"{'index both sides (TrainingFaces)':<34} {r['index_s']:>8.1f} {r['faces'] / r['index_s']:>9.0f} "
          f"{r['index_kib'] / 1024:>9.0f}")
    fed = steps * 2 * batch_size
    print(f"{'feed ' + str(steps) + ' batches (read, augment)':<34} {r['feed_s']:>8.1f} {fed / r['feed_s']:>9.0f} "
          f"{r['peak_kib'] / 1024:>9.0f}")
    print(f"(peak MiB: resident memory above the process's own {r['base_kib'] / 1024:.0f} MiB after importing; "
          f"the faces held in memory would be {2 * faces * size**2 * 6 / 2**20:.0f} MiB with their maps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000, help="the film's frames (default: %(default)s)")
    parser.add_argument("--model-steps", type=int, default=200, help="model stage steps on the film's faces")
    parser.add_argument("--preset-steps", type=int, default=20,
                        help="model stage steps at the GPU preset's size on the film's faces (0: skip)")
    parser.add_argument("--faces", type=int, default=100_000, help="training input: faces a side")
    parser.add_argument("--size", type=int, default=128, help="training input: face size in px (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200, help="training input: batches fed")
    parser.add_argument("--quick", action="store_true", help="300 frames, 4 model steps and 2 at the preset's size; "
                                                             "2,000 faces at 32 px, 20 batches")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.model_steps, args.preset_steps, args.faces, args.size, args.steps = 300, 4, 2, 2000, 32, 20
    os.environ["DVC_NO_ANALYTICS"] = "1"  # for the scratch projects' dvc init; their copied config turns it off
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    scratch = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        if args.frames:
            film_at_scale(scratch / "film", args.frames, args.model_steps, args.preset_steps)
        if args.faces:
            input_at_scale(scratch / "input", args.faces, args.size, args.batch_size, args.steps)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
