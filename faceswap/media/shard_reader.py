"""Random access to an image set: one sample's bytes by key, one seek and one read, without unpacking a shard.

The review page shows any face of a feature film's 10^5 on demand. Scanning a shard for each thumbnail would read
a thousand headers per image; instead the first request to a shard walks its headers once (no image data is
read) and keeps each member's data offset and size, so every later read is ``seek`` + ``read``. The offsets are
kept for one version of the shard file: when ``dvc repro`` writes a new one while the page runs, it is walked
again, so that an offset never points into another file (0 bytes, or another face's).
"""

import contextlib
import os
import threading
from pathlib import Path

from faceswap.core.damage import damaged
from faceswap.media.imageset import SAFE_KEY, Member, key_lost, read_member, shard_members, shard_path
from faceswap.media.index_columns import read_columns


class ShardReader:
    """The members of one image set (``folder`` with ``index.jsonl`` and its tar shards) by key and extension."""

    def __init__(self, folder: Path, shard_of: dict[str, str] | None = None):
        """``shard_of`` (key to shard name, as in the index) saves reading the index again if the caller has."""
        self.folder = Path(folder)
        if shard_of is None:
            index = read_columns(self.folder, ("key", "shard"))
            shard_of = dict(zip(index["key"] or [], index["shard"] or []))
        self.shard_of = shard_of
        self._members: dict[str, tuple] = {}  # shard -> (its file_version, {member name: (offset, size)})
        self._lock = threading.Lock()

    def read(self, key: str, ext: str = "jpg") -> Member:
        """The bytes of member ``<key>.<ext>``; KeyError if the set has no such member, damage if the index has
        the key and its shard no member of it."""
        if not SAFE_KEY.match(key) or key not in self.shard_of:
            raise KeyError(key)
        path = shard_path(self.folder, self.shard_of[key])
        name = f"{key}.{ext}"
        with self._open(path) as (file, members):
            if name not in members:
                if not any(member.startswith(f"{key}.") for member in members):
                    raise key_lost(path, key)
                raise KeyError(name)
            return read_member(file, path, name, members[name])

    def index_all(self) -> None:
        """Walk every shard's headers now (in a background thread, say), so that no later read waits for it."""
        for shard in sorted(set(self.shard_of.values())):
            with self._open(shard_path(self.folder, shard)):
                pass

    @contextlib.contextmanager
    def _open(self, path: Path):
        """The shard open for reading, with the offsets of the members of that very file."""
        while True:
            try:
                file = open(path, "rb")
            except FileNotFoundError:
                raise damaged(path, "not found") from None
            with file:
                members = self._offsets(path, file_version(file.fileno()))
                if members is not None:
                    yield file, members
                    return

    def _offsets(self, path: Path, version: tuple) -> dict[str, tuple[int, int]] | None:
        """The members of version ``version`` of the shard at ``path``, walked if not known; None if another file
        replaced it while its headers were walked (open it again)."""
        with self._lock:
            known = self._members.get(path.name)
            if known is None or known[0] != version:
                members = shard_members(path)
                if file_version(path) != version:
                    return None
                known = self._members[path.name] = (version, members)
            return known[1]


def file_version(file) -> tuple[int, int, int] | None:
    """What tells a file from the next one written at its path: its inode (a new file renamed in), size and
    modification time (the same file written again). ``file`` is a path or an open file's descriptor; None if
    there is no such file."""
    try:
        stat = os.stat(file)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
