"""Stage filtered: keep the faces of the side's person worth training on or converting, and report how many
each rule removed.

Rules (the table in ``faceswap/faces/rules.py``), in order: the key is in the exclusion list
``data/exclude/<side>.txt`` (a tracked input: remove a false positive by adding its key, never by editing an
output); face box smaller than ``filtered.min_size`` px;
detector score below ``filtered.min_score``; dlib embedding farther than ``filtered.max_identity_distance`` from
the side's person (``filtered.reference_images``, else the dominant identity), so other people are dropped. For
the source only, which is training material: blurred (``filtered.min_sharpness``) and near-duplicates of the
previous kept face (``filtered.duplicate_bits``); the target keeps every face of its person, since conversion
needs every frame.

Writes ``data/filtered/<side>/`` (the kept crops as in crops, plus ``identity_distance`` and ``sharpness``, and
the side's person as ``person.json``, its embedding, which the output stage measures the swap against, and
``verdicts.csv``, each face of the crops with the rule that removed it or ``kept``, for the review page), the
report ``data/metrics/filtered-<side>.json`` and the contact sheet ``data/sheets/filtered-<side>.jpg``.
"""

import shutil
from array import array
from collections.abc import Iterator

import numpy as np

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, write_json
from faceswap.core.workers import map_in_workers
from faceswap.faces.detect import FaceDetector
from faceswap.faces.geometry import box_in_crop
from faceswap.faces.identity import FaceEmbedder, distance, dominant_embedding, embedding_plan, reference_embedding
from faceswap.faces.quality import difference_hash, face_region, sharpness
from faceswap.faces.rules import (
    KEPT,
    MEASURED,
    RULES,
    SCREENING,
    VERDICTS,
    Context,
    first_rule,
    read_exclusions,
    write_verdicts,
)
from faceswap.media.contact_sheet import write_contact_sheet
from faceswap.media.imageset import ShardWriter, decode_image, iter_index, iter_samples


def measure_face(embedder: FaceEmbedder, item: tuple) -> tuple:
    """Sharpness, difference hash and, if asked, the identity embedding of one crop (run in a worker process)."""
    (face, files), embed = item
    crop = decode_image(files["jpg"])
    box = box_in_crop(face["box"], face["crop"], crop.shape[0])
    region = face_region(crop, box)
    return round(sharpness(region), 1), difference_hash(region), embedder.embed(crop, box) if embed else None


class FacePasses:
    """The stage's passes over one side's crops. The index is read again for each pass instead of being held
    (a feature film's records take gigabytes); between passes only what each face needs is kept, in compact
    arrays. ``removed`` counts the faces each rule removed."""

    def __init__(self, side: str, p, excluded: set[str]):
        self.side, self.p, self.crops = side, p, paths.stage_output("crops", side)
        self.context = Context(p, excluded)
        self.verdicts = bytearray()  # per face of the index: its VERDICTS code, kept until a rule removes it
        self.candidate_at = array("q")  # per candidate (a face that passed screening): its place in the index
        self.plan = array("q")  # per candidate: the position of the candidate whose embedding stands for it
        self.sharpnesses, self.hashes, self.embeddings = array("d"), array("Q"), {}
        self.distances = array("d")  # of the kept faces

    def screen(self) -> None:
        """The rules that need only the index record; warns of excluded keys that match no face."""
        matched = set()
        for place, face in enumerate(iter_index(self.crops)):
            rule = first_rule(SCREENING, face, self.side, self.context)
            if not rule:
                self.candidate_at.append(place)
            if rule == "excluded":
                matched.add(face["key"])
            self.verdicts.append(VERDICTS.index(rule or "kept"))
        unknown = self.context.excluded - matched
        if unknown:
            cli.log.warning("%s: %d keys match no face (e.g. %s)", paths.exclusions(self.side), len(unknown),
                            min(unknown))

    def candidates(self) -> Iterator[dict]:
        """The faces that passed the screening rules, read from the index again."""
        return (face for face, verdict in zip(iter_index(self.crops), self.verdicts) if verdict == KEPT)

    def measure(self) -> None:
        """Sharpness and hash of every candidate, and the embeddings the plan asks for, in worker processes."""
        self.plan = array("q", embedding_plan(self.candidates(), max(1, self.p.identity_every)))
        own_embedding = (stands_for == position for position, stands_for in enumerate(self.plan))
        measured = map_in_workers(measure_face, zip(iter_samples(self.crops, self.candidates()), own_embedding),
                                  setup=FaceEmbedder)
        for position, (face_sharpness, face_hash, embedding) in enumerate(
                cli.progress(measured, f"identity@{self.side}", len(self.plan))):
            self.sharpnesses.append(face_sharpness)
            self.hashes.append(face_hash)
            if embedding is not None:
                self.embeddings[position] = embedding

    def person(self, references: list[str]) -> np.ndarray | None:
        """The side's person: the mean embedding of the reference images, else the dominant identity."""
        if references:
            return reference_embedding(references, FaceEmbedder(), FaceDetector(0.6))
        if self.embeddings:
            return dominant_embedding(np.stack(list(self.embeddings.values())), self.p.max_identity_distance)
        return None

    def kept(self, person: np.ndarray | None) -> Iterator[dict]:
        """The candidates that pass the measured rules, with their measurements."""
        for position, face in enumerate(self.candidates()):
            face["sharpness"] = self.sharpnesses[position]
            face["identity_distance"] = round(distance(self.embeddings[self.plan[position]], person), 4)
            rule = first_rule(MEASURED, {**face, "hash": self.hashes[position]}, self.side, self.context)
            if rule:
                self.verdicts[self.candidate_at[position]] = VERDICTS.index(rule)
                continue
            self.context.last_hash[face["video"]] = self.hashes[position]
            self.distances.append(face["identity_distance"])
            yield face

    @property
    def removed(self) -> dict[str, int]:
        """How many faces each rule removed, from the verdicts."""
        return {rule.name: self.verdicts.count(VERDICTS.index(rule.name)) for rule in RULES}

    def report(self, kept: int, references: list[str]) -> dict:
        return {"faces_in": len(self.verdicts), "faces_kept": kept, "removed": self.removed,
                "identity": {"person": "reference_images" if references else "dominant",
                             "faces_embedded": len(self.embeddings),
                             "median_distance_kept": round(float(np.median(self.distances)), 4) if self.distances
                             else None}}


def write_filtered(passes: FacePasses, person: np.ndarray | None, references: list[str]) -> int:
    """Write the kept faces, the side's person, the report and the contact sheet; return how many were kept."""
    side = passes.side
    with atomic_dir(paths.stage_output("filtered", side)) as out:
        with ShardWriter(out, "filtered") as shards:
            for face, files in cli.progress(iter_samples(passes.crops, passes.kept(person)), f"filtered@{side}",
                                            len(passes.plan)):
                shards.add(face["key"], files, {k: v for k, v in face.items() if k not in ("key", "shard")})
        shutil.copy(passes.crops / paths.VIDEOS_FILE, out / paths.VIDEOS_FILE)
        write_verdicts(out / paths.VERDICTS_FILE, (face["key"] for face in iter_index(passes.crops)), passes.verdicts)
        write_json(out / paths.PERSON_FILE, {"from": "reference_images" if references else "dominant",
                                             "embedding": None if person is None else np.round(person, 6).tolist()})
        write_contact_sheet(out, paths.contact_sheet("filtered", side), f"filtered@{side}")
        write_json(paths.metrics(f"filtered-{side}"), passes.report(shards.count, references))
    return shards.count


def main() -> None:
    side = cli.side_argument(__doc__)
    p = params.load("filtered")
    passes = FacePasses(side, p, read_exclusions(paths.exclusions(side)))
    passes.screen()
    passes.measure()
    references = p.reference_images.get(side) or []
    kept = write_filtered(passes, passes.person(references), references)
    cli.log.info("filtered@%s: kept %d of %d faces; removed %s", side, kept, len(passes.verdicts), passes.removed)
    if passes.verdicts and not kept:
        cli.log.warning("filtered@%s: every face was removed; see %s for which rule", side,
                        paths.metrics(f"filtered-{side}"))


if __name__ == "__main__":
    cli.run(main)
