"""The timeline CSV beside the alignments file: one row per frame of every video (its status and first face), so
that ``dvc plots`` draws the coverage and the review page's strip reads a feature film's in tens of milliseconds,
where its alignments file takes seconds. Its columns are ``TIMELINE_FIELDS``; a file without them is one
``dvc repro -f alignments@<side>`` writes anew."""

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.faces.alignments_file import STATUS_CODES, Written

TIMELINE_FIELDS = ("position", "video", "frame", "status", "status_code", "face")


def timeline(written: Written) -> Iterator[dict]:
    """One row per frame of every video, in order (``TIMELINE_FIELDS``), made as they are taken."""
    position = 0
    for name, video in written.statuses.items():
        for frame, (status, face) in enumerate(zip(video, written.faces[name], strict=True)):
            yield {"position": position, "video": name, "frame": frame, "status": status,
                   "status_code": STATUS_CODES[status], "face": face}
            position += 1


def write_timeline(path: Path, rows: Iterable[dict]) -> None:
    """The timeline as CSV: the plot of ``dvc plots``, and what the review page's strip reads (a feature film's in
    tens of milliseconds, where its alignments file takes seconds)."""
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=TIMELINE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_timeline(path: Path) -> Written:
    """A timeline CSV back as each video's statuses and first faces, read by Arrow's CSV reader."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    remake = f"write it anew with `dvc repro -f alignments@{path.stem.split('-')[1]}`"
    try:
        table = arrow_csv.read_csv(path, convert_options=arrow_csv.ConvertOptions(
            column_types=dict.fromkeys(("video", "status", "face"), pa.string()),
            include_columns=["video", "status", "face"], strings_can_be_null=True))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; {remake}") from None
    except (pa.ArrowInvalid, KeyError) as error:
        raise UserError(f"{path}: not a timeline of this version ({str(error).splitlines()[0]}); {remake}") from None
    written = Written({}, {})
    for name, status, face in zip(*(table.column(c).to_pylist() for c in ("video", "status", "face")), strict=True):
        if status not in STATUS_CODES:
            raise UserError(f"{path}: unknown status {status!r}; {remake}")
        written.statuses.setdefault(name, []).append(status)
        written.faces.setdefault(name, []).append(face)
    return written
