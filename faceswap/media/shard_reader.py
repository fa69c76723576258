"""Random access to an image set: one sample's bytes by key, one seek and one read, without unpacking a shard.

The review page shows any face of a feature film's 10^5 on demand. Scanning a shard for each thumbnail would read
a thousand headers per image; instead the first request to a shard walks its headers once (no image data is
read) and keeps each member's data offset and size, so every later read is ``seek`` + ``read``.
"""

import tarfile
import threading
from pathlib import Path

from faceswap.media.imageset import SAFE_KEY, SAFE_NAME
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

    def __contains__(self, key: str) -> bool:
        return key in self.shard_of

    def read(self, key: str, ext: str = "jpg") -> bytes:
        """The bytes of member ``<key>.<ext>``; KeyError if the set has no such member."""
        if not SAFE_KEY.match(key) or key not in self.shard_of:
            raise KeyError(key)
        shard = self.shard_of[key]
        offset, size = self._offsets(shard)[f"{key}.{ext}"]
        with open(self.folder / shard, "rb") as file:
            file.seek(offset)
            return file.read(size)

    def index_all(self) -> None:
        """Walk every shard's headers now (in a background thread, say), so that no later read waits for it."""
        for shard in sorted(set(self.shard_of.values())):
            self._offsets(shard)

    def _offsets(self, shard: str) -> dict[str, tuple[int, int]]:
        with self._lock:
            if shard not in self._members:
                if not SAFE_NAME.match(shard):
                    raise ValueError(f"{self.folder}: shard name {shard!r} in the index is not a plain file name")
                with tarfile.open(self.folder / shard) as tar:
                    self._members[shard] = {member.name: (member.offset_data, member.size) for member in tar
                                            if member.isfile()}
            return self._members[shard]
