"""Tar shards: samples come back as written, shards split at their size, and unsafe names are refused."""

import io
import tarfile

import numpy as np
import pytest

from faceswap.media.imageset import ShardWriter, decode_image, encode_jpeg, encode_png, iter_samples, read_index


def test_round_trip_and_sharding(tmp_path):
    rng = np.random.default_rng(0)
    images = {f"k{i:03d}": rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for i in range(7)}
    with ShardWriter(tmp_path, "faces", shard_size=3) as shards:
        for key, image in images.items():
            shards.add(key, {"png": encode_png(image), "mask.png": encode_png(image[..., 0])}, {"n": int(key[1:])})
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == ["faces-00000.tar", "faces-00001.tar", "faces-00002.tar"]
    records = read_index(tmp_path)
    assert [r["key"] for r in records] == list(images)
    assert [r["shard"] for r in records] == ["faces-00000.tar"] * 3 + ["faces-00001.tar"] * 3 + ["faces-00002.tar"]
    for record, files in iter_samples(tmp_path):
        assert record["n"] == int(record["key"][1:])
        np.testing.assert_array_equal(decode_image(files["png"]), images[record["key"]])
        assert set(files) == {"png", "mask.png"}
    with tarfile.open(tmp_path / "faces-00000.tar") as tar:
        assert tar.getnames()[:2] == ["k000.png", "k000.mask.png"]


def test_selected_records_only(tmp_path):
    with ShardWriter(tmp_path, "x", shard_size=2) as shards:
        for i in range(5):
            shards.add(f"a{i}", {"jpg": encode_jpeg(np.full((4, 4, 3), i * 40, np.uint8))})
    wanted = [r for r in read_index(tmp_path) if r["key"] in ("a1", "a4")]
    assert [record["key"] for record, _ in iter_samples(tmp_path, wanted)] == ["a1", "a4"]


def test_samples_come_in_the_order_of_the_records_or_not_at_all(tmp_path):
    """Stages pair each result with its record by position, so a shard's records must not be scattered."""
    with ShardWriter(tmp_path, "x", shard_size=2) as shards:
        for i in range(4):
            shards.add(f"a{i}", {"txt": b"%d" % i})
    a0, a1, a2, a3 = read_index(tmp_path)
    assert [files["txt"] for _, files in iter_samples(tmp_path, [a1, a0, a3])] == [b"1", b"0", b"3"]
    with pytest.raises(ValueError, match="x-00000.tar are not together"):
        list(iter_samples(tmp_path, [a0, a2, a1]))


def test_shards_are_reproducible(tmp_path):
    for name in ("one", "two"):
        with ShardWriter(tmp_path / name, "s") as shards:
            shards.add("a", {"txt": b"hello"}, {"v": 1})
    assert (tmp_path / "one/s-00000.tar").read_bytes() == (tmp_path / "two/s-00000.tar").read_bytes()


@pytest.mark.parametrize("key", ["../evil", "a/b", "a.b", "", ".hidden"])
def test_unsafe_keys_are_refused_on_write(tmp_path, key):
    with pytest.raises(ValueError, match="unsafe key"):
        ShardWriter(tmp_path, "s").add(key, {"jpg": b"x"})


@pytest.mark.parametrize("member", ["../evil.jpg", "/etc/evil.jpg", "dir/a.jpg"])
def test_member_escaping_its_folder_is_refused_on_read(tmp_path, member):
    with tarfile.open(tmp_path / "s-00000.tar", "w") as tar:
        info = tarfile.TarInfo(member)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "index.jsonl").write_text('{"key": "a", "shard": "s-00000.tar"}\n')
    with pytest.raises(ValueError, match="unsafe member name"):
        list(iter_samples(tmp_path))


def test_link_member_is_refused(tmp_path):
    with tarfile.open(tmp_path / "s-00000.tar", "w") as tar:
        info = tarfile.TarInfo("a.jpg")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    (tmp_path / "index.jsonl").write_text('{"key": "a", "shard": "s-00000.tar"}\n')
    with pytest.raises(ValueError, match="not a plain file"):
        list(iter_samples(tmp_path))
