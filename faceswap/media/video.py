"""Video in and out through the ffmpeg binary that imageio-ffmpeg ships, driven by ffmpeg-python.

Frames travel through pipes as raw BGR bytes, so no decoded frame is ever written to disk by ffmpeg.
"""

import fcntl
import logging
import re
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import ffmpeg
import imageio_ffmpeg
import numpy as np

from faceswap.core.cli import UserError
from faceswap.core.damage import damaged, is_count, is_rate, read_json
from faceswap.core.paths import VIDEOS_FILE

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
# imageio-ffmpeg warns of every video ffmpeg turns as its display matrix says (a phone clip): turning is meant
logging.getLogger("imageio_ffmpeg").addFilter(lambda record: "different from the source" not in record.getMessage())
MP4_AUDIO = ("aac", "mp3", "alac", "ac3", "eac3", "opus")  # audio an MP4 holds as it is: copied, not re-encoded


@dataclass
class VideoInfo:
    """What the pipeline needs to know of an input video."""

    rate: str  # average frame rate as an exact fraction, e.g. "24000/1001"
    fps: float
    width: int
    height: int
    duration: float
    has_audio: bool
    frame_count: int = 0  # the video stream's frames as the container counts them (0: unknown)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def as_decoded(cls, entry: dict) -> "VideoInfo":
        """A video as the frames stage decoded it, from its entry in ``videos.json``: at its sample rate."""
        return cls(**{key: entry[key] for key in ("fps", "width", "height", "duration", "has_audio")},
                   rate=entry["sample_rate"])


CATALOGUE_KEYS = ("sample_rate", "frames", "width", "height")  # what every stage after frames reads of a video


def read_catalogue(folder: Path) -> dict[str, dict]:
    """``videos.json`` of an image set: per video (by stem) its file, size, rates, duration, audio and the
    number of frames decoded. The frames stage writes it and each later stage passes it on; damaged, it is a
    UserError."""
    path = Path(folder) / VIDEOS_FILE
    catalogue = read_json(path)
    if not isinstance(catalogue, dict) or not catalogue:
        raise damaged(path, "not an object with an entry per video")
    for name, entry in catalogue.items():
        missing = [key for key in CATALOGUE_KEYS if key not in entry] if isinstance(entry, dict) else CATALOGUE_KEYS
        if missing:
            raise damaged(path, f"video {name!r} lacks {', '.join(missing)}")
        if not is_rate(entry["sample_rate"]):
            raise damaged(path, f"video {name!r}: sample_rate {entry['sample_rate']!r} is not a positive fraction")
        if not (is_count(entry["frames"]) and is_count(entry["width"], 1) and is_count(entry["height"], 1)):
            raise damaged(path, f"video {name!r}: frames, width and height are not whole numbers (the size above 0)")
    return catalogue


def container_meta(path: Path) -> dict:
    """What ffmpeg reports of a video before its first frame (size, rate, duration, audio codec)."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    return meta


STILL_IMAGE_FORMATS = re.compile(r"image2|\w+_pipe")  # ffmpeg's demuxers of single pictures: jpeg_pipe, png_pipe...


def check_moving_picture(path: Path) -> None:
    """A file ffmpeg opens but that is no video (a photo, a song with its cover picture, sound alone, a picture
    of no size) is a UserError saying which; a file ffmpeg cannot open is left to the reading that follows."""
    header = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                            errors="replace").stderr
    container = re.search(r"^Input #0, (.+?), from ", header, re.M)
    if container is None:
        return
    pictures = [line for line in header.splitlines() if re.match(r"\s*Stream #0:\d+.*: Video: ", line)]
    moving = [line for line in pictures if "(attached pic)" not in line]
    if not pictures:
        raise UserError(f"{path}: no video stream in it (sound only?); replace it with a video file")
    if STILL_IMAGE_FORMATS.fullmatch(container[1]) or not moving:
        raise UserError(f"{path}: a still image ({container[1]}), not a video; replace it with a video file")
    if not any(re.search(r", [1-9]\d*x[1-9]\d*\b", line) for line in moving):
        raise UserError(f"{path}: its video has no size (width or height 0 or missing); it is damaged, replace it")


def probe(path: Path) -> VideoInfo:
    """Read a video's size (as displayed: a turned phone clip's display matrix applied), frame rate, duration
    and audio; a file ffmpeg cannot read, or that holds no moving picture, is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    check_moving_picture(path)
    try:
        meta = container_meta(path)
    except (OSError, RuntimeError, StopIteration) as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a readable video ({reason}); replace it with a video file") from None
    capture = cv2.VideoCapture(str(path))
    fps, frame_count = (capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT)) \
        if capture.isOpened() else (0.0, 0.0)
    capture.release()
    fps = fps if fps and fps > 0 else float(meta.get("fps") or 0)
    if fps <= 0:
        raise UserError(f"{path}: no frame rate found; re-encode it with a constant frame rate")
    rate = Fraction(fps).limit_denominator(1001)
    width, height = meta["size"]  # what ffmpeg decodes to: turned as displayed
    return VideoInfo(
        rate=f"{rate.numerator}/{rate.denominator}",
        fps=float(rate),
        width=int(width),
        height=int(height),
        duration=float(meta.get("duration") or 0.0),
        has_audio=bool(meta.get("audio_codec")),
        frame_count=max(0, int(frame_count)),
    )


FRAME_TOLERANCE = 2  # frames a complete video may come short of its expected count: rounding at either end


def expected_frames(info: VideoInfo, rate: str) -> int:
    """The frames a complete decoding at ``rate`` yields: the video stream's length (the container's duration, or
    its frame count over its rate where that is shorter, e.g. when the audio runs longer) times ``rate``."""
    seconds = info.duration
    if info.frame_count:
        seconds = min(seconds, info.frame_count / info.fps) if seconds else info.frame_count / info.fps
    return round(seconds * Fraction(rate))


def ends_early(decoded: int, expected: int) -> bool:
    return decoded < expected - FRAME_TOLERANCE


def check_frame_count(path: Path, decoded: int, expected: int, whence: str, remedy: str) -> None:
    """A video that ends early (cut off by a copy or a download, damaged) is a UserError naming both counts."""
    if ends_early(decoded, expected):
        raise UserError(f"{path}: ends early: {decoded} frames decoded, {expected} expected ({whence}); {remedy}")


def audio_codec(path: Path) -> str | None:
    """The codec of a video's audio (ffmpeg's short name, e.g. ``aac``), None when it has none."""
    return container_meta(path).get("audio_codec") or None


def widen_pipe(pipe, size: int = 1 << 20) -> None:
    """Let a pipe hold a whole frame (Linux's default is 64 KiB): ffmpeg then decodes the next frame while this
    process handles the last one, instead of the two taking turns (frames stage 17% faster on the sample x4).
    Where the system refuses, the pipe stays as it was."""
    try:
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (AttributeError, OSError):
        pass


def decode(path: Path, info: VideoInfo, rate: str | None = None):
    """Yield the frames of ``path`` as 8-bit BGR arrays at a constant frame rate (the video's own unless given),
    from any pixel format or bit depth, turned as displayed (ffmpeg applies the display matrix).

    Variable-frame-rate input is resampled to constant, so frame ``i`` always sits at time ``i / rate``. The
    ``fps`` filter does it (each output time takes the nearest input frame, and the stream ends with the last
    frame's duration); the output option ``-r`` with ``-fps_mode cfr`` pads some VFR clips with extra frames.
    """
    frame_bytes = info.width * info.height * 3
    process = (
        ffmpeg.input(str(path))
        .filter("fps", fps=rate or info.rate)
        .output("pipe:", format="rawvideo", pix_fmt="bgr24")
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .run_async(cmd=FFMPEG, pipe_stdout=True)
    )
    widen_pipe(process.stdout)
    count = 0
    try:
        while True:
            data = process.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(info.height, info.width, 3)
    finally:
        if process.poll() is None:  # the caller stopped early: end ffmpeg before it writes to a closed pipe
            process.kill()
        process.stdout.close()
        process.wait()
    if count == 0:
        raise UserError(f"{path}: ffmpeg decoded no frame; the video is empty or corrupt, replace it")


WIDELY_PLAYED = "yuv420p"  # the pixel format every player plays


def pixel_format(width: int, height: int) -> str:
    """4:2:0, which every player plays, stores colour at half the width and height, so it needs even sides; an
    odd-sided video is encoded 4:4:4 (H.264's High 4:4:4 profile, HEVC's range extensions: the encoders choose
    them for it), which browsers, phones and QuickTime mostly do not play."""
    return WIDELY_PLAYED if width % 2 == 0 and height % 2 == 0 else "yuv444p"


class Encoder:
    """Encode BGR frames to H.264 or HEVC through a pipe, at the frames' size whatever it is (``pixel_format``),
    muxing in the audio of a reference video (faceswap's -ref): copied as it is where MP4 holds its codec, else
    encoded to AAC. ``metadata`` are container tags (any key: MP4 keeps them with ``use_metadata_tags``)."""

    def __init__(self, path: Path, info: VideoInfo, reference: Path | None, crf: int, preset: str,
                 codec: str = "libx264", metadata: dict[str, str] | None = None):
        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{info.width}x{info.height}",
                             framerate=info.rate)
        streams = [video]
        self.pix_fmt = pixel_format(info.width, info.height)
        options = dict(vcodec=codec, crf=crf, preset=preset, pix_fmt=self.pix_fmt, r=info.rate, movflags="+faststart")
        if codec == "libx265":
            options["tag:v"] = "hvc1"  # the tag Apple players need to open HEVC in MP4
        for number, (key, value) in enumerate((metadata or {}).items()):
            options[f"metadata:g:{number}"] = f"{key}={value}"
        if metadata:
            options["movflags"] += "+use_metadata_tags"
        if reference is not None and info.has_audio:
            streams.append(ffmpeg.input(str(reference)).audio)
            options["acodec"] = "copy" if audio_codec(reference) in MP4_AUDIO else "aac"
        self._process = (
            ffmpeg.output(*streams, str(path), format="mp4", **options)
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
            .overwrite_output()
            .run_async(cmd=FFMPEG, pipe_stdin=True)
        )
        self.path = path
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._process.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        self.frames += 1

    def close(self) -> None:
        self._process.stdin.close()
        if self._process.wait() != 0:
            raise RuntimeError(f"ffmpeg failed to encode {self.path}")


def list_videos(folder: Path) -> list[Path]:
    """The input videos of one side, in a stable order; their stems become keys, so they must be unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; put the side's videos there")
    videos = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not videos:
        raise UserError(f"{folder}: no video found; put at least one video there")
    for video in videos:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", video.stem):
            raise UserError(f"{video}: rename it to letters, digits, '_' and '-' (its name becomes part of keys)")
    stems = [v.stem for v in videos]
    if len(set(stems)) != len(stems):
        raise UserError(f"{folder}: two videos share a name ({', '.join(stems)}); rename one")
    return videos
