"""Benchmark the review page on a feature film's worth of faces: time from launching the server to the first
page, time per page in several orders, and the server's memory, through its HTTP API as the browser uses it (a
page's JSON, then its 100 thumbnails, six at a time).

The faces are real shards in the stage outputs' format (``crops``, ``filtered`` and ``alignments`` indexes with
boxes, scores, identity distances and 68 landmarks), written to a scratch project: every crop is the same sample
photograph's face, since the server never decodes a thumbnail (it streams the JPEG bytes from the shard). The
target is an alignments file of ``--frames`` frames (a face in each, one in 50 missing), for the timeline: time
from launch to its strip.

    python -m bench.review [--faces 100000] [--pages 20] [--frames 100000]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from faceswap.core import paths
from faceswap.faces.alignments_file import alignments_document, write_alignments
from faceswap.faces.rules import VERDICTS, write_verdicts
from faceswap.faces.timeline_file import timeline, write_timeline
from faceswap.media.imageset import ShardWriter, encode_jpeg

REPO = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("FACESWAP_MEDIA", REPO.parent / "shared" / "media"))
PER_PAGE = 100


def write_faces(root: Path, count: int, seed: int = 0) -> None:
    """``count`` source faces over 50 videos: crops of all, filtered and alignments records of 80% of them, the
    others removed by the identity rule."""
    rng = np.random.default_rng(seed)
    photo = cv2.imread(str(MEDIA / "images" / "grace_hopper.jpg"))
    face = photo[40:440, 60:460]
    jpeg = encode_jpeg(cv2.resize(face, (128, 128), interpolation=cv2.INTER_AREA))
    aligned = encode_jpeg(cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA))  # alignments.size
    videos = {f"film{v:02d}": {"sample_rate": "24/1", "frames": count // 50, "width": 1920, "height": 1080}
              for v in range(50)}
    points = rng.uniform(200, 600, (68, 2)).round(2).tolist()
    keys, verdicts = [], bytearray()
    writers = {stage: ShardWriter(root / paths.stage_output(stage, "source"), stage)
               for stage in ("crops", "filtered", "alignments")}
    for i in range(count):
        video, frame = f"film{i * 50 // count:02d}", i % (count // 50)
        face = {"video": video, "frame": frame, "frame_key": f"{video}_{frame:06d}",
                "box": [800.0, 300.0, float(rng.uniform(30, 300)), 200.0], "score": round(rng.uniform(0.6, 1), 4),
                "crop": [600.0, 100.0, 500.0], "found_by": "plain", "landmarks_5": points[:5]}
        key = f"{video}_{frame:06d}_0"
        writers["crops"].add(key, {"jpg": jpeg}, face)
        keys.append(key)
        verdicts.append(VERDICTS.index("identity"))
        if rng.random() < 0.8:
            verdicts[-1] = VERDICTS.index("kept")
            face.update(identity_distance=round(rng.uniform(0, 0.6), 4), sharpness=round(rng.uniform(20, 900), 1))
            writers["filtered"].add(key, {"jpg": jpeg}, face)
            writers["alignments"].add(key, {"jpg": aligned}, {**face, "landmarks_68": points})
    for stage, writer in writers.items():
        writer.close()
        (root / paths.stage_output(stage, "source") / paths.VIDEOS_FILE).write_text(json.dumps(videos))
    write_verdicts(root / paths.stage_output("filtered", "source") / paths.VERDICTS_FILE, keys, verdicts)


def write_target(root: Path, frames: int, seed: int = 0) -> None:
    """A target alignments file of ``frames`` frames at 24 fps, a face in each but every 50th."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(200, 600, (68, 2)).round(2)
    faces = ({"key": f"film_{i:06d}_0", "video": "film", "frame": i, "box": [800.0, 300.0, 200.0, 200.0],
              "score": 0.9, "identity_distance": 0.3, "landmarks_5": points[:5], "landmarks_68": points,
              "transform": np.eye(2, 3)} for i in range(frames) if i % 50)
    videos = {"film": {"sample_rate": "24/1", "frames": frames, "width": 1920, "height": 1080}}
    folder = root / paths.stage_output("alignments", "target")
    folder.mkdir(parents=True)
    written = write_alignments(folder / paths.ALIGNMENTS_FILE, alignments_document(
        "target", videos, faces, {"aligned_size": 64, "padding": 0.1, "max_gap": 12, "smoothing_window": 5}))
    (root / paths.timeline("target")).parent.mkdir(parents=True, exist_ok=True)
    write_timeline(root / paths.timeline("target"), timeline(written))
    crops = root / paths.stage_output("crops", "target")  # the timeline reads the target's exclusions through them
    jpeg = encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    with ShardWriter(crops, "crops") as writer:
        for i in range(1, frames):
            if i % 50:
                writer.add(f"film_{i:06d}_0", {"jpg": jpeg}, {"video": "film", "frame": i, "score": 0.9,
                                                              "box": [800.0, 300.0, 200.0, 200.0]})
    (crops / paths.VIDEOS_FILE).write_text(json.dumps(videos))


BROWSER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # keeps the server's token cookie


def fetch(url: str) -> bytes:
    with BROWSER.open(url, timeout=600) as response:
        return response.read()


def printed_url(log: Path, server: subprocess.Popen) -> str:
    """The URL with the launch's token that the server prints once it listens."""
    while server.poll() is None:
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", log.read_text())
        if found:
            return found.group()
        time.sleep(0.1)
    raise RuntimeError(f"the review server exited with {server.returncode}: {log.read_text()[-2000:]}")


def load_page(base: str, query: str, pool: ThreadPoolExecutor) -> float:
    """Seconds to a page's JSON and all its thumbnails, six at a time as a browser fetches them."""
    started = time.perf_counter()
    page = json.loads(fetch(f"{base}/api/faces/source?{query}&per_page={PER_PAGE}"))
    sizes = list(pool.map(lambda face: len(fetch(f"{base}/thumb/source/{face['key']}.jpg")), page["faces"]))
    assert len(sizes) == len(page["faces"]) and all(sizes)
    return time.perf_counter() - started


def memory_mib(pid: int) -> tuple[float, float]:
    """The server's resident memory now and at its peak, in MiB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return tuple(int(status[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))


def measure(root: Path, faces: int, pages: int, frames: int) -> dict:
    port = 8900 + os.getpid() % 1000
    launched = time.perf_counter()
    log = root / "review.log"
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "-m", "review", "--port", str(port), "--project", str(root)],
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        fetch(printed_url(log, server))  # as a person opens it: the token's cookie set, then the page
        results = {"server_answers_s": time.perf_counter() - launched}
        with ThreadPoolExecutor(6) as pool:
            load_page(base, "sort=time&page=0", pool)
            results["launch_to_first_page_s"] = time.perf_counter() - launched
            for sort, order in (("identity", "desc"), ("yaw", "desc"), ("score", "asc")):
                times = [load_page(base, f"sort={sort}&order={order}&page={page}", pool)
                         for page in np.linspace(0, faces // PER_PAGE - 1, pages).astype(int)]
                results[f"page_{sort}_median_s"] = statistics.median(times)
                results[f"page_{sort}_max_s"] = max(times)
            results["page_removed_filter_s"] = load_page(base, "sort=identity&filter=removed&page=3", pool)
        strip = json.loads(fetch(f"{base}/api/timeline"))["videos"][0]["strip"]
        results["launch_to_timeline_s"] = time.perf_counter() - launched
        assert len(strip) == frames, len(strip)
        started = time.perf_counter()
        fetch(f"{base}/api/timeline")
        results["timeline_again_s"] = time.perf_counter() - started
        results["server_rss_mib"], results["server_peak_mib"] = memory_mib(server.pid)
        return results
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=20, help="pages fetched per sort, spread over the set")
    parser.add_argument("--frames", type=int, default=100_000, help="frames of the target's alignments file")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    root = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        shutil.copytree(REPO / "data/exclude", root / "data/exclude")
        for name in ("params.yaml", "dvc.yaml"):
            shutil.copy(REPO / name, root / name)
        started = time.perf_counter()
        write_faces(root, args.faces)
        write_target(root, args.frames)
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
        print(f"{args.faces} faces and {args.frames} target frames written in {time.perf_counter() - started:.1f} s "
              f"({size:.0f} MiB)")
        for name, value in measure(root, args.faces, args.pages, args.frames).items():
            print(f"{name}: {value:.3f}" if name.endswith("_s") else f"{name}: {value:.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
