"""Where the model is placed: several GPUs, mixed precision. The only TensorFlow-specific code of training,
kept here at the edge; with another Keras backend, training runs on its default device."""

import contextlib
import logging

import keras

log = logging.getLogger("faceswap")


def set_precision(mixed: bool) -> None:
    """``mixed_float16`` computes in half precision with float32 weights (fast on GPUs with tensor cores);
    Keras then scales the loss so that small gradients survive."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")


def strategy_scope(devices: list[str] | None = None):
    """A ``tf.distribute.MirroredStrategy`` scope over ``devices`` (default: the visible GPUs) when there are
    at least two, else a scope that changes nothing. Build and compile the model inside it."""
    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    import tensorflow as tf

    if devices is None:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(devices) < 2:
        return contextlib.nullcontext()
    log.info("model: training on %d devices (%s)", len(devices), ", ".join(devices))
    return tf.distribute.MirroredStrategy(devices).scope()
