"""Helpers the tests share: the repository and the sample media, scratch copies of the project, running stages
and command-line tools, a loopback S3 bucket."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from faceswap.core.paths import PIPELINE_FILES

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "tests" / "screenshots"  # what browser tests saw, for a person to look at (not in git)
MEDIA = Path(os.environ.get("FACESWAP_MEDIA", REPO.parent / "shared" / "media"))


def copy_project(root: Path, names=PIPELINE_FILES) -> Path:
    """Copy the project's code and params (``names`` of files or folders) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, root / name)
    return root


def model_project(root: Path, aligned_faces: Path, **model_params) -> Path:
    """A scratch project in ``root`` that the model stage can run in: the code, dvc.yaml, params.yaml with
    ``model_params`` changed, and the aligned faces of ``aligned_faces``."""
    copy_project(root)
    shutil.copytree(aligned_faces / "data", root / "data", dirs_exist_ok=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"].update(model_params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def run_stage(module: str, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m stages.<module>`` as DVC would, in ``cwd`` (default: the working directory)."""
    return run_module(f"stages.{module}", *args, cwd=cwd, check=check)


def run_module(module: str, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m <module>`` in ``cwd`` (default: the working directory) with that folder on the path."""
    env = {**os.environ, "PYTHONPATH": str(cwd or Path.cwd()), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def tool_env() -> dict:
    """The environment for the project's command-line tools: this Python's ``dvc`` first on PATH."""
    tools = os.path.dirname(sys.executable)
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": f"{tools}:{os.environ['PATH']}"}


def sh(*args, cwd, check=True) -> subprocess.CompletedProcess:
    """Run a command line (git, dvc, ...) in ``cwd`` with this Python's tools first on PATH."""
    result = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-5000:]}")
    return result


def git_dvc_repo(root: Path) -> Path:
    """A git + DVC repository in ``root`` holding the project's code, params and DVC config, nothing committed."""
    copy_project(root, (*PIPELINE_FILES, "cloud", ".gitignore", ".sky.yaml"))
    sh("git", "init", "-q", cwd=root)
    sh("git", "config", "user.email", "test@example.com", cwd=root)
    sh("git", "config", "user.name", "test", cwd=root)
    sh("dvc", "init", "-q", cwd=root)
    shutil.copy(REPO / ".dvc/config", root / ".dvc/config")
    return root


def trim(source: Path, out: Path, seconds: float, start: float = 0.0) -> None:
    """``seconds`` of a video from ``start``, re-encoded to H.264 + AAC, so that end-to-end tests stay short."""
    from faceswap.media import video

    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([video.FFMPEG, "-v", "error", "-ss", str(start), "-i", str(source), "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)], check=True)


def awkward_clip(source: Path, out: Path, seconds: float, start: float = 0.0, *, size: tuple[int, int] | None = None,
                 pix_fmt: str = "yuv420p", rotation: int = 0) -> None:
    """A clip as cameras and editors hand them over: at ``size`` (odd sides too), in ``pix_fmt`` (4:4:4,
    10-bit), its pixels stored turned ``rotation`` degrees clockwise with a display matrix that turns them back
    (a phone held upright): it displays as ``source`` does, at ``size``."""
    from faceswap.media import video

    out.parent.mkdir(parents=True, exist_ok=True)
    filters = [f"scale={size[0]}:{size[1]}", "setsar=1"] if size else []
    filters += {0: [], 90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}[rotation]
    stored = out.with_name(f"stored-{out.name}")
    subprocess.run([video.FFMPEG, "-v", "error", "-ss", str(start), "-i", str(source), "-t", str(seconds),
                    *(["-vf", ",".join(filters)] if filters else []), "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", pix_fmt, "-c:a", "aac", str(stored)], check=True)
    subprocess.run([video.FFMPEG, "-v", "error", "-display_rotation", str(rotation), "-i", str(stored),
                    "-c", "copy", str(out)], check=True)
    stored.unlink()


def video_stream(path) -> str:
    """The video stream as ``ffmpeg -i`` describes it: codec, profile, pixel format, stored size, and the lines
    under it (a display matrix's rotation)."""
    from faceswap.media import video

    text = subprocess.run([video.FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return re.search(r"Stream #\S+: Video: .*?(?=\n\s*Stream #|\Z)", text, re.S)[0]


def container_tags(path) -> dict[str, str]:
    """A video file's global metadata as ``ffmpeg -i`` prints it."""
    from faceswap.media import video

    text = subprocess.run([video.FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    block = text.split("Metadata:", 1)[1].split("Duration:", 1)[0]
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in block.splitlines())
            if value}


def blur_face(frame, points):
    """A deliberately bad swap: the frame with the face inside the hull of its landmarks blurred (sigma 4 px)."""
    import cv2
    import numpy as np

    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    return np.where(mask[..., None] > 0, cv2.GaussianBlur(frame, (0, 0), 4), frame)


def set_params(root: Path, changes: dict) -> None:
    data = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in changes.items():
        data[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, seconds: float = 60, up_statuses: tuple[int, ...] = ()) -> None:
    """Wait until ``url`` answers with success, or with one of the HTTP error ``up_statuses`` that also say the
    server is up (403 from one that wants a token)."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError as error:
            if error.code in up_statuses:
                return
            time.sleep(0.3)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


@contextlib.contextmanager
def serving(args: list[str], log_path: Path, port: int, env: dict | None = None, health: str = "",
            seconds: float = 60, up_statuses: tuple[int, ...] = ()):
    """Run a server command line (listening on 127.0.0.1:``port``) with its output in ``log_path``; yield its URL
    once ``health`` answers HTTP (success, or one of ``up_statuses``), and stop it afterwards."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(url + health, process, seconds, up_statuses)
            yield url
        finally:
            process.terminate()
            process.wait(30)


@contextlib.contextmanager
def running_mlflow_server(folder: Path, *args: str, env: dict | None = None):
    """``mlflow server`` on 127.0.0.1 with its store and artifacts in ``folder`` and ``args`` added (e.g. ``--app-name
    basic-auth``), while the block runs; its URL."""
    port = free_port()
    with serving([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                  "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                  "--artifacts-destination", str(folder / "artifacts"), *args],
                 folder / "mlflow-server.log", port, {**os.environ, **(env or {})}, "/health", 120) as url:
        yield url


def loopback_bucket(endpoint: str, bucket: str):
    """A new bucket on the loopback S3 endpoint, and a boto3 client of that endpoint to look into it."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    return s3


def use_loopback_remote(root: Path, endpoint: str, bucket: str) -> None:
    """Make ``storage``, at ``s3://bucket/store`` on the loopback endpoint, the project's default DVC remote, in
    ``.dvc/config.local`` as a user would (``dvc remote add --local -d``), leaving the committed config alone
    (it names no remote)."""
    (root / ".dvc/config.local").write_text(
        f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://{bucket}/store\n"
        f"    endpointurl = {endpoint}\n")


def all_faces(folder: Path, size: int):
    """Every training face of a side at once, ``(faces, maps, landmarks)``, as ``TrainingFaces`` reads them."""
    import numpy as np

    from faceswap.train.stream import TrainingFaces

    faces = TrainingFaces(folder, size)
    try:
        return faces.read(np.arange(len(faces)))
    finally:
        faces.close()
