"""Work spread over processes: the same results in the same order whatever the number of workers."""

import multiprocessing
import operator
from functools import partial

import pytest

from faceswap.core.cli import UserError
from faceswap.core.workers import BATCH, map_in_workers, worker_count


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
