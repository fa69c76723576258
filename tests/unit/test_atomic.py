"""Outputs appear whole or not at all."""

import os
import subprocess
import sys

import pytest

from faceswap.core.atomic import atomic_dir, atomic_file, read_json, write_json
from faceswap.core.cli import UserError
from tests.helpers import REPO


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


# A child process that writes ``out`` anew (old: a.txt and b.txt, new: c.txt) and dies at once, as ``kill -9``
# would, when it starts its Nth change to the file system after the new folder is complete.
DIE_AT_NTH_CHANGE = """
import os, sys
from pathlib import Path
from faceswap.core.atomic import atomic_dir

target, dying_at = Path(sys.argv[1]), int(sys.argv[2])
changes = {os.replace, os.rename, os.rmdir, os.unlink, os.remove, os.mkdir}
seen = 0

def die_at_nth_change(frame, event, function):
    global seen
    if event == "c_call" and function in changes:
        seen += 1
        if seen == dying_at:
            os._exit(9)

with atomic_dir(target) as tmp:
    (tmp / "c.txt").write_text("new")
    sys.setprofile(die_at_nth_change)
sys.setprofile(None)
"""


def test_a_kill_at_any_point_of_the_swap_leaves_the_old_output_or_the_new_one(tmp_path):
    """Killed at each change the swap makes (moving the old output aside, renaming the new in, deleting the old),
    the next run finds the output whole, old or new, and leaves nothing else behind."""
    old, new = {"a.txt": "old", "b.txt": "old"}, {"c.txt": "new"}
    outcomes = []
    for dying_at in range(1, 20):
        target = tmp_path / str(dying_at) / "out"
        target.mkdir(parents=True)
        for name, text in old.items():
            (target / name).write_text(text)
        child = subprocess.run([sys.executable, "-c", DIE_AT_NTH_CHANGE, str(target), str(dying_at)],
                               cwd=REPO, capture_output=True, text=True)
        assert child.returncode in (0, 9), child.stderr
        with pytest.raises(RuntimeError), atomic_dir(target):  # the next run, which then fails
            found = {p.name: p.read_text() for p in target.iterdir()} if target.is_dir() else None
            raise RuntimeError
        assert found in (old, new), f"killed at change {dying_at}: the output is {found}"
        assert [p.name for p in target.parent.iterdir()] == ["out"]
        outcomes.append(found == new)
        if child.returncode == 0:
            break
    assert outcomes[0] is False and outcomes[-1] is True and child.returncode == 0
