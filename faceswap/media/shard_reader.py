"""Random access to an image set: one sample's bytes by key, one seek and one read, without unpacking a shard.

The review page shows any face of a feature film's 10^5 on demand. Scanning a shard for each thumbnail would read
a thousand headers per image; instead the first request to a shard walks its headers once (no image data is
read) and keeps each member's data offset and size, so every later read is ``seek`` + ``read``.
"""

import threading
from pathlib import Path

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
        self._members: dict[str, dict[str, tuple[int, int]]] = {}  # shard -> member name -> (offset, size)
        self._lock = threading.Lock()

    def read(self, key: str, ext: str = "jpg") -> Member:
        """The bytes of member ``<key>.<ext>``; KeyError if the set has no such member, damage if the index has
        the key and its shard no member of it."""
        if not SAFE_KEY.match(key) or key not in self.shard_of:
            raise KeyError(key)
        path = shard_path(self.folder, self.shard_of[key])
        name = f"{key}.{ext}"
        members = self._offsets(path)
        if name not in members:
            if not any(member.startswith(f"{key}.") for member in members):
                raise key_lost(path, key)
            raise KeyError(name)
        with open(path, "rb") as file:
            return read_member(file, path, name, members[name])

    def index_all(self) -> None:
        """Walk every shard's headers now (in a background thread, say), so that no later read waits for it."""
        for shard in sorted(set(self.shard_of.values())):
            self._offsets(shard_path(self.folder, shard))

    def _offsets(self, path: Path) -> dict[str, tuple[int, int]]:
        with self._lock:
            if path.name not in self._members:
                self._members[path.name] = shard_members(path)
            return self._members[path.name]

