"""Stage filtered: keep the faces of the side's person worth training on or converting, and report how many
each rule removed.

Rules, in order: the key is in the exclusion list ``data/exclude/<side>.txt`` (a tracked input: remove a false
positive by adding its key, never by editing an output); face box smaller than ``filtered.min_size`` px;
detector score below ``filtered.min_score``; dlib embedding farther than ``filtered.max_identity_distance`` from
the side's person (``filtered.reference_images``, else the dominant identity), so other people are dropped. For
the source only, which is training material: blurred (``filtered.min_sharpness``) and near-duplicates of the
previous kept face (``filtered.duplicate_bits``); the target keeps every face of its person, since conversion
needs every frame.

Writes ``data/filtered/<side>/`` (the kept crops as in crops, plus ``identity_distance`` and ``sharpness``, and
the side's person as ``person.json``, its embedding, which the output stage measures the swap against), the
report ``data/metrics/filtered-<side>.json`` and the contact sheet ``data/sheets/filtered-<side>.jpg``.
"""

import shutil
from array import array
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

import numpy as np

from faceswap.core import cli, params
from faceswap.core.atomic import atomic_dir, write_json
from faceswap.core.workers import map_in_workers
from faceswap.faces.detect import FaceDetector, box_in_crop
from faceswap.faces.identity import PERSON_FILE, FaceEmbedder, distance, dominant_embedding, reference_embedding
from faceswap.faces.quality import difference_hash, face_region, hash_bits_apart, sharpness
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.imageset import ShardWriter, decode_image, iter_index, iter_samples

RULES = ("excluded", "min_size", "min_score", "identity", "min_sharpness", "near_duplicate")


def read_exclusions(path: Path) -> set[str]:
    """Keys listed one a line; blank lines and ``#`` comments are ignored."""
    if not path.is_file():
        raise cli.UserError(f"{path}: no such file; create it (it may be empty) to list keys to exclude")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def overlap(a: list[float], b: list[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def embedding_plan(faces: Iterable[dict], every: int) -> Iterator[int]:
    """For each face (in index order: the faces of a frame together), the position of the face whose embedding
    stands for it.

    A face alone in its frame whose box overlaps the lone face of the previous frame continues that track and
    reuses its embedding, for up to ``every`` faces; any other face is embedded itself. Embedding is by far the
    slowest step of extraction, and a face does not change identity between two frames.
    """
    position, track = 0, {}  # track: video -> (frame, box, embedded position, faces so far)
    for _, frame_faces in groupby(faces, key=lambda face: (face["video"], face["frame"])):
        frame_faces = list(frame_faces)
        single = len(frame_faces) == 1
        for face in frame_faces:
            last = track.get(face["video"])
            if (single and last and last[0] == face["frame"] - 1 and last[3] < every
                    and overlap(last[1], face["box"]) > 0.5):
                yield last[2]
                track[face["video"]] = (face["frame"], face["box"], last[2], last[3] + 1)
            else:
                yield position
                track[face["video"]] = (face["frame"], face["box"], position, 1) if single else None
            position += 1


def measure_face(embedder: FaceEmbedder, item: tuple) -> tuple:
    """Sharpness, difference hash and, if asked, the identity embedding of one crop (run in a worker process)."""
    (face, files), embed = item
    crop = decode_image(files["jpg"])
    box = box_in_crop(face["box"], face["crop"], crop.shape[0])
    region = face_region(crop, box)
    return round(sharpness(region), 1), difference_hash(region), embedder.embed(crop, box) if embed else None


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("filtered")
    crops = Path("data/crops") / side
    excluded = read_exclusions(Path("data/exclude") / f"{side}.txt")
    # The index is read again for each pass instead of being held: a feature film's records take gigabytes.
    # Between passes only what each face needs is kept, in compact arrays.
    removed, matched, screened = dict.fromkeys(RULES, 0), set(), bytearray()
    for face in iter_index(crops):
        rule = ("excluded" if face["key"] in excluded else "min_size" if min(face["box"][2:]) < p.min_size
                else "min_score" if face["score"] < p.min_score else None)
        if rule:
            removed[rule] += 1
        if rule == "excluded":
            matched.add(face["key"])
        screened.append(rule is None)
    unknown = excluded - matched
    if unknown:
        cli.log.warning("data/exclude/%s.txt: %d keys match no face (e.g. %s)", side, len(unknown), min(unknown))

    def candidates() -> Iterator[dict]:
        """The faces that passed the exclusion list, size and score, read from the index again."""
        return (face for face, passed in zip(iter_index(crops), screened) if passed)

    plan = array("q", embedding_plan(candidates(), max(1, p.identity_every)))
    sharpnesses, hashes, embeddings = array("d"), array("Q"), {}
    own_embedding = (stands_for == position for position, stands_for in enumerate(plan))
    measured = map_in_workers(measure_face, zip(iter_samples(crops, candidates()), own_embedding),
                              setup=FaceEmbedder)
    for position, (face_sharpness, face_hash, embedding) in enumerate(
            cli.progress(measured, f"identity@{side}", len(plan))):
        sharpnesses.append(face_sharpness)
        hashes.append(face_hash)
        if embedding is not None:
            embeddings[position] = embedding
    references = p.reference_images.get(side) or []
    person = None
    if references:
        person = reference_embedding(references, FaceEmbedder(), FaceDetector(0.6))
    elif embeddings:
        person = dominant_embedding(np.stack(list(embeddings.values())), p.max_identity_distance)

    distances = array("d")  # of the kept faces

    def kept() -> Iterator[dict]:
        """The candidates that pass identity and, on the source, sharpness and near-duplicates, with their
        measurements; counts the others in ``removed``."""
        last_hash = {}
        for position, face in enumerate(candidates()):
            face["sharpness"] = sharpnesses[position]
            face["identity_distance"] = round(distance(embeddings[plan[position]], person), 4)
            duplicate = last_hash.get(face["video"])
            rule = ("identity" if face["identity_distance"] > p.max_identity_distance
                    else None if side == "target"
                    else "min_sharpness" if face["sharpness"] < p.min_sharpness
                    else "near_duplicate" if (p.duplicate_bits > 0 and duplicate is not None
                                              and hash_bits_apart(duplicate, hashes[position]) <= p.duplicate_bits)
                    else None)
            if rule:
                removed[rule] += 1
            else:
                last_hash[face["video"]] = hashes[position]
                distances.append(face["identity_distance"])
                yield face

    with atomic_dir(Path("data/filtered") / side) as out:
        with ShardWriter(out, "filtered") as shards:
            for face, files in cli.progress(iter_samples(crops, kept()), f"filtered@{side}", len(plan)):
                shards.add(face["key"], files, {k: v for k, v in face.items() if k not in ("key", "shard")})
        shutil.copy(crops / "videos.json", out / "videos.json")
        write_json(out / PERSON_FILE, {"from": "reference_images" if references else "dominant",
                                       "embedding": None if person is None else np.round(person, 6).tolist()})
        write_contact_sheet(out, Path("data/sheets") / f"filtered-{side}.jpg", f"filtered@{side}")
        write_json(Path("data/metrics") / f"filtered-{side}.json",
                   {"faces_in": len(screened), "faces_kept": shards.count, "removed": removed,
                    "identity": {"person": "reference_images" if references else "dominant",
                                 "faces_embedded": len(embeddings),
                                 "median_distance_kept": round(float(np.median(distances)), 4) if distances
                                 else None}})
    cli.log.info("filtered@%s: kept %d of %d faces; removed %s", side, shards.count, len(screened), removed)
    if screened and not shards.count:
        cli.log.warning("filtered@%s: every face was removed; see data/metrics/filtered-%s.json for which rule",
                        side, side)


if __name__ == "__main__":
    cli.run(main)
