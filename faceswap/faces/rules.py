"""The filter rules: which faces the filtered stage removes, and why, as one table read in order.

A face is removed by the first rule that applies to its side and holds for it; the stage's report counts each
rule. The screening rules need only a face's index record (key, box, score); the measured ones need what the
stage measured of its pixels (``identity_distance``, ``sharpness``, ``hash``). The target keeps every face of
its person, since conversion needs every frame; the source is training material, so blurred faces and
near-duplicates go too.
"""

import codecs
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.core.damage import damaged
from faceswap.core.paths import SIDES
from faceswap.faces.quality import hash_bits_apart
from faceswap.media.imageset import SAFE_KEY


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
VERDICTS = ("kept", *(rule.name for rule in RULES))  # what became of a face: kept, or the rule that removed it
KEPT = VERDICTS.index("kept")


def first_rule(rules: tuple[Rule, ...], face: dict, side: str, context: Context) -> str | None:
    """The name of the first of ``rules`` that removes the face, or None if it passes them all."""
    return next((rule.name for rule in rules if side in rule.sides and rule.removes(face, context)), None)


def exclusion_key(line: str) -> str:
    """The key a line of an exclusion list names ('' for a blank line or a comment)."""
    return line.split("#", 1)[0].strip()


def exclusion_lines(path: Path) -> list[str]:
    """The lines of an exclusion list, each checked: UTF-8 text (a BOM and CRLF line ends, as editors on Windows
    save it, are fine) and at most one face key a line. The one reader of the format, for the filtered stage and
    the review page alike."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; create it (it may be empty) to list keys to exclude")
    try:
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror}); check its permissions") from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line} is not UTF-8 text; save the file as UTF-8 or remove the line") from None
    for number, line in enumerate(lines, 1):
        key = exclusion_key(line)
        if key and not SAFE_KEY.match(key):
            raise UserError(f"{path}: line {number}: {key!r} is not a face key (letters, digits, '_' and '-'); "
                            "one key a line, '#' starts a comment")
    return lines


def read_exclusions(path: Path) -> set[str]:
    """The keys of an exclusion list: one a line; blank lines and ``#`` comments are ignored."""
    return {key for key in map(exclusion_key, exclusion_lines(path)) if key}


def write_verdicts(path: Path, keys: Iterable[str], verdicts: bytes) -> None:
    """Each face's verdict (a ``VERDICTS`` code a face, in index order) as CSV: ``key,verdict`` a line, under a
    header."""
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as out:
        out.write("key,verdict\n")
        out.writelines(f"{key},{VERDICTS[code]}\n" for key, code in zip(keys, verdicts, strict=True))


def read_verdicts(path: Path) -> tuple[list[str], np.ndarray]:
    """The keys of a verdicts file and each one's ``VERDICTS`` code, read by Arrow's CSV reader (10^5 faces in
    a few tens of milliseconds)."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    try:
        table = arrow_csv.read_csv(path, convert_options=arrow_csv.ConvertOptions(
            column_types={"key": pa.string(), "verdict": pa.string()}, include_columns=["key", "verdict"]))
    except (pa.ArrowInvalid, KeyError) as error:
        raise damaged(path, f"not key,verdict lines ({str(error).splitlines()[0]})") from None
    names = table.column("verdict").combine_chunks().dictionary_encode()
    unknown = set(names.dictionary.to_pylist()) - set(VERDICTS)
    if unknown:
        raise damaged(path, f"unknown verdict {min(unknown)!r}")
    codes = np.asarray([VERDICTS.index(name) for name in names.dictionary.to_pylist()], np.int8)
    return table.column("key").to_pylist(), codes[names.indices.to_numpy(zero_copy_only=False)]
