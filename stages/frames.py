"""Stage frames: decode each video of one side at a constant frame rate into JPEG tar shards.

The target keeps every frame (conversion needs them all); source videos are sampled at ``frames.fps``.
Writes ``data/frames/<side>/``: shards, ``index.jsonl`` (key, video, frame, time) and ``videos.json``, and the
contact sheet ``data/sheets/frames-<side>.jpg``.
"""

from fractions import Fraction

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, write_json
from faceswap.media import video
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.imageset import ShardWriter, encode_jpeg


def sample_rate(side: str, info: video.VideoInfo, fps: float) -> str:
    """The constant rate to decode at: the video's own for the target, at most ``fps`` for a source."""
    own = Fraction(info.rate)
    if side == "target" or fps >= own:
        return info.rate
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def check_complete(path, decoded: int, expected: int, rate: str, accept_short: bool) -> None:
    """Stop on a video that ends before its container says, unless ``frames.accept_short_videos`` is set."""
    if accept_short:
        if video.ends_early(decoded, expected):
            cli.log.warning("frames: %s ends early (%d frames decoded, %d expected); used as decoded, as "
                            "frames.accept_short_videos says", path, decoded, expected)
        return
    video.check_frame_count(path, decoded, expected, f"its container's length at {rate} fps",
                            "the file is cut short or damaged: replace it, or set frames.accept_short_videos: "
                            "true in params.yaml to use the frames it has")


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("frames")
    videos = video.list_videos(paths.raw(side))
    if side == "target" and len(videos) != 1:
        raise cli.UserError(f"{paths.raw(side)}: holds {len(videos)} videos; keep exactly one target video there")
    infos = {path: video.probe(path) for path in videos}  # every input checked before anything is written
    with atomic_dir(paths.stage_output("frames", side)) as out:
        catalogue = {}
        with ShardWriter(out, "frames") as shards:
            for path, info in infos.items():
                rate = sample_rate(side, info, p.fps)
                count = 0
                for count, frame in enumerate(cli.progress(video.decode(path, info, rate),
                                                           f"frames {path.name}"), start=1):
                    index = count - 1
                    shards.add(f"{path.stem}_{index:06d}", {"jpg": encode_jpeg(frame, p.jpeg_quality)},
                               {"video": path.stem, "frame": index, "time": round(index / float(Fraction(rate)), 4)})
                check_complete(path, count, video.expected_frames(info, rate), rate, p.accept_short_videos)
                catalogue[path.stem] = {**info.to_dict(), "file": path.name, "sample_rate": rate, "frames": count}
        write_json(out / paths.VIDEOS_FILE, catalogue)
        write_contact_sheet(out, paths.contact_sheet("frames", side), f"frames@{side}")
    cli.log.info("frames@%s: %s", side, ", ".join(f"{k}: {v['frames']} frames" for k, v in catalogue.items()))


if __name__ == "__main__":
    cli.run(main)
