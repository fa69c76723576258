"""The filter rules: which faces the filtered stage removes, and why, as one table read in order.

A face is removed by the first rule that applies to its side and holds for it; the stage's report counts each
rule. The screening rules need only a face's index record (key, box, score); the measured ones need what the
stage measured of its pixels (``identity_distance``, ``sharpness``, ``hash``). The target keeps every face of
its person, since conversion needs every frame; the source is training material, so blurred faces and
near-duplicates go too.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from faceswap.core.cli import UserError
from faceswap.core.paths import SIDES
from faceswap.faces.quality import hash_bits_apart


@dataclass
class Context:
    """What the rules judge a face against: the ``filtered.*`` params, the keys the user excluded, and the hash
    of the last face kept in each video (for near-duplicates)."""

    p: SimpleNamespace
    excluded: set[str] = field(default_factory=set)
    last_hash: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str  # as counted in data/metrics/filtered-<side>.json
    sides: tuple[str, ...]
    removes: Callable[[dict, Context], bool]


def is_near_duplicate(face: dict, context: Context) -> bool:
    last = context.last_hash.get(face["video"])
    bits = context.p.duplicate_bits
    return bits > 0 and last is not None and hash_bits_apart(last, face["hash"]) <= bits


SCREENING = (
    Rule("excluded", SIDES, lambda face, c: face["key"] in c.excluded),
    Rule("min_size", SIDES, lambda face, c: min(face["box"][2:]) < c.p.min_size),
    Rule("min_score", SIDES, lambda face, c: face["score"] < c.p.min_score),
)
MEASURED = (
    Rule("identity", SIDES, lambda face, c: face["identity_distance"] > c.p.max_identity_distance),
    Rule("min_sharpness", ("source",), lambda face, c: face["sharpness"] < c.p.min_sharpness),
    Rule("near_duplicate", ("source",), is_near_duplicate),
)
RULES = SCREENING + MEASURED


def first_rule(rules: tuple[Rule, ...], face: dict, side: str, context: Context) -> str | None:
    """The name of the first of ``rules`` that removes the face, or None if it passes them all."""
    return next((rule.name for rule in rules if side in rule.sides and rule.removes(face, context)), None)


def read_exclusions(path: Path) -> set[str]:
    """Keys listed one a line; blank lines and ``#`` comments are ignored."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; create it (it may be empty) to list keys to exclude")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}
