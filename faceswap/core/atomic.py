"""Outputs appear whole or not at all, and one run at a time writes each.

A folder is written under ``.<name>.tmp`` while its run holds ``.<name>.lock`` beside it (a second run of the
same stage stops with an error instead of filling the same folder); a file under ``.<name>.tmp-<pid><suffix>``,
a name no other process uses (a step that rewrites it writes beside it, ``.<name>.tmp-<pid>.<step><suffix>``).
Both are flushed to disk (fsync) before the rename that puts them in place, so a power cut leaves the old output
or the new one, never an empty file under the final name. A folder cannot be renamed over another, so the old
one is first moved aside to ``.<name>.old.tmp``, then deleted once the new one is in. Leftovers of a killed run
are removed by the next one: the folder's under the lock (an old folder left aside with no output in its place
is put back first), a file's when its process is gone.
"""

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from faceswap.core.cli import UserError


def _fsync(path: Path) -> None:
    """Flush one file's data, or one folder's entries (names, renames), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush a file, or a folder with everything in it, to disk."""
    path = Path(path)
    if path.is_dir():
        for child in path.iterdir():
            fsync_tree(child)
    _fsync(path)


def replace(tmp: Path, path: Path) -> None:
    """Rename a complete ``tmp`` to ``path``, flushing it first and the folder after, so the rename itself lasts."""
    fsync_tree(tmp)
    os.replace(tmp, path)
    _fsync(Path(path).parent)


def lock_holder(handle, seconds: float = 2.0) -> str:
    """The process id the lock's holder wrote, or "?": it writes it just after taking the lock, so an empty file
    is read again for a moment."""
    deadline = time.monotonic() + seconds
    while True:
        handle.seek(0)
        holder = handle.read().strip()
        if holder or time.monotonic() > deadline:
            return holder or "?"
        time.sleep(0.02)


@contextlib.contextmanager
def output_lock(path: Path, wait: bool = False):
    """Hold ``.<name>.lock`` next to ``path`` for the block; a run that finds it held stops with a UserError, or
    with ``wait`` (a short edit, such as the review page's) waits its turn."""
    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with open(lock, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                current = os.stat(lock).st_ino  # the holder before us may have removed it as we opened it
            except (BlockingIOError, FileNotFoundError):
                current = None
            if current != os.fstat(handle.fileno()).st_ino:
                if wait:
                    continue  # the holder removed the file we waited on: take the lock anew
                raise UserError(f"{path}: another run is writing it (process {lock_holder(handle)}); wait for it to "
                                "end or stop it")
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                lock.unlink(missing_ok=True)
            return


@contextlib.contextmanager
def atomic_dir(path: Path):
    """Yield a fresh temporary folder that replaces ``path`` only if the block completes; the output's lock is
    held throughout."""
    path = Path(path)
    tmp, aside = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old.tmp")
    with output_lock(path):
        if aside.is_dir() and not path.exists():  # killed between moving the old output aside and the new in
            os.replace(aside, path)
        for leftover in (tmp, aside):  # a killed run's, since we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_tree(tmp)
        if path.exists():
            os.replace(path, aside)
        os.replace(tmp, path)
        _fsync(path.parent)
        shutil.rmtree(aside, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of ``path`` (``.<name>.tmp-<pid>``, then anything after a dot) left by processes that are
    gone (a kill)."""
    prefix = f".{path.name}.tmp-"
    for leftover in path.parent.glob(f"{prefix}*"):
        pid = leftover.name[len(prefix):].split(".")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_file(path: Path):
    """Yield a temporary path next to ``path``, this process's own; it is renamed to ``path`` only if the block
    completes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace(tmp, path)


def write_json(path: Path, data) -> None:
    """Write JSON atomically, pretty-printed so that diffs of metrics stay readable."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())
