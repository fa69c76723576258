"""Edit an exclusion list (``data/exclude/<side>.txt``) as a person would by hand: keys one a line, comments and
blank lines left where they are, new keys appended, a restored key's line taken out. Each edit reads, changes and
writes the whole list while holding its lock (``.<name>.lock`` beside it), so two review servers on one project
never drop each other's keys; written atomically, so ``filtered`` never reads half a list. The format is read
by ``faceswap.faces.rules``."""

from collections.abc import Iterable
from pathlib import Path

from faceswap.core.atomic import atomic_file, output_lock
from faceswap.faces.rules import exclusion_key, exclusion_lines
from faceswap.media.imageset import SAFE_KEY


def edit(path: Path, exclude: Iterable[str], restore: Iterable[str]) -> set[str]:
    """Add the keys of ``exclude`` and remove those of ``restore``; returns the keys listed afterwards."""
    exclude, restore = list(exclude), set(restore)
    for key in (*exclude, *restore):
        if not SAFE_KEY.match(key):
            raise ValueError(f"{key!r} is not a face key")
    with output_lock(path, wait=True):
        lines = [line for line in exclusion_lines(path) if exclusion_key(line) not in restore]
        listed = {exclusion_key(line) for line in lines}
        for key in exclude:
            if key not in listed:
                lines.append(key)
                listed.add(key)
        with atomic_file(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in lines))
        return listed - {""}  # "": blank lines and comments
