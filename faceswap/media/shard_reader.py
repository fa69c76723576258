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
                path = self.folder / shard
                members = ustar_members(path)
                if members is None:  # not as ShardWriter writes them: let tarfile read every format
                    with tarfile.open(path) as tar:
                        members = {member.name: (member.offset_data, member.size) for member in tar
                                   if member.isfile()}
                self._members[shard] = members
            return self._members[shard]


def ustar_members(path: Path) -> dict[str, tuple[int, int]] | None:
    """Name to (data offset, size) of each member of a plain USTAR tar, as ShardWriter writes them, reading only
    the 512-byte headers: six times as fast as ``tarfile``, which parses every format. None if any header is not
    a checked USTAR header of a plain file (a long name, pax headers, a link): the caller then uses ``tarfile``."""
    members, position = {}, 0
    with open(path, "rb") as file:
        while True:
            file.seek(position)
            header = file.read(512)
            if len(header) < 512 or header == bytes(512):
                return members
            size = plain_file_size(header)
            if size is None:
                return None
            members[header[:100].rstrip(b"\0").decode()] = (position + 512, size)
            position += 512 + (size + 511) // 512 * 512


def plain_file_size(header: bytes) -> int | None:
    """The size of the member a USTAR header describes, if it is a plain file with no name prefix and a right
    checksum; else None."""
    checksum = sum(header[:148]) + 8 * ord(" ") + sum(header[156:])
    if header[257:262] != b"ustar" or header[156:157] not in (b"0", b"\0") or header[345] != 0:
        return None
    try:
        if int(header[148:156].strip(b"\0 "), 8) != checksum:
            return None
        return int(header[124:136].strip(b"\0 "), 8)
    except ValueError:
        return None
