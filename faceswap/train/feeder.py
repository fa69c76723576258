"""The input pipeline: background threads read (``stream.TrainingFaces``) and augment batches a few steps ahead of
the trainer, so that the decoding and the augmentation (OpenCV and backend kernels, which release the GIL)
overlap the training step instead of adding to it."""

import itertools
import queue
import threading
import time

import numpy as np

from faceswap.faces.expression import face_features
from faceswap.train.augment import augment_batch
from faceswap.train.stream import EpochOrder

ORDER, AUGMENTATION = 0, 1  # the first word of each random stream's seed: the two never share a stream


class BatchFeeder:
    """Batches ``((target inputs, source inputs), (target targets, source targets))`` of ``batch_size`` faces
    of each side's ``stream.TrainingFaces``, for the steps from ``first_step`` on. Step ``k``'s batch depends on
    ``seed`` and ``k`` alone: its faces come from each side's ``EpochOrder``, its augmentation from a generator
    seeded with the step, so a run resumed at ``first_step`` is fed what it would have been fed, and ``workers``
    threads can prepare steps side by side. From step ``warp_until`` the inputs are not warped
    (``schedule.warp_until``). With ``expressions`` the inputs are followed by the chosen faces' features
    (``faces.expression.face_features`` of their landmarks as the augmentation moved them), target then source,
    for a ``model.expression_input`` model.

    ``busy_seconds`` counts the time the workers spent preparing batches, divided by their number: over a stretch
    of training, its share of the wall time says whether the input pipeline keeps up (below 1) or is the
    bottleneck (at 1).
    """

    def __init__(self, data: dict, batch_size: int, seed: int, ahead: int = 4, first_step: int = 0,
                 warp_until: int | None = None, expressions: bool = False, workers: int = 2):
        self.data, self.batch_size, self.expressions = data, batch_size, expressions
        self.seed, self.first_step, self.warp_until = seed, first_step, warp_until
        self.orders = [EpochOrder(len(faces), [ORDER, seed, side]) for side, faces in enumerate(data.values())]
        self._busy = [0.0] * workers
        self._queues = [queue.Queue(max(1, ahead // workers)) for _ in range(workers)]
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._fill, args=(worker,), daemon=True, name=f"batch-feeder-{worker}")
                         for worker in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def busy_seconds(self) -> float:
        return sum(self._busy) / len(self._busy)

    def make_batch(self, step: int):
        """Step ``step``'s batch."""
        rng = np.random.default_rng([AUGMENTATION, self.seed, step])
        warp = self.warp_until is None or step < self.warp_until
        inputs, targets, told = [], [], []
        for side, order in zip(self.data.values(), self.orders, strict=True):
            faces, maps, landmarks = side.read(order.indices(step, self.batch_size))
            side_inputs, side_targets, moved = augment_batch(rng, faces, maps, landmarks, warp)
            inputs.append(side_inputs)
            targets.append(side_targets)
            if self.expressions:
                told.append(face_features(moved, side.size))  # the pose as moved, the expression as it was
        return tuple(inputs + told if self.expressions else inputs), tuple(targets)

    def _fill(self, worker: int) -> None:
        """Worker ``worker`` of ``n`` prepares steps ``first_step + worker``, then ``n`` steps on, and so on."""
        try:
            for step in itertools.count(self.first_step + worker, len(self._threads)):
                started = time.perf_counter()
                batch = self.make_batch(step)
                self._busy[worker] += time.perf_counter() - started
                while not self._stop.is_set():
                    try:
                        self._queues[worker].put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as error:  # handed to the trainer's thread, which raises it
            self._error = error

    def batches(self):
        """An endless generator of the batches in step order, as ``keras.Model.fit`` takes it."""
        for step in itertools.count(self.first_step):
            worker = (step - self.first_step) % len(self._threads)
            while True:
                try:
                    yield self._queues[worker].get(timeout=0.5)
                    break
                except queue.Empty:
                    if self._error is not None:
                        raise self._error from None
                    if not self._threads[worker].is_alive():
                        raise RuntimeError("the batch feeder stopped") from None

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
