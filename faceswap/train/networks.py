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

The last layer of each decoder and the outputs compute in float32, so that under mixed precision the faces
and the loss stay in full precision.
"""

from dataclasses import dataclass

import keras
from keras import layers, ops

from faceswap.core.paths import SIDES


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


def build_decoder(arch: Architecture, encoded_shape, side: str) -> keras.Model:
    inputs = keras.Input(encoded_shape, name="code")
    x = inputs
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
    return keras.Model(inputs, outputs, name=f"decoder_{side}")


def build_autoencoder(name: str) -> keras.Model:
    """Inputs [target faces, source faces] in [0, 1]; outputs each side's reconstruction by its own decoder."""
    arch = ARCHITECTURES[name]
    encoder = build_encoder(arch)
    decoders = {side: build_decoder(arch, encoder.output.shape[1:], side) for side in SIDES}
    inputs = [keras.Input((arch.size, arch.size, 3), name=side) for side in SIDES]
    outputs = [layers.Identity(dtype="float32", name=f"{side}_out")(decoders[side](encoder(x)))
               for side, x in zip(SIDES, inputs)]
    return keras.Model(inputs, outputs, name=f"autoencoder_{name}")


def swap_model(autoencoder: keras.Model, to_side: str = "source") -> keras.Model:
    """Encoder followed by one side's decoder: a target face in, the same face as ``to_side`` out."""
    encoder = autoencoder.get_layer("encoder")
    return keras.Sequential([encoder, autoencoder.get_layer(f"decoder_{to_side}")], name=f"to_{to_side}")
