"""Benchmark extraction: frames -> crops -> filtered -> alignments on the sample target (640x360), end to end,
against the FaceSwap Challenge's workflow measured in the same run: autocrop's command line started once per
frame image, as people did, over the same frames.

The stages run as DVC runs them (one process each) in a scratch copy of the project, on the target and on the
target looped ``--loops`` times; the peak resident memory of each stage with its workers at the two lengths
shows whether memory grows with video length. ``--detect-scales`` adds a run of the sample for each other
``crops.detect_scale`` (YuNet on a smaller frame first). The long clip runs a second time with one process per
stage (``FACESWAP_WORKERS=1``), against the default of one worker per core. Other work on the machine slows
both sides alike, so the ratio is the figure to read.

    python -m bench.extract [--loops 4] [--baseline-frames 24] [--detect-scales 1.0 0.5]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from faceswap.core.atomic import read_json
from faceswap.core.paths import PIPELINE_FILES
from faceswap.media import video
from faceswap.train.tracking import machine

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data/raw/target/target.mp4"
STAGES = ("frames", "crops", "filtered", "alignments")


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc; 0 once it is gone."""
    parent, rss = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after "pid (command)"
            parent[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):  # not a process, or gone while we looked
            continue
    family, grown = {pid}, True
    while grown:
        grown = {child for child, of in parent.items() if of in family} - family
        family |= grown
    return sum(rss.get(process, 0) for process in family) * os.sysconf("SC_PAGE_SIZE")


def run_measured(args: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Run a command to its end; its wall time (s) and peak resident memory (MiB) of the stage and its
    workers together, sampled every 50 ms from /proc. (wait4's ru_maxrss is no use here: a child inherits
    the high-water mark of this process, which it was forked from.)"""
    env = {**os.environ, **env, "PYTHONPATH": str(cwd)}
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if process.returncode:
            log.seek(0)
            raise SystemExit(f"{' '.join(args)} failed:\n{log.read().decode()[-2000:]}")
    return seconds, peak / 2**20


def extraction(root: Path, clip: Path, detect_scale: float, env: dict) -> dict[str, tuple[float, float]]:
    """Every extraction stage of the target on ``clip`` in a fresh copy of the project, detecting at
    ``detect_scale``, with ``env`` set: (seconds, MiB) each."""
    shutil.rmtree(root, ignore_errors=True)
    for name in PIPELINE_FILES:
        shutil.copytree(REPO / name, root / name) if (REPO / name).is_dir() else shutil.copy(REPO / name, root / name)
    settings = yaml.safe_load((root / "params.yaml").read_text())
    settings["crops"]["detect_scale"] = detect_scale
    (root / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (root / "data/raw/target").mkdir(parents=True)
    shutil.copy(clip, root / "data/raw/target/target.mp4")
    return {stage: run_measured([sys.executable, "-m", f"stages.{stage}", "--side", "target"], root, env)
            for stage in STAGES}


def autocrop_once_per_image(frames: list[Path], out: Path) -> float:
    """The Challenge's workflow: ``autocrop IMAGE -o DIR`` per frame. Seconds for all."""
    command = shutil.which("autocrop") or str(Path(sys.executable).with_name("autocrop"))
    started = time.perf_counter()
    for frame in frames:
        subprocess.run([command, str(frame), "-o", str(out)], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=4, help="the long clip is the sample this many times")
    parser.add_argument("--baseline-frames", type=int, default=24, help="frames given to autocrop's CLI")
    parser.add_argument("--detect-scales", type=float, nargs="+",
                        default=[yaml.safe_load((REPO / "params.yaml").read_text())["crops"]["detect_scale"]],
                        help="crops.detect_scale of each run (default: params.yaml's); the long clip runs at the first")
    args = parser.parse_args()
    info = video.probe(SAMPLE)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long_clip = tmp / "long.mp4"
        subprocess.run([video.FFMPEG, "-v", "error", "-stream_loop", str(args.loops - 1), "-i", str(SAMPLE),
                        "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(long_clip)], check=True)

        frames_dir = tmp / "baseline_frames"
        frames_dir.mkdir()
        subprocess.run([video.FFMPEG, "-v", "error", "-i", str(SAMPLE), "-frames:v", str(args.baseline_frames),
                        "-q:v", "2", str(frames_dir / "frame_%05d.jpg")], check=True)
        (tmp / "baseline_out").mkdir()
        images = sorted(frames_dir.glob("*.jpg"))
        baseline = autocrop_once_per_image(images, tmp / "baseline_out")  # before and after: the load changes

        results = {}
        first, *others = args.detect_scales
        long_label = f"sample x{args.loops}, scale {first:g}"
        runs = [(f"sample, scale {first:g}", SAMPLE, first, {}), (long_label, long_clip, first, {}),
                (long_label + ", 1 process", long_clip, first, {"FACESWAP_WORKERS": "1"})]
        runs += [(f"sample, scale {scale:g}", SAMPLE, scale, {}) for scale in others]
        for label, clip, scale, env in runs:
            stages = extraction(tmp / "project", clip, scale, env)
            count = read_json(tmp / "project/data/frames/target/videos.json")["target"]["frames"]
            coverage = read_json(tmp / "project/data/metrics/alignments-target.json")["coverage"]
            results[label] = (count, coverage, stages)
        baseline = (baseline + autocrop_once_per_image(images, tmp / "baseline_out")) / 2
        baseline_fps = args.baseline_frames / baseline

    print(f"target: {SAMPLE.name} {info.width}x{info.height} at {info.fps:.3f} fps\n")
    print(f"{'run':46} {'frames':>7} {'seconds':>8} {'frames/s':>9} {'x baseline':>11} {'peak MiB':>9}")
    print(f"{'autocrop CLI once per image':46} {args.baseline_frames:7d} {baseline:8.1f} {baseline_fps:9.1f} "
          f"{1.0:11.2f} {'':>9}")
    for label, (count, coverage, stages) in results.items():
        seconds = sum(s for s, _ in stages.values())
        peak = max(m for _, m in stages.values())
        print(f"{'extraction, ' + label:46} {count:7d} {seconds:8.1f} {count / seconds:9.1f} "
              f"{count / seconds / baseline_fps:11.2f} {peak:9.0f}   coverage {coverage:.0%}")
    print(f"\n{'stage':12}" + "".join(f" {label + ' s':>36} {'frames/s':>9} {'MiB':>6}" for label in results))
    for stage in STAGES:
        row = f"{stage:12}"
        for count, _, stages in results.values():
            seconds, peak = stages[stage]
            row += f" {seconds:36.1f} {count / seconds:9.1f} {peak:6.0f}"
        print(row)


if __name__ == "__main__":
    main()
