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


def decode_image(data: bytes, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
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
    """The records of a set's index one at a time: a feature film's index need not be held whole."""
    with open(Path(folder) / INDEX) as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def read_index(folder: Path) -> list[dict]:
    return list(iter_index(folder))


def iter_samples(folder: Path, records: Iterable[dict] | None = None) -> Iterator[tuple[dict, dict[str, bytes]]]:
    """Yield ``(record, {ext: bytes})`` for the given records (default: the whole index, read as it goes), in
    their order, one shard open at a time; records may come from a generator.

    The records of one shard must come together, as in any index or part of one. A member whose name is not
    ``<key>.<ext>`` of a listed key (a path, ``..``, a link) is refused, so a crafted shard cannot write or
    read outside.
    """
    folder = Path(folder)
    done = set()
    for shard, group in groupby(iter_index(folder) if records is None else records, key=lambda r: r["shard"]):
        if _check_name(shard, "shard") in done:
            raise ValueError(f"{folder}: records of shard {shard} are not together; keep them in index order")
        done.add(shard)
        wanted = list(group)
        keys = {record["key"] for record in wanted}
        found: dict[str, dict[str, bytes]] = {}
        with tarfile.open(folder / shard) as tar:
            for member in tar:
                if not member.isfile():
                    raise ValueError(f"{folder / shard}: member {member.name!r} is not a plain file")
                key, _, ext = _check_name(member.name, "member name").partition(".")
                if key in keys:
                    found.setdefault(key, {})[ext] = tar.extractfile(member).read()
        for record in wanted:
            if record["key"] not in found:
                raise ValueError(f"{folder / shard}: no member for key {record['key']!r}")
            yield record, found[record["key"]]
