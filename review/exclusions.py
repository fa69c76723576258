"""Edit an exclusion list (``data/exclude/<side>.txt``) as a person would by hand: keys one a line, comments and
blank lines left where they are, new keys appended, a restored key's line taken out; written atomically, so
``filtered`` never reads half a list. ``faceswap.faces.rules.read_exclusions`` reads it back."""

from collections.abc import Iterable
from pathlib import Path

from faceswap.core.atomic import atomic_file
from faceswap.faces.rules import read_exclusions
from faceswap.media.imageset import SAFE_KEY


def line_key(line: str) -> str:
    return line.split("#", 1)[0].strip()


def edit(path: Path, exclude: Iterable[str], restore: Iterable[str]) -> set[str]:
    """Add the keys of ``exclude`` and remove those of ``restore``; returns the keys listed afterwards."""
    exclude, restore = list(exclude), set(restore)
    for key in (*exclude, *restore):
        if not SAFE_KEY.match(key):
            raise ValueError(f"{key!r} is not a face key")
    lines = [line for line in Path(path).read_text().splitlines() if line_key(line) not in restore]
    listed = {line_key(line) for line in lines}
    for key in exclude:
        if key not in listed:
            lines.append(key)
            listed.add(key)
    with atomic_file(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines))
    return read_exclusions(Path(path))
