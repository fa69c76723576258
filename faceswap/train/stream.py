"""Training faces read from the aligned faces' tar shards as training goes, not held in memory.

A feature film's source is 10^5 faces: at 128 px, with their maps, about 10 GB held at once, more than a
g4dn.xlarge can spare. Here a side is an index (each face's shard and member places, and its landmarks: about
600 bytes a face), and each batch's faces are read and decoded when the feeder needs them, by a few threads
(OpenCV's decoders let go of the GIL). The order is a permutation of the side's faces per epoch, seeded, so that
every face is seen once per epoch, and the faces of step ``k`` depend on ``k`` alone: a resumed attempt reads on
in the same order.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from faceswap.media.imageset import decode_image, iter_index, key_lost, shard_members, shard_path
from faceswap.train.holdout import held_out_keys
from faceswap.train.regions import aligned_landmarks, eye_and_mouth_masks

READERS = 4  # decoding threads: a batch of 64 px faces decodes in about a millisecond


class TrainingFaces:
    """One side's training faces (all but the held-out ones) at ``size`` px: ``read(indices)`` gives their
    faces and maps, uint8 (n, size, size, 3), the map being the landmark mask stored beside each face, then its
    eye and mouth regions drawn from its landmarks; ``landmarks`` are all of them, float32 (N, 68, 2) in the
    faces' pixels."""

    def __init__(self, folder: Path, size: int):
        folder = Path(folder)
        held_out = held_out_keys([record["key"] for record in iter_index(folder)])
        self.size, self.shards = size, []
        places, stored_points = [], []  # one array of each per shard: a face costs its index entry only
        kept = (record for record in iter_index(folder) if record["key"] not in held_out)  # one record at a time
        for shard, group in groupby(kept, key=lambda r: r["shard"]):
            path = shard_path(folder, shard)
            members = shard_members(path)
            self.shards.append(path)
            shard_places, shard_points = [], []
            for record in group:
                face, mask = (members.get(f"{record['key']}.{ext}") for ext in ("jpg", "mask.png"))
                if face is None or mask is None:
                    raise key_lost(path, record["key"])
                shard_places.append((len(self.shards) - 1, *face, *mask))
                shard_points.append(aligned_landmarks({**record, "aligned_size": 1}, 1))
            places.append(np.array(shard_places, np.int64))
            stored_points.append(np.array(shard_points, np.float32))
        self.places = np.concatenate(places) if places else np.zeros((0, 5), np.int64)
        self._files = [os.open(path, os.O_RDONLY) for path in self.shards]  # read by several threads: opened once
        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="face-reader")
        self.landmarks = np.zeros((0, 68, 2), np.float32)
        if places:  # in the stored faces' pixels, then at ``size``: a side's faces are aligned at one size
            stored = self._decode(0)[0].shape[0]
            self.landmarks = np.concatenate(stored_points)
            self.landmarks *= np.float32(size / stored)

    def __len__(self) -> int:
        return len(self.places)

    def _member(self, shard: int, offset: int, length: int) -> bytes:
        return os.pread(self._files[shard], length, offset)

    def _decode(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        shard, face_at, face_size, mask_at, mask_size = (int(v) for v in self.places[index])
        face = decode_image(self._member(shard, face_at, face_size))
        mask = decode_image(self._member(shard, mask_at, mask_size), cv2.IMREAD_GRAYSCALE)
        return face, mask

    def _face_and_map(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        face, mask = self._decode(index)
        if face.shape[0] != self.size:
            face = cv2.resize(face, (self.size, self.size), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return face, np.dstack([mask, *eye_and_mouth_masks(self.landmarks[index].astype(np.float64), self.size)])

    def read(self, indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The faces, maps and landmarks of ``indices``, in their order."""
        indices = np.asarray(indices, np.int64)
        if not len(indices):
            empty = np.zeros((0, self.size, self.size, 3), np.uint8)
            return empty, empty.copy(), np.zeros((0, 68, 2), np.float32)
        faces, maps = zip(*self._pool.map(self._face_and_map, indices.tolist()), strict=True)
        return np.stack(faces), np.stack(maps), self.landmarks[indices]

    def close(self) -> None:
        self._pool.shutdown()
        for descriptor in self._files:
            os.close(descriptor)
        self._files = []


class EpochOrder:
    """The faces of each step's batch: epoch after epoch, a seeded permutation of the ``count`` faces."""

    def __init__(self, count: int, seed):
        self.count, self.seed, self._cached = count, seed, {}
        self._lock = threading.Lock()  # the feeder's workers ask side by side

    def permutation(self, epoch: int) -> np.ndarray:
        with self._lock:
            if epoch not in self._cached:
                self._cached = {e: p for e, p in self._cached.items() if e >= epoch - 1}  # this one and the last
                self._cached[epoch] = np.random.default_rng([*np.atleast_1d(self.seed), epoch]).permutation(
                    self.count)
            return self._cached[epoch]

    def indices(self, step: int, batch_size: int) -> np.ndarray:
        """The ``batch_size`` faces of step ``step`` (counted from 0): positions ``step * batch_size`` on."""
        positions = np.arange(step * batch_size, (step + 1) * batch_size)
        epochs, within = np.divmod(positions, self.count)
        return np.array([self.permutation(int(e))[i] for e, i in zip(epochs, within, strict=True)], np.int64)
