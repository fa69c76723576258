"""The autoencoder: shapes, the pixel shuffle, a learning step, save and load."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import pytest

from faceswap.faces.expression import FEATURES
from faceswap.train.networks import (
    ARCHITECTURES,
    FaceSwap,
    PixelNorm,
    PixelShuffle,
    build_autoencoder,
    residual_block,
)
from tests.helpers import REPO


def test_pixel_shuffle_matches_depth_to_space():
    x = np.arange(2 * 3 * 3 * 8, dtype=np.float32).reshape(2, 3, 3, 8)
    out = keras.ops.convert_to_numpy(PixelShuffle()(x))
    expected = x.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(2, 6, 6, 2)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0, 1, 0] == x[0, 0, 0, 2]  # the second sub-pixel of a row comes from the next channel pair


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_shapes(name):
    model = build_autoencoder(name)
    size = ARCHITECTURES[name].size
    assert model.input_shape == [(None, size, size, 3)] * 2
    assert model.output_shape == [(None, size, size, 3)] * 2
    encoder = model.get_layer("encoder")
    assert encoder.get_layer("conv0").kernel_size == (5, 5)
    filters = ARCHITECTURES[name].encoder_filters
    assert [encoder.get_layer(f"conv{i}").filters for i in range(len(filters))] == list(filters)


def test_pixel_norm_scales_each_example_to_a_root_mean_square_of_one():
    x = np.array([[3.0, 4.0], [0.3, 0.4]], np.float32)
    out = keras.ops.convert_to_numpy(PixelNorm()(x))
    np.testing.assert_allclose(out, np.array([[3, 4], [3, 4]]) / np.sqrt(12.5), rtol=1e-4)  # same whatever the scale


def test_a_residual_block_with_zero_convolutions_passes_its_input_through_the_activation():
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, residual_block(inputs, "res"))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.where(x > 0, x, 0.2 * x), rtol=1e-5)


@pytest.mark.parametrize("name", ["ud128", "ud128wide"])
def test_the_ud_decoders_work_at_half_size_and_draw_full_size_faces_by_pixel_shuffle(name):
    model = build_autoencoder(name)
    decoder = model.get_layer("decoder_source")
    size = ARCHITECTURES[name].size
    assert decoder.get_layer("face_subpixels").output.shape[1:] == (size // 2, size // 2, 12)
    assert decoder.output.shape[1:] == (size, size, 3)
    assert [layer.name for layer in decoder.layers if layer.name.endswith("_add")] == ["res0_add", "res1_add",
                                                                                       "res2_add"]
    assert isinstance(model.get_layer("encoder").get_layer("code_norm"), PixelNorm)


def test_ud128_learns_a_tiny_set_better_than_its_start():
    """Four faces, two per side, learnt by the demo's architecture with the demo's loss: the reconstruction
    error falls well below where it started (a network whose output ignored its input could not do that for
    both sides at once)."""
    from faceswap.train.losses import FaceLoss

    keras.utils.set_random_seed(0)
    model = build_autoencoder("ud128")
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss=FaceLoss(pixel_loss="mse"))
    rng = np.random.default_rng(0)
    smooth = [keras.ops.convert_to_numpy(keras.ops.image.resize(rng.random((2, 8, 8, 3), dtype=np.float32),
                                                                (128, 128))) for _ in range(2)]
    targets = [np.concatenate([x, np.ones((2, 128, 128, 1), np.float32), np.zeros((2, 128, 128, 2), np.float32)],
                              -1) for x in smooth]
    first = model.evaluate(smooth, targets, verbose=0)[0]
    for _ in range(60):
        model.train_on_batch(smooth, targets)
    assert model.evaluate(smooth, targets, verbose=0)[0] < 0.3 * first


GRADIENTS_ON = """
import os, sys
os.environ["KERAS_BACKEND"] = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import keras, numpy as np
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import build_autoencoder

keras.utils.set_random_seed(0)
model = build_autoencoder("ud128")
model.compile(optimizer=keras.optimizers.SGD(0.1), loss=FaceLoss(pixel_loss=sys.argv[3]))
before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
x = [np.random.default_rng(i).random((2, 128, 128, 3), dtype=np.float32) for i in range(2)]
maps = np.concatenate([np.ones((2, 128, 128, 1)), np.full((2, 128, 128, 2), 0.5)], -1).astype(np.float32)
model.train_on_batch(x, [np.concatenate([face, maps], -1) for face in x])
after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
print(sum(not np.array_equal(a, b) for a, b in zip(before, after)), len(after))
"""


@pytest.mark.parametrize("backend,pixel_loss", [("tensorflow", "mse"), ("torch", "mse"), ("torch", "l1")])
def test_gradients_reach_every_weight_of_ud128_on_each_backend(backend, pixel_loss):
    """One step of the loss through the pixel norm, residual blocks and pixel shuffles moves every weight, on
    TensorFlow and on PyTorch (the layers are keras.ops only)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", GRADIENTS_ON, backend, str(REPO), pixel_loss],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    changed, total = map(int, result.stdout.split()[-2:])
    assert changed == total > 30


def test_learns_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_autoencoder("light")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    rng = np.random.default_rng(0)
    faces = [rng.random((4, 64, 64, 3), dtype=np.float32) for _ in range(2)]
    first = model.train_on_batch(faces, faces)[0]
    for _ in range(15):
        last = model.train_on_batch(faces, faces)[0]
    assert last < first
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    told = np.zeros((4, len(FEATURES)), np.float32)  # ignored by a model trained without expression_input
    np.testing.assert_allclose(FaceSwap(loaded).predict(faces[0], told), FaceSwap(model).predict(faces[0], told),
                               atol=1e-5)


def test_gpu_preset_is_valid_and_changes_only_the_model_and_its_face_size():
    import yaml

    from faceswap.core import params

    preset, default = params.load_all(REPO / "params-gpu.yaml"), params.load_all(REPO / "params.yaml")
    assert "model" in {section for section in preset if preset[section] != default[section]} <= {
        "model", "alignments", "mask"}
    assert preset["model"]["mixed_precision"] is True
    assert preset["alignments"]["size"] == ARCHITECTURES[preset["model"]["architecture"]].size == 128
    assert preset["mask"]["size"] == 128
    assert preset["model"]["architecture"] == "ud128wide"
    assert yaml.safe_load((REPO / "params-gpu.yaml").read_text())["output"] == default["output"]


@pytest.mark.slow
def test_the_gpu_preset_trains_a_few_steps_on_the_cpu(tmp_path):
    """params-gpu.yaml's model (ud128wide at 128 px, mixed precision, its schedule and loss) as the model stage
    builds it, two steps at batch 2 on the CPU: finite losses, float16 compute, float32 faces."""
    from types import SimpleNamespace

    from faceswap.core import params
    from faceswap.train import distribute
    from stages.model import build_compiled

    p = SimpleNamespace(**{**params.load_all(REPO / "params-gpu.yaml")["model"], "steps": 2})
    distribute.set_precision(p.mixed_precision)
    try:
        model = build_compiled(p, None)
        assert model.get_layer("encoder").get_layer("conv0").compute_dtype == "float16"
        rng = np.random.default_rng(0)
        x = [rng.random((2, 128, 128, 3), dtype=np.float32) for _ in range(2)]
        maps = np.concatenate([np.ones((2, 128, 128, 1)), np.zeros((2, 128, 128, 2))], -1).astype(np.float32)
        for _ in range(2):
            losses = model.train_on_batch(x, [np.concatenate([face, maps], -1) for face in x])
        assert all(np.isfinite(losses))
        assert all(str(output.dtype) == "float32" for output in model.outputs)
    finally:
        distribute.set_precision(False)


def test_mixed_precision_computes_in_half_and_returns_full_precision_faces():
    from faceswap.train import distribute
    from faceswap.train.losses import FaceLoss

    distribute.set_precision(True)
    try:
        model = build_autoencoder("light")
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=FaceLoss())
        assert model.get_layer("encoder").get_layer("conv0").compute_dtype == "float16"
        x = [np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)] * 2
        maps = np.concatenate([np.ones((2, 64, 64, 1), np.float32), np.zeros((2, 64, 64, 2), np.float32)], -1)
        y = [np.concatenate([x[0], maps], -1)] * 2
        assert all(np.isfinite(model.train_on_batch(x, y)))
        assert all(str(output.dtype) == "float32" for output in model.outputs)
    finally:
        distribute.set_precision(False)
