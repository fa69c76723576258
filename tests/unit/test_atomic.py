"""Outputs appear whole or not at all."""

import pytest

from faceswap.core.atomic import atomic_dir, atomic_file, read_json, write_json


def test_atomic_dir_replaces_on_success(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        assert not (target / "new.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("killed half-way")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_keeps_old_content_on_failure(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("good")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(path) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_json_round_trip(tmp_path):
    write_json(tmp_path / "sub/m.json", {"b": 1, "a": [1.5]})
    assert read_json(tmp_path / "sub/m.json") == {"a": [1.5], "b": 1}
