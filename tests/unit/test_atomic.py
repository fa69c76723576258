"""Outputs appear whole or not at all."""

import os
import subprocess

import pytest

from faceswap.core.atomic import atomic_dir, atomic_file, read_json, write_json
from faceswap.core.cli import UserError


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


def test_second_writer_of_a_folder_is_refused_and_the_lock_goes(tmp_path):
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("first")
        with pytest.raises(UserError, match=rf"out: another run is writing it \(process {os.getpid()}\)"):
            with atomic_dir(tmp_path / "out"):
                pass
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out/a.txt").read_text() == "first"


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    """What a ``kill -9`` leaves: the folder's temporary copy, its lock, a file's temporary copy of a process that
    is gone; the next run removes them and writes whole outputs."""
    (tmp_path / ".out.tmp").mkdir()
    (tmp_path / ".out.tmp/half.txt").write_text("half")
    (tmp_path / ".out.lock").write_text("999999\n")
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / f".m.keras.tmp-{gone.pid}.keras").write_text("half")
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "whole.txt").write_text("whole")
    with atomic_file(tmp_path / "m.keras") as tmp:
        tmp.write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["whole.txt"]
