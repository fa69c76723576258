"""Work spread over processes: the same results in the same order whatever the number of workers."""

import multiprocessing
import operator
import os
import signal
import subprocess
import sys
from functools import partial

import pytest

from faceswap.core.cli import UserError
from faceswap.core.workers import BATCH, map_in_workers, worker_count
from tests.helpers import REPO, error_lines


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_in_input_order_for_any_number_of_workers(workers):
    items = range(5 * BATCH + 7)  # several batches, the last one short
    results = map_in_workers(operator.mul, iter(items), setup=partial(int, 3), workers=workers)
    first = next(results)
    assert len(multiprocessing.active_children()) == (workers if workers > 1 else 0)
    assert [first, *results] == [3 * item for item in items]
    assert not multiprocessing.active_children()  # the pool is gone once the results are


def test_one_batch_or_less_starts_no_process():
    results = map_in_workers(operator.mul, range(BATCH), setup=partial(int, 3), workers=2)
    assert next(results) == 0
    assert not multiprocessing.active_children()
    assert list(results) == [3 * item for item in range(1, BATCH)]


def test_error_in_a_worker_reaches_the_stage():
    with pytest.raises(TypeError):
        list(map_in_workers(operator.mul, [*range(BATCH), None, 3], setup=partial(int, 3), workers=2))


def test_worker_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("FACESWAP_WORKERS", "3")
    assert worker_count() == 3
    monkeypatch.delenv("FACESWAP_WORKERS")
    assert worker_count() >= 1
    monkeypatch.setenv("FACESWAP_WORKERS", "two")
    with pytest.raises(UserError, match="FACESWAP_WORKERS is 'two'"):
        worker_count()


def setup_that_raises():
    raise RuntimeError("the detector's model file is missing")


def work_that_is_killed(state, item):
    """A worker the OOM killer picks: SIGKILL in the middle of a batch."""
    if item == BATCH + 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


STAGE = """
import operator, sys
from functools import partial
from faceswap.core import cli
from faceswap.core.workers import map_in_workers
from tests.unit import test_workers as t
work, setup = {work}, {setup}
cli.run(lambda: print(len(list(map_in_workers(work, range(20 * t.BATCH), setup=setup, workers=2)))))
"""


@pytest.mark.parametrize("work, setup", [("t.work_that_is_killed", "partial(int, 3)"),
                                         ("operator.mul", "t.setup_that_raises")])
def test_a_worker_that_dies_or_fails_to_start_ends_the_stage_with_an_error(work, setup):
    """Not a hang: with ``multiprocessing.Pool`` both waited for ever (the lost batch; a setup respawned)."""
    result = subprocess.run([sys.executable, "-c", STAGE.format(work=work, setup=setup)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                            timeout=30)  # what "ends" means here: a hang fails the test instead of stalling it
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_lines(result.stderr) == [
        "error: a worker process stopped: killed (out of memory?) or its setup failed (its traceback is above); "
        "rerun with fewer workers, e.g. FACESWAP_WORKERS=1"]
    if "raises" in setup:
        assert "the detector's model file is missing" in result.stderr
