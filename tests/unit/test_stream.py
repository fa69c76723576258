"""Training faces read from the shards as training goes: every face once per epoch in a seeded order that a resumed
attempt picks up at its step, the same faces as the shards hold, and memory that does not grow with the faces."""

import tracemalloc

import numpy as np
import pytest

from faceswap.media.imageset import ShardWriter, encode_jpeg, encode_png
from faceswap.train.feeder import BatchFeeder
from faceswap.train.holdout import held_out_keys
from faceswap.train.stream import EpochOrder, TrainingFaces
from tests.helpers import all_faces

SIZE = 32


def write_side(folder, count: int, size: int = SIZE, shard_size: int = 250):
    """``count`` aligned faces of ``size`` px as the alignments stage stores them (JPEG face, PNG mask, a record
    with the 68 landmarks and the frame-to-face transform), each face filled with its own number."""
    rng = np.random.default_rng(count)
    with ShardWriter(folder, "aligned", shard_size=shard_size) as writer:
        for i in range(count):
            face = np.full((size, size, 3), i % 251, np.uint8)
            mask = np.zeros((size, size), np.uint8)
            mask[size // 4:-size // 4, size // 4:-size // 4] = 255
            points = rng.uniform(size * 0.2, size * 0.8, (68, 2)).round(2)
            writer.add(f"f{i:05d}", {"jpg": encode_jpeg(face), "mask.png": encode_png(mask)},
                       {"landmarks_68": points.tolist(), "transform": [[1, 0, 0], [0, 1, 0]]})
    return folder


def test_every_face_once_an_epoch_in_a_seeded_order_that_resumes_at_its_step():
    order = EpochOrder(37, [0, 1])
    seen = np.concatenate([order.indices(step, 8) for step in range(37 * 3 // 8 + 1)])[:37 * 3]
    for epoch in range(3):
        assert sorted(seen[epoch * 37:(epoch + 1) * 37]) == list(range(37))  # each face once
    assert not np.array_equal(seen[:37], seen[37:74])  # a new order each epoch
    resumed = EpochOrder(37, [0, 1])  # a new process, started at step 9: the same faces
    np.testing.assert_array_equal(resumed.indices(9, 8), order.indices(9, 8))
    assert not np.array_equal(EpochOrder(37, [1, 1]).indices(0, 8), order.indices(0, 8))  # the seed decides


def test_the_faces_read_are_the_shards_faces_with_their_maps_and_landmarks(tmp_path):
    folder = write_side(tmp_path / "side", 60, shard_size=25)
    faces = TrainingFaces(folder, 64)  # stored at 32 px, trained at 64
    kept = [f"f{i:05d}" for i in range(60) if f"f{i:05d}" not in held_out_keys([f"f{i:05d}" for i in range(60)])]
    assert len(faces) == len(kept) < 60 and len(faces.shards) == 3
    indices = np.array([5, 0, len(faces) - 1])
    read, maps, landmarks = faces.read(indices)
    assert read.shape == maps.shape == (3, 64, 64, 3) and landmarks.shape == (3, 68, 2)
    for face, index in zip(read, indices, strict=True):
        assert abs(float(face.mean()) - int(kept[index][1:]) % 251) < 3  # the face of that key, decoded
    assert maps[..., 0].max() == 255 and maps[0, 0, 0, 0] == 0  # the stored mask, resized
    np.testing.assert_array_equal(all_faces(folder, 64)[2][indices], landmarks)
    faces.close()


def test_the_feeder_reads_each_face_once_an_epoch(tmp_path):
    data = {side: TrainingFaces(write_side(tmp_path / side, 40), SIZE) for side in ("target", "source")}
    count = len(data["target"])
    with BatchFeeder(data, 4, seed=3) as feeder:
        expected = np.concatenate([feeder.orders[0].indices(step, 4) for step in range(count // 4)])
        batches = feeder.batches()
        means = np.concatenate([next(batches)[1][0][..., :3].mean(axis=(1, 2, 3)) for _ in range(count // 4)])
    assert len(set(expected)) == len(expected) == count // 4 * 4  # no face twice within the epoch
    assert means.shape == (count // 4 * 4,)


@pytest.mark.parametrize("count", [3000])
def test_memory_does_not_grow_with_the_number_of_faces(tmp_path, count):
    """Indexing and reading 50 batches of 3,000 faces takes little more than of 300: the index, about 600 bytes a
    face (twice that while it is put together), where holding the faces and maps would take 6 kB each at 32 px
    (18 MB more; 98 kB each at 128 px)."""
    def peak(folder) -> int:
        tracemalloc.start()
        faces = TrainingFaces(folder, SIZE)
        order = EpochOrder(len(faces), 0)
        for step in range(50):
            faces.read(order.indices(step, 16))
        faces.close()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = write_side(tmp_path / "small", 300), write_side(tmp_path / "large", count)
    grown = peak(large) - peak(small)
    held = count * SIZE * SIZE * 3 * 2  # the faces and their maps, were they held
    assert grown < held / 4, (grown, held)


def test_a_step_is_fed_the_same_batch_whatever_step_the_run_started_at_and_however_many_workers(tmp_path):
    """The batch of step k depends on the seed and k alone: a run resumed at k is fed what an unbroken run was,
    and two workers preparing steps side by side feed the steps in order."""
    data = {side: TrainingFaces(write_side(tmp_path / side, 40), SIZE) for side in ("target", "source")}

    def fed(first_step: int, workers: int, count: int = 5):
        with BatchFeeder(data, 4, seed=7, first_step=first_step, workers=workers) as feeder:
            batches = feeder.batches()
            return [next(batches) for _ in range(count)]

    unbroken, resumed, alone = fed(0, 2, 8), fed(5, 2, 3), fed(0, 1, 8)
    for mine, theirs in zip(unbroken[5:], resumed, strict=True):
        np.testing.assert_array_equal(mine[0][0], theirs[0][0])
        np.testing.assert_array_equal(mine[1][1], theirs[1][1])
    for mine, theirs in zip(unbroken, alone, strict=True):
        np.testing.assert_array_equal(mine[0][1], theirs[0][1])
    assert not np.array_equal(unbroken[0][0][0], unbroken[1][0][0])  # steps differ
