"""How the learning rate and the random warp change over an attempt's steps.

The learning rate rises linearly from zero over the first ``warmup_steps`` (Adam's early moment estimates
are noisy, and a full-size step from random weights can push the sigmoid outputs into saturation), then follows
a half cosine from ``learning_rate`` down to a tenth of it at ``model.steps``. The random warp is on for most
of the attempt and off for its last ``warp_off_share`` (the peers' fine-tuning phase: the decoders learn the
faces as they are, so the converted face is sharper). The rate follows the step count the optimizer keeps, the
warp the feeder's count from the resumed step, so a resumed attempt goes on where it was; raising
``model.steps`` stretches what is left of the curve.
"""

import math

import keras
from keras import ops

FLOOR = 0.1  # the learning rate at the last step, as a share of model.learning_rate


@keras.saving.register_keras_serializable(package="faceswap")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate at each step: the warmup, then the cosine (or, with ``cosine`` false, a constant)."""

    def __init__(self, learning_rate: float, warmup_steps: int, total_steps: int, cosine: bool = True):
        self.learning_rate, self.warmup_steps, self.total_steps = learning_rate, warmup_steps, total_steps
        self.cosine = cosine

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rate = self.learning_rate * ops.minimum(1.0, (step + 1) / max(1, self.warmup_steps))
        if not self.cosine:
            return rate
        progress = ops.clip((step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps), 0, 1)
        return rate * (FLOOR + (1 - FLOOR) * 0.5 * (1 + ops.cos(math.pi * progress)))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps, "cosine": self.cosine}


def warp_until(steps: int, warp_off_share: float) -> int:
    """The first step trained without the random warp."""
    return steps - round(steps * warp_off_share)
