"""The per-pair autoencoder: one shared encoder, one decoder per side, in Keras 3 layers and ops only,
so that every Keras backend (TensorFlow, JAX, PyTorch) runs it.

Architectures, named by ``model.architecture``:

- ``light``: a small 64 px model that learns a recognisable face within a 15-minute CPU demo.
- ``original``: faceswap's 64 px "original" class: four strided 5x5 convolutions 128 -> 1024, a dense
  bottleneck, pixel-shuffle upscalers.
- ``gpu128``: the original class at 128 px, wider decoders, for a GPU run.
- ``ud128`` (the CPU demo's) and ``ud128wide`` (the GPU preset's, params-gpu.yaml): DeepFaceLab's DF-UD ideas
  for more face per FLOP. A residual block after each upscale; the encoder's code normalised (pixel norm), so
  the dense bottleneck starts from inputs of one scale; and the "-d" trick: the dense layers and decoders work
  at half the output size and the last convolution draws 4x the channels, pixel-shuffled to full size, so a
  128 px face costs about what a 64 px one did.

With ``expression_input`` (``model.expression_input``) each decoder is also given the face's features
(``faces.expression.face_features``: eye, mouth and brow openness, the smile, and the pose in the crop, from its
landmarks), standardised by the statistics of the side the face comes from. A swap then draws the source's face
with the target's expression and pose as measured on the target, where the code alone leaves the decoder to
infer them from another person's face.

The last layer of each decoder and the outputs compute in float32, so that under mixed precision the faces
and the loss stay in full precision.
"""

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from faceswap.core.paths import SIDES
from faceswap.faces.expression import FEATURES

EXPRESSION_CHANNELS = 16  # feature maps the expression is spread into beside the encoder's code


@keras.saving.register_keras_serializable(package="faceswap")
class PixelShuffle(layers.Layer):
    """Rearrange (H, W, 4C) into (2H, 2W, C): the sub-pixel upscaler of faceswap's decoders."""

    def call(self, x):
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        x = ops.reshape(x, (-1, height, width, 2, 2, channels // 4))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height * 2, width * 2, channels // 4))

    def compute_output_shape(self, shape):
        return (shape[0], shape[1] * 2, shape[2] * 2, shape[3] // 4)


@keras.saving.register_keras_serializable(package="faceswap")
class PixelNorm(layers.Layer):
    """Scale each example's features to a root mean square of 1 (DeepFaceLab's "-u"): the bottleneck then
    sees inputs of one scale whatever the face's contrast."""

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-6)


@dataclass(frozen=True)
class Architecture:
    size: int  # input and output side, px
    encoder_filters: tuple[int, ...]  # one strided 5x5 convolution each
    bottleneck: int  # width of the dense layer
    decoder_filters: tuple[int, ...]  # one upscaler each, after the encoder's own
    code_filters: int = 0  # channels of the code the dense layers expand to (0: ``bottleneck``)
    residual: bool = False  # a residual block after each of the decoder's upscalers
    normalised: bool = False  # pixel norm on the flattened encoder output
    half_size_decoder: bool = False  # "-d": decode at half size, the last convolution pixel-shuffled to full


ARCHITECTURES = {
    "light": Architecture(size=64, encoder_filters=(32, 64, 128, 256), bottleneck=128, decoder_filters=(64, 32, 16)),
    "original": Architecture(size=64, encoder_filters=(128, 256, 512, 1024), bottleneck=1024,
                             decoder_filters=(256, 128, 64)),
    "gpu128": Architecture(size=128, encoder_filters=(128, 256, 512, 1024), bottleneck=512,
                           decoder_filters=(512, 256, 128)),
    "ud128": Architecture(size=128, encoder_filters=(16, 32, 64, 128, 256), bottleneck=128, code_filters=256,
                          decoder_filters=(96, 48, 24), residual=True, normalised=True, half_size_decoder=True),
    "ud128wide": Architecture(size=128, encoder_filters=(64, 128, 256, 512, 512), bottleneck=256,
                              code_filters=512, decoder_filters=(512, 256, 128), residual=True, normalised=True,
                              half_size_decoder=True),
}


def upscale(x, filters: int, name: str):
    x = layers.Conv2D(filters * 4, 3, padding="same", name=f"{name}_conv")(x)
    x = layers.LeakyReLU(0.1, name=f"{name}_act")(x)
    return PixelShuffle(name=f"{name}_shuffle")(x)


def residual_block(x, name: str):
    """Two 3x3 convolutions added back onto their input (DeepFaceLab's ResidualBlock): detail refined at the
    scale just reached without losing what the upscaler drew."""
    filters = x.shape[-1]
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = layers.LeakyReLU(0.2, name=f"{name}_act1")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    return layers.LeakyReLU(0.2, name=f"{name}_act2")(layers.Add(name=f"{name}_add")([x, y]))


def build_encoder(arch: Architecture) -> keras.Model:
    inputs = keras.Input((arch.size, arch.size, 3), name="face")
    x = inputs
    for i, filters in enumerate(arch.encoder_filters):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", name=f"conv{i}")(x)
        x = layers.LeakyReLU(0.1, name=f"conv{i}_act")(x)
    spatial = arch.size // 2 ** len(arch.encoder_filters)
    code = arch.code_filters or arch.bottleneck
    x = layers.Flatten()(x)
    if arch.normalised:
        x = PixelNorm(name="code_norm")(x)
    x = layers.Dense(arch.bottleneck, name="bottleneck")(x)
    x = layers.Dense(spatial * spatial * code, name="expand")(x)
    x = layers.Reshape((spatial, spatial, code))(x)
    x = upscale(x, code // 2, "up")
    return keras.Model(inputs, x, name="encoder")


def build_decoder(arch: Architecture, encoded_shape, side: str, expression_input: bool = False) -> keras.Model:
    """A side's decoder: the encoder's code (and, with ``expression_input``, the standardised expression, spread
    over the code's grid as EXPRESSION_CHANNELS more channels) to that side's face."""
    code = keras.Input(encoded_shape, name="code")
    x = code
    if expression_input:
        expression = keras.Input((len(FEATURES),), name="expression")
        height, width = encoded_shape[:2]
        spread = layers.Dense(64, name="expression_dense")(expression)
        spread = layers.LeakyReLU(0.1, name="expression_act")(spread)
        spread = layers.Dense(height * width * EXPRESSION_CHANNELS, name="expression_grid")(spread)
        spread = layers.LeakyReLU(0.1, name="expression_grid_act")(spread)
        x = layers.Concatenate(name="code_and_expression")(
            [x, layers.Reshape((height, width, EXPRESSION_CHANNELS))(spread)])
    for i, filters in enumerate(arch.decoder_filters):
        x = upscale(x, filters, f"up{i}")
        if arch.residual:
            x = residual_block(x, f"res{i}")
    if arch.half_size_decoder:
        x = layers.Conv2D(3 * 4, 3, padding="same", dtype="float32", name="face_subpixels")(x)
        x = PixelShuffle(dtype="float32", name="face_shuffle")(x)
        outputs = layers.Activation("sigmoid", dtype="float32", name="face")(x)
    else:
        outputs = layers.Conv2D(3, 5, padding="same", activation="sigmoid", dtype="float32", name="face")(x)
    return keras.Model([code, expression] if expression_input else code, outputs, name=f"decoder_{side}")


def build_autoencoder(name: str, expression_statistics: dict | None = None) -> keras.Model:
    """Inputs [target faces, source faces] in [0, 1]; outputs each side's reconstruction by its own decoder.

    With ``expression_statistics`` (each side's feature means and variances over its faces, as
    ``expression_statistics`` gives them) the inputs are [target faces, source faces, target features, source
    features], and each side's features are standardised by its own statistics, kept in the model's config.
    """
    arch = ARCHITECTURES[name]
    conditioned = expression_statistics is not None
    encoder = build_encoder(arch)
    decoders = {side: build_decoder(arch, encoder.output.shape[1:], side, conditioned) for side in SIDES}
    faces = [keras.Input((arch.size, arch.size, 3), name=side) for side in SIDES]
    if not conditioned:
        outputs = [layers.Identity(dtype="float32", name=f"{side}_out")(decoders[side](encoder(x)))
                   for side, x in zip(SIDES, faces)]
        return keras.Model(faces, outputs, name=f"autoencoder_{name}")
    expressions = [keras.Input((len(FEATURES),), name=f"{side}_expression") for side in SIDES]
    outputs = []
    for side, x, expression in zip(SIDES, faces, expressions):
        mean, variance = expression_statistics[side]
        standardised = layers.Normalization(mean=list(mean), variance=list(variance),
                                            name=f"expression_norm_{side}")(expression)
        outputs.append(layers.Identity(dtype="float32", name=f"{side}_out")(
            decoders[side]([encoder(x), standardised])))
    return keras.Model(faces + expressions, outputs, name=f"autoencoder_{name}")


def expression_statistics(features: dict[str, np.ndarray]) -> dict:
    """Each side's feature means and variances (a floor of 1e-4, so a feature that never changes on a side
    stays near 0 standardised), as lists: what ``build_autoencoder`` standardises each side's features by. The
    target's standardised features are what the source decoder is told in a swap: the target's widest smile
    asks for the source's widest. (Openness standardised over both sides instead, so that shut eyes ask for shut
    eyes, followed the eyes no better on the sample and moved the face towards the target: BENCHMARKS.md.)"""
    return {side: (values.mean(axis=0).tolist(), np.maximum(values.var(axis=0), 1e-4).tolist())
            for side, values in features.items()}


def takes_expressions(autoencoder: keras.Model) -> bool:
    return len(autoencoder.inputs) == 2 * len(SIDES)


class FaceSwap:
    """An autoencoder's faces from ``from_side`` drawn by ``to_side``'s decoder (``to_side`` the same: a
    reconstruction): faces in [0, 1] and their features (``faces.expression.face_features``) in, faces out.
    A model trained without ``expression_input`` ignores the features."""

    def __init__(self, autoencoder: keras.Model, to_side: str = "source", from_side: str = "target"):
        encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer(f"decoder_{to_side}")
        self.conditioned = takes_expressions(autoencoder)
        if self.conditioned:
            face = keras.Input(encoder.input_shape[1:], name="face")
            expression = keras.Input((len(FEATURES),), name="expression")
            standardised = autoencoder.get_layer(f"expression_norm_{from_side}")(expression)
            self.model = keras.Model([face, expression], decoder([encoder(face), standardised]),
                                     name=f"{from_side}_to_{to_side}")
        else:
            self.model = keras.Sequential([encoder, decoder], name=f"{from_side}_to_{to_side}")

    def _inputs(self, faces, expressions):
        return [faces, np.asarray(expressions, np.float32)] if self.conditioned else faces

    def predict(self, faces: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        """For batch after batch: one traced predict function."""
        return np.asarray(self.model.predict_on_batch(self._inputs(faces, expressions)))

    def __call__(self, faces: np.ndarray, expressions: np.ndarray) -> np.ndarray:
        """For a few faces once: no predict function traced."""
        return keras.ops.convert_to_numpy(self.model(self._inputs(faces, expressions), training=False))
