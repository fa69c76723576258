"""The input pipeline: a background thread reads (``stream.TrainingFaces``) and augments batches a few steps ahead
of the trainer, so that the decoding and the augmentation (OpenCV and backend kernels, which release the GIL)
overlap the training step instead of adding to it."""

import queue
import threading
import time

import numpy as np

from faceswap.faces.expression import face_features
from faceswap.train.augment import augment_batch
from faceswap.train.stream import EpochOrder


class BatchFeeder:
    """Batches ``((target inputs, source inputs), (target targets, source targets))`` of ``batch_size`` faces
    of each side's ``stream.TrainingFaces``, in each side's ``EpochOrder`` (seeded by ``seed``: a run resumed at
    ``first_step`` reads the faces it would have read), for the steps from ``first_step`` on: from
    step ``warp_until`` the inputs are not warped (``schedule.warp_until``). With ``expressions`` the inputs
    are followed by the chosen faces' features (``faces.expression.face_features`` of their landmarks as the
    augmentation moved them), target then source, for a ``model.expression_input`` model.

    ``busy_seconds`` counts the time the thread spent preparing batches: over a stretch of training, its share
    of the wall time says whether the input pipeline keeps up (below 1) or is the bottleneck (at 1).
    """

    def __init__(self, data: dict, batch_size: int, seed, ahead: int = 4, first_step: int = 0,
                 warp_until: int | None = None, expressions: bool = False):
        self.data, self.batch_size, self.expressions = data, batch_size, expressions
        self.step, self.warp_until = first_step, warp_until
        self.orders = [EpochOrder(len(faces), [seed, side]) for side, faces in enumerate(data.values())]
        self.busy_seconds = 0.0
        self._queue: queue.Queue = queue.Queue(ahead)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fill, args=(np.random.default_rng([seed, first_step]),),
                                        daemon=True, name="batch-feeder")
        self._thread.start()

    def make_batch(self, rng: np.random.Generator):
        """The next step's batch."""
        warp = self.warp_until is None or self.step < self.warp_until
        inputs, targets, told = [], [], []
        for side, order in zip(self.data.values(), self.orders, strict=True):
            faces, maps, landmarks = side.read(order.indices(self.step, self.batch_size))
            side_inputs, side_targets, moved = augment_batch(rng, faces, maps, landmarks, warp)
            inputs.append(side_inputs)
            targets.append(side_targets)
            if self.expressions:
                told.append(face_features(moved, side.size))  # the pose as moved, the expression as it was
        self.step += 1
        return tuple(inputs + told if self.expressions else inputs), tuple(targets)

    def _fill(self, rng: np.random.Generator) -> None:
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                batch = self.make_batch(rng)
                self.busy_seconds += time.perf_counter() - started
                while not self._stop.is_set():
                    try:
                        self._queue.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as error:  # handed to the trainer's thread, which raises it
            self._error = error

    def batches(self):
        """An endless generator of batches, as ``keras.Model.fit`` takes it."""
        while True:
            try:
                yield self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._error is not None:
                    raise self._error from None
                if not self._thread.is_alive():
                    raise RuntimeError("the batch feeder stopped") from None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
