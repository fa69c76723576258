"""Stage filtered: drop the faces not worth training on or converting, and report how many each rule removed.

Rules, in order: face box smaller than ``filtered.min_size`` px, detector score below ``filtered.min_score``.
Writes ``data/filtered/<side>/`` (the kept crops, as in crops) and the report ``data/metrics/filtered-<side>.json``.
"""

import shutil
from pathlib import Path

from stages.lib import cli, params
from stages.lib.atomic import atomic_dir, write_json
from stages.lib.imageset import ShardWriter, iter_samples, read_index


def rejection(face: dict, p) -> str | None:
    """The first rule a face fails, or None when it is kept."""
    if min(face["box"][2], face["box"][3]) < p.min_size:
        return "min_size"
    if face["score"] < p.min_score:
        return "min_score"
    return None


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("filtered")
    crops = Path("data/crops") / side
    faces = read_index(crops)
    removed = {"min_size": 0, "min_score": 0}
    kept = []
    for face in faces:
        rule = rejection(face, p)
        if rule:
            removed[rule] += 1
        else:
            kept.append(face)
    with atomic_dir(Path("data/filtered") / side) as out:
        with ShardWriter(out, "filtered") as shards:
            for face, files in cli.progress(iter_samples(crops, kept), f"filtered@{side}", len(kept)):
                shards.add(face["key"], files, {k: v for k, v in face.items() if k not in ("key", "shard")})
        shutil.copy(crops / "videos.json", out / "videos.json")
        write_json(Path("data/metrics") / f"filtered-{side}.json",
                   {"faces_in": len(faces), "faces_kept": len(kept), "removed": removed})
    cli.log.info("filtered@%s: kept %d of %d faces; removed %s", side, len(kept), len(faces), removed)
    if faces and not kept:
        cli.log.warning("filtered@%s: every face was removed; lower filtered.min_size or filtered.min_score", side)


if __name__ == "__main__":
    cli.run(main)
