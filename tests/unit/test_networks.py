"""The autoencoder: shapes, the pixel shuffle, a learning step, save and load."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import pytest

from faceswap.train.networks import ARCHITECTURES, PixelShuffle, build_autoencoder, swap_model
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
    assert [encoder.get_layer(f"conv{i}").filters for i in range(4)] == list(ARCHITECTURES[name].encoder_filters)


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
    np.testing.assert_allclose(swap_model(loaded).predict(faces[0], verbose=0),
                               swap_model(model).predict(faces[0], verbose=0), atol=1e-5)


def test_gpu_preset_is_valid_and_changes_only_the_model_and_its_face_size():
    import yaml

    from faceswap.core import params

    preset, default = params.load_all(REPO / "params-gpu.yaml"), params.load_all(REPO / "params.yaml")
    assert {section for section in preset if preset[section] != default[section]} == {"model", "alignments", "mask"}
    assert preset["model"]["mixed_precision"] is True
    assert preset["alignments"]["size"] == ARCHITECTURES[preset["model"]["architecture"]].size == 128
    assert preset["mask"]["size"] == 128
    assert yaml.safe_load((REPO / "params-gpu.yaml").read_text())["output"] == default["output"]


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
