"""Image collections stored as tar shards with a JSONL index: few large files, which DVC moves fast.

A shard holds up to ``shard_size`` samples; each sample is one or more members named ``<key>.<ext>``
(the WebDataset convention, so ``tar tf`` and standard loaders open them). ``index.jsonl`` holds one
record per sample, in order, with its key, its shard and whatever the stage records about it.
"""

import io
import json
import re
import tarfile
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from faceswap.core.damage import damaged

INDEX = "index.jsonl"
SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


def _check_name(name: str, what: str) -> str:
    """Keys have no dot (the first dot of a member name ends its key); other names have no empty part."""
    if not (SAFE_KEY if what == "key" else SAFE_NAME).match(name):
        raise ValueError(f"unsafe {what} {name!r}: use letters, digits, '_' and '-' only")
    return name


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "OpenCV could not encode a JPEG"
    return data.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok, "OpenCV could not encode a PNG"
    return data.tobytes()


class Member(bytes):
    """A shard member's bytes that know their shard and name, so that an image that does not decode (in a worker
    process, say) names them."""

    def __new__(cls, data: bytes, shard: Path, name: str):
        member = super().__new__(cls, data)
        member.shard, member.name = str(shard), name
        return member

    def __reduce__(self):
        return Member, (bytes(self), self.shard, self.name)


def decode_image(data: bytes, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The image in ``data``; a shard member that does not decode is damaged."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if image is None:
        if isinstance(data, Member):
            raise damaged(Path(data.shard), f"member {data.name!r} is not a decodable image")
        raise ValueError("not a decodable image")
    return image


def plain(value):
    """JSON for the numpy values records may hold (arrays of points, numpy scalars)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ShardWriter:
    """Append samples to numbered tar shards in ``folder``, and their records to the index as they come.

    Nothing is kept per sample, so writing a feature film's frames takes the memory of one frame.
    """

    def __init__(self, folder: Path, prefix: str, shard_size: int = 1000):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = _check_name(prefix, "shard prefix")
        self.shard_size = shard_size
        self.count = 0
        self._index = open(self.folder / INDEX, "w")
        self._tar: tarfile.TarFile | None = None
        self._in_shard = 0
        self._shard_name = ""

    def add(self, key: str, files: dict[str, bytes], record: dict | None = None) -> None:
        _check_name(key, "key")
        if self._tar is None or self._in_shard >= self.shard_size:
            self._next_shard()
        for ext, data in files.items():
            info = tarfile.TarInfo(f"{key}.{_check_name(ext, 'extension')}")
            info.size = len(data)
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(data))  # mtime, uid and gid stay 0: shards are reproducible
        self._in_shard += 1
        self.count += 1
        self._index.write(json.dumps({"key": key, "shard": self._shard_name, **(record or {})}, sort_keys=True,
                                     default=plain) + "\n")

    def _next_shard(self) -> None:
        if self._tar is not None:
            self._tar.close()
        self._shard_name = f"{self.prefix}-{len(list(self.folder.glob(self.prefix + '-*.tar'))):05d}.tar"
        self._tar = tarfile.open(self.folder / self._shard_name, "w", format=tarfile.USTAR_FORMAT)
        self._in_shard = 0

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
        self._index.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close()


def iter_index(folder: Path) -> Iterator[dict]:
    """The records of a set's index one at a time: a feature film's index need not be held whole. A missing
    index, or a line that is not a record (cut short, not UTF-8), is damaged."""
    path = Path(folder) / INDEX
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield index_record(path, number, line)
    except FileNotFoundError:
        raise damaged(path, "not found") from None
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8") from None


def index_record(path: Path, number: int, line: str) -> dict:
    """Line ``number`` of an index: a JSON object with a key and a shard."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise damaged(path, f"line {number} is not a JSON record (cut short?)") from None
    if not (isinstance(record, dict) and isinstance(record.get("key"), str) and isinstance(record.get("shard"), str)):
        raise damaged(path, f"line {number} is not a record with a key and a shard")
    return record


def read_index(folder: Path) -> list[dict]:
    return list(iter_index(folder))


def iter_samples(folder: Path, records: Iterable[dict] | None = None) -> Iterator[tuple[dict, dict[str, Member]]]:
    """Yield ``(record, {ext: bytes})`` for the given records (default: the whole index, read as it goes), in
    their order, one shard open at a time; records may come from a generator.

    The records of one shard must come together, as in any index or part of one. A key with no member in its
    shard is damage.
    """
    folder = Path(folder)
    done = set()
    for shard, group in groupby(iter_index(folder) if records is None else records, key=lambda r: r["shard"]):
        if shard in done:
            raise ValueError(f"{folder}: records of shard {shard} are not together; keep them in index order")
        done.add(shard)
        path = shard_path(folder, shard)
        by_key: dict[str, dict[str, tuple[int, int]]] = {}
        for name, place in shard_members(path).items():
            key, _, ext = name.partition(".")
            by_key.setdefault(key, {})[ext] = place
        with open(path, "rb") as file:
            for record in group:
                if record["key"] not in by_key:
                    raise key_lost(path, record["key"])
                yield record, {ext: read_member(file, path, f"{record['key']}.{ext}", place)
                               for ext, place in by_key[record["key"]].items()}


def shard_path(folder: Path, shard: str) -> Path:
    """The shard an index names; a name that is not a plain file name (a path, ``..``) is damage."""
    if not SAFE_NAME.match(shard):
        raise damaged(Path(folder) / INDEX, f"shard name {shard!r} is not a plain file name")
    return Path(folder) / shard


def key_lost(path: Path, key: str):
    """The error for a key of the index that its shard does not hold (a shard cut at a member's end)."""
    return damaged(path, f"holds no member for key {key!r} of the index")


def read_member(file, path: Path, name: str, place: tuple[int, int]) -> Member:
    """One member's bytes, at the (offset, size) ``shard_members`` found: one seek and one read."""
    offset, size = place
    file.seek(offset)
    return Member(file.read(size), path, name)


def shard_members(path: Path) -> dict[str, tuple[int, int]]:
    """Name to (data offset, size) of each member of a shard, from its headers alone: the one reader of shards.

    A shard missing, empty or cut short (no end-of-archive block where the headers say), with a damaged header,
    or with a member that is not a plain file named ``<key>.<ext>`` (a path, ``..``, a link, a name not UTF-8: a
    crafted shard must not reach outside) is damaged.
    """
    try:
        empty = path.stat().st_size == 0
    except FileNotFoundError:
        raise damaged(path, "not found") from None
    if empty:
        raise damaged(path, "empty (0 bytes)")
    members = ustar_members(path)
    if members is None:  # not as ShardWriter writes them: let tarfile read every format
        members = tarfile_members(path)
    for name in members:
        if not SAFE_NAME.match(name):
            raise damaged(path, f"unsafe member name {name!r}: not <key>.<ext> in letters, digits, '_' and '-'")
    return members


def ustar_members(path: Path) -> dict[str, tuple[int, int]] | None:
    """``shard_members`` of a plain USTAR tar, as ShardWriter writes them, reading only the 512-byte headers: six
    times as fast as ``tarfile``, which parses every format. None if any header is not a checked USTAR header of
    a plain file (a long name, pax headers, a link, damage): the caller then uses ``tarfile``."""
    members, position = {}, 0
    with open(path, "rb") as file:
        while True:
            file.seek(position)
            header = file.read(512)
            if header == bytes(512):
                return members
            if len(header) < 512:
                raise damaged(path, f"damaged or cut short: no member header or end of archive at byte {position}")
            size = plain_file_size(header)
            if size is None:
                return None
            members[header[:100].rstrip(b"\0").decode(errors="surrogateescape")] = (position + 512, size)
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


def tarfile_members(path: Path) -> dict[str, tuple[int, int]]:
    """``shard_members`` of a tar of any format. ``tarfile`` stops without a word at a damaged header past the
    first, so the header it stopped at must be the end-of-archive block."""
    try:
        with tarfile.open(path, "r:") as tar:  # uncompressed: offsets are into the file
            members = {}
            for member in tar:
                if not member.isfile():
                    raise damaged(path, f"member {member.name!r} is not a plain file")
                members[member.name] = (member.offset_data, member.size)
            end = tar.offset
    except tarfile.ReadError as error:
        raise damaged(path, f"not a readable tar shard ({error})") from None
    with open(path, "rb") as file:
        file.seek(end)
        if file.read(512) != bytes(512):
            raise damaged(path, f"damaged or cut short: no member header or end of archive at byte {end}")
    return members
