"""Tar shards: samples come back as written, shards split at their size, and unsafe names are refused. A damaged
set (shard, index or catalogue) is one error naming the file and how to get it back, from every reader."""

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.media.imageset import ShardWriter, decode_image, encode_jpeg, encode_png, iter_samples, read_index
from faceswap.media.index_columns import read_columns
from faceswap.media.shard_reader import ShardReader
from faceswap.media.video import read_catalogue
from tests.helpers import REPO


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
    with pytest.raises(UserError, match="unsafe member name"):
        list(iter_samples(tmp_path))


def test_link_member_is_refused(tmp_path):
    with tarfile.open(tmp_path / "s-00000.tar", "w") as tar:
        info = tarfile.TarInfo("a.jpg")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    (tmp_path / "index.jsonl").write_text('{"key": "a", "shard": "s-00000.tar"}\n')
    with pytest.raises(UserError, match="not a plain file"):
        list(iter_samples(tmp_path))


def frames_set(root, count: int = 3):
    """``data/frames/target`` as the frames stage writes it, two frames a shard, each a noisy 32x32 JPEG."""
    folder = root / "data/frames/target"
    rng = np.random.default_rng(1)
    with ShardWriter(folder, "frames", shard_size=2) as shards:
        for i in range(count):
            shards.add(f"target_{i:06d}", {"jpg": encode_jpeg(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))},
                       {"video": "target", "frame": i})
    return folder


def member_offset(shard, number: int) -> int:
    with tarfile.open(shard) as tar:
        return tar.getmembers()[number].offset


def non_utf8_name(folder):
    with tarfile.open(folder / "frames-00000.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("target_000000.jpg", "target_000001.\udcffjpg"):  # the byte 0xff where UTF-8 has none
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))


def overwrite(path, offset: int, data: bytes):
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(data)


SHARD = "frames-00000.tar"
DAMAGES = {  # what befalls a file of the set, the file and what the error says of it
    "shard missing": (lambda f: (f / SHARD).unlink(), SHARD, "not found"),
    "shard empty": (lambda f: (f / SHARD).write_bytes(b""), SHARD, "empty (0 bytes)"),
    "shard cut short": (lambda f: (f / SHARD).write_bytes((f / SHARD).read_bytes()[:member_offset(f / SHARD, 1) + 300]),
                        SHARD, "damaged or cut short: no member header or end of archive"),
    "shard header damaged": (lambda f: overwrite(f / SHARD, member_offset(f / SHARD, 1), b"damage" * 20), SHARD,
                             "damaged or cut short: no member header or end of archive"),
    "shard not a tar": (lambda f: (f / SHARD).write_bytes(b"\x89PNG not a tar" * 100), SHARD,
                        "not a readable tar shard"),
    "member name not UTF-8": (non_utf8_name, SHARD, "unsafe member name 'target_000001.\\udcffjpg'"),
    "member lost": (lambda f: (f / SHARD).write_bytes(bytes(10240)), SHARD,
                    "holds no member for key 'target_000000' of the index"),
    "index cut short": (lambda f: (f / "index.jsonl").write_bytes((f / "index.jsonl").read_bytes()[:-20]),
                        "index.jsonl", "line 3 is not a JSON record (cut short?)"),
    "index not UTF-8": (lambda f: (f / "index.jsonl").write_bytes(b'{"key": "\xff"}\n'), "index.jsonl",
                        "not UTF-8"),
    "index missing": (lambda f: (f / "index.jsonl").unlink(), "index.jsonl", "not found"),
}


def assert_damaged(error, folder, name: str, complaint: str):
    """One line: the file, what is wrong, and how to get it back."""
    message = str(error.value)
    assert message.startswith(f"{folder / name}: ") and complaint in message and "\n" not in message
    assert message.endswith(f"restore it with `dvc checkout {folder}`, or write it anew with "
                            "`dvc repro -f frames@target`")


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_set_is_one_error_from_every_reader(tmp_path, damage):
    folder = frames_set(tmp_path)
    index = (folder / "index.jsonl").read_text()
    befall, name, complaint = DAMAGES[damage]
    befall(folder)
    with pytest.raises(UserError) as error:
        list(iter_samples(folder))
    assert_damaged(error, folder, name, complaint)
    if name == SHARD:  # the review page's reader, given the index as it was
        shard_of = {record["key"]: record["shard"] for record in map(json.loads, index.splitlines())}
        with pytest.raises(UserError) as error:
            ShardReader(folder, shard_of).read("target_000000")
            ShardReader(folder, shard_of).read("target_000001")
        assert_damaged(error, folder, name, complaint)
    elif damage != "index cut short":  # Arrow reads every line; the first line is read as iter_index reads it
        with pytest.raises(UserError) as error:
            read_columns(folder, ("key", "shard"))
        assert_damaged(error, folder, name, complaint)
    else:
        with pytest.raises(UserError, match="index.jsonl: not JSON records of one layout, cut short?"):
            read_columns(folder, ("key", "shard"))


def test_an_image_that_does_not_decode_names_its_shard_and_key(tmp_path):
    folder = frames_set(tmp_path)
    shard = (folder / SHARD).read_bytes()
    offset = member_offset(folder / SHARD, 1) + 512
    (folder / SHARD).write_bytes(shard[:offset] + bytes(100) + shard[offset + 100:])  # a JPEG's header zeroed
    for source in ([files["jpg"] for _, files in iter_samples(folder)][1], ShardReader(folder).read("target_000001")):
        with pytest.raises(UserError) as error:
            decode_image(source)
        assert_damaged(error, folder, SHARD, "member 'target_000001.jpg' is not a decodable image")


@pytest.mark.parametrize("content, complaint", [
    (None, "not found"),
    (b'{"target": {"file": "target.mp4", "sample_rate": "24/1"', "not valid JSON, cut short?"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    (b"[]", "not an object with an entry per video"),
    (b'{"target": {"file": "target.mp4"}}', "video 'target' lacks sample_rate, frames, width, height"),
], ids=["missing", "cut short", "not UTF-8", "nested deep", "a list", "entry lacks keys"])
def test_a_damaged_catalogue_is_one_error(tmp_path, content, complaint):
    folder = tmp_path / "data/frames/target"
    folder.mkdir(parents=True)
    if content is not None:
        (folder / "videos.json").write_bytes(content)
    with pytest.raises(UserError) as error:
        read_catalogue(folder)
    assert_damaged(error, folder, "videos.json", complaint)


@pytest.mark.parametrize("change, complaint", [({"sample_rate": "0/1"}, "sample_rate '0/1' is not a positive fraction"),
                                               ({"width": 0}, "frames, width and height are not whole numbers")])
def test_a_catalogue_entry_out_of_range_is_one_error(tmp_path, change, complaint):
    folder = tmp_path / "data/frames/target"
    folder.mkdir(parents=True)
    entry = {"file": "target.mp4", "sample_rate": "24/1", "frames": 3, "rate": "24/1", "fps": 24.0, "width": 64,
             "height": 48, "duration": 0.125, "has_audio": False, "frame_count": 3}
    (folder / "videos.json").write_text(json.dumps({"target": entry}))
    assert read_catalogue(folder) == {"target": entry}
    (folder / "videos.json").write_text(json.dumps({"target": {**entry, **change}}))
    with pytest.raises(UserError) as error:
        read_catalogue(folder)
    assert_damaged(error, folder, "videos.json", complaint)


def test_index_columns_read_missing_numbers_as_nan_and_never_import_pandas(tmp_path):
    """Arrow's own conversion of a column with a missing value imports pandas (0.3 s of the review page's first
    page); the columns are read from Arrow's buffers instead, in several blocks, with the values in place."""
    records = [{"key": f"k{i}", "shard": "s", "box": [i, i + 1], **({"score": i / 10} if i % 3 else {})}
               for i in range(30000)]
    (tmp_path / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    program = ("import json, sys\nfrom pathlib import Path\nfrom faceswap.media.index_columns import read_columns\n"
               "c = read_columns(Path(sys.argv[1]), ('key', 'score', 'box'))\n"
               "print(json.dumps({'pandas': 'pandas' in sys.modules, 'score': [None if v != v else v for v in "
               "c['score'].tolist()], 'box': c['box'].tolist(), 'keys': len(c['key'])}))")
    result = subprocess.run([sys.executable, "-c", program, str(tmp_path)], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout)
    assert not read["pandas"] and read["keys"] == len(records)
    assert read["score"] == [r.get("score") for r in records]
    assert read["box"] == [[float(v) for v in r["box"]] for r in records]
