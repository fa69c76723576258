"""Per-item work of an extraction stage spread over one process per core, results in input order.

YuNet, dlib and the JPEG codecs each keep one core busy per call, so a stage that handles frames one after
another uses half of a 2-core machine. Each worker process builds its own model once (``setup``) and handles
batches of items; the stage's main process only reads shards and writes results, in order, so the output does
not depend on the number of workers. At most a few batches are in flight: memory stays flat on a feature film.
Items and results go through pipes, so this pays for compact items (a JPEG, a crop), not for raw frames.
Workers are spawned, not forked: a child forked after OpenCV has started its thread pool hangs in its first
parallel call (seen here), and a spawned one costs only its imports, about 0.2-0.4 s, while the others work.

``FACESWAP_WORKERS`` sets the number of processes (default: the cores this process may use; 1: no pool). A set of
one batch or less is handled in the stage's own process.

A worker that dies (the OOM killer, ``kill -9``) or whose ``setup`` raises ends the stage with an error at once:
``concurrent.futures`` notices a process gone and fails every pending batch, where ``multiprocessing.Pool``
would respawn the worker and wait for the lost batch for ever.
"""

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice

import cv2

from faceswap.core.cli import UserError

BATCH = 32  # items per task: large enough that pickling is a small share, small enough to keep cores even
IN_FLIGHT = 3  # batches submitted ahead of the one being written out

_state = None  # in a worker: what ``setup`` built


def worker_count() -> int:
    """``FACESWAP_WORKERS`` if set, else the cores this process may run on."""
    value = os.environ.get("FACESWAP_WORKERS", "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise UserError(f"FACESWAP_WORKERS is {value!r}; give a whole number of processes, 1 or more")
        return int(value)
    return len(os.sched_getaffinity(0))


def _start(setup: Callable) -> None:
    global _state
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would fight them
    _state = setup()


def _handle(work: Callable, batch: list) -> list:
    return [work(_state, item) for item in batch]


def map_in_workers(work: Callable, items: Iterable, setup: Callable, workers: int | None = None) -> Iterator:
    """``work(state, item)`` for each item, in order, where ``state = setup()`` is built once per process.

    ``work`` and ``setup`` must be picklable (module-level functions, ``functools.partial`` of them), and so
    must items and results.
    """
    workers = worker_count() if workers is None else workers
    items = iter(items)
    first = list(islice(items, BATCH + 1))
    if workers <= 1 or len(first) <= BATCH:  # one batch: starting processes would cost more than it saves
        state = setup()
        yield from (work(state, item) for item in chain(first, items))
        return
    items = chain(first, items)
    try:
        with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_start,
                                 initargs=(setup,)) as pool:
            pending = deque()
            while batch := list(islice(items, BATCH)):
                pending.append(pool.submit(_handle, work, batch))
                if len(pending) > IN_FLIGHT + workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
    except BrokenProcessPool:
        raise UserError("a worker process stopped: killed (out of memory?) or its setup failed (its traceback is "
                        "above); rerun with fewer workers, e.g. FACESWAP_WORKERS=1") from None
