"""Training parts: the masked, region-weighted loss, augmentation, the batch feeder, checkpoints, and
training mirrored over two devices."""

import os
import re

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import shutil
import subprocess
import sys
from types import SimpleNamespace

import keras
import mlflow
import numpy as np
import pytest

from faceswap.media.imageset import read_index
from faceswap.train.augment import augment_batch
from faceswap.train.checkpoints import Checkpoints
from faceswap.train.feeder import BatchFeeder
from faceswap.train.loop import faces_fingerprint, train
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import build_autoencoder
from faceswap.train.regions import EYES, MOUTH, aligned_landmarks, eye_and_mouth_masks
from faceswap.train.stream import TrainingFaces
from tests.helpers import REPO, all_faces


def packed(face, mask=None, eyes=None, mouth=None):
    """A loss target: the face and its three maps (mask everywhere, no eye or mouth region by default)."""
    zeros = np.zeros(face.shape[:-1] + (1,), np.float32)
    maps = [np.ones_like(zeros) if mask is None else mask, zeros if eyes is None else eyes,
            zeros if mouth is None else mouth]
    return np.concatenate([face, *maps], axis=-1)


def loss(y_true, y_pred, **weights) -> float:
    return float(keras.ops.convert_to_numpy(FaceLoss(**weights)(y_true, y_pred)))


def test_loss_is_zero_for_a_perfect_face_and_ignores_the_background():
    rng = np.random.default_rng(0)
    face = rng.random((2, 32, 32, 3), dtype=np.float32)
    mask = np.zeros((2, 32, 32, 1), np.float32)
    mask[:, 8:24, 8:24] = 1
    assert loss(packed(face, mask), face) == pytest.approx(0, abs=1e-5)
    outside = face.copy()  # beyond the reach of SSIM's window (3 px at 32 px) from the mask
    outside[:, :2] = 1 - outside[:, :2]
    assert loss(packed(face, mask), outside) == pytest.approx(0, abs=1e-5)
    inside = face.copy()
    inside[:, 10:14] = 1 - inside[:, 10:14]
    assert loss(packed(face, mask), inside) > 0.01


@pytest.mark.parametrize("ssim_weight", [0.0, 1.0])
def test_an_error_in_the_eyes_costs_more_than_the_same_error_in_the_cheek(ssim_weight):
    rng = np.random.default_rng(1)
    face = rng.random((1, 32, 32, 3), dtype=np.float32)
    eyes = np.zeros((1, 32, 32, 1), np.float32)
    eyes[:, 8:12, 8:24] = 1
    in_eyes, in_cheek = face.copy(), face.copy()
    in_eyes[:, 8:12, 8:24] = 0.5
    in_cheek[:, 20:24, 8:24] = 0.5
    truth = packed(face, eyes=eyes)
    assert loss(truth, in_eyes, ssim_weight=ssim_weight, eye_weight=3.0) > 2 * loss(
        truth, in_cheek, ssim_weight=ssim_weight, eye_weight=3.0)
    assert loss(truth, in_eyes, ssim_weight=ssim_weight, eye_weight=1.0) == pytest.approx(
        loss(truth, in_cheek, ssim_weight=ssim_weight, eye_weight=1.0), rel=0.3)


def test_eye_and_mouth_regions_lie_on_the_aligned_landmarks(aligned_faces):
    folder = aligned_faces / "data/alignments/target"
    record = {**read_index(folder)[0], "aligned_size": 64}
    points = aligned_landmarks(record, 128)
    eyes, mouth = eye_and_mouth_masks(points, 128)
    for region, groups in ((eyes, EYES), (mouth, MOUTH)):
        inside = [region[int(y), int(x)] for group in groups for x, y in points[list(group)]]
        assert min(inside) == 255
        assert 0.005 < (region > 0).mean() < 0.15  # a region, not the whole face
    assert not (eyes & mouth).any()
    faces, maps, landmarks = all_faces(folder, 128)
    assert faces.shape == maps.shape == (2, 128, 128, 3) and landmarks.shape == (2, 68, 2)
    np.testing.assert_allclose(landmarks[0], points)
    np.testing.assert_array_equal(maps[0, ..., 1], eyes)
    assert (maps[0, ..., 0][eyes > 0] > 0).mean() > 0.9  # the eyes lie inside the landmark mask


def test_augmentation_is_seeded_and_moves_the_maps_and_landmarks_with_the_face(aligned_faces):
    faces, maps, landmarks = all_faces(aligned_faces / "data/alignments/source", 64)
    faces, maps, landmarks = (np.concatenate([part] * 4) for part in (faces, maps, landmarks))  # some flipped
    first = augment_batch(np.random.default_rng(5), faces, maps, landmarks)
    again = augment_batch(np.random.default_rng(5), faces, maps, landmarks)
    other = augment_batch(np.random.default_rng(6), faces, maps, landmarks)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    inputs, targets, moved = first
    for target, points in zip(targets, moved):  # the eye landmarks lie in the moved eye region, left on the left
        assert target[..., 4][tuple(np.round(points[36:48, ::-1]).astype(int).T)].min() > 0.5
        assert points[36:42, 0].mean() < points[42:48, 0].mean()
    assert not np.allclose(moved, landmarks, atol=0.5)
    inputs, targets = inputs[:2], targets[:2]
    assert inputs.shape == (2, 64, 64, 3) and targets.shape == (2, 64, 64, 6)
    assert 0 <= inputs.min() and inputs.max() <= 1
    # the target face is the original moved by a small similarity: the mask still covers the face's pixels
    for target, face_maps in zip(targets, maps):
        assert abs(target[..., 3].mean() - face_maps[..., 0].mean() / 255) < 0.1
        assert np.abs(inputs - targets[..., :3]).mean() > 0.01  # the input is warped and jittered


AUGMENT_ON = """
import os, sys
os.environ["KERAS_BACKEND"] = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import numpy as np
from faceswap.train.augment import augment_batch

batch = np.load(sys.argv[3])
inputs, targets, _ = augment_batch(np.random.default_rng(5), batch["faces"], batch["maps"], batch["landmarks"])
np.savez(sys.argv[4], inputs=inputs, targets=targets)
"""


def test_augmentation_is_the_same_on_another_backend(aligned_faces, tmp_path, backend="torch"):
    """The augmentation is written in keras.ops, not TensorFlow: the same seed gives the same batch on
    another Keras backend (PyTorch, from requirements-dev.txt), up to float rounding."""
    faces, maps, landmarks = all_faces(aligned_faces / "data/alignments/source", 64)
    np.savez(tmp_path / "batch.npz", faces=faces, maps=maps, landmarks=landmarks)
    result = subprocess.run([sys.executable, "-c", AUGMENT_ON, backend, str(REPO), str(tmp_path / "batch.npz"),
                             str(tmp_path / "augmented.npz")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    other = np.load(tmp_path / "augmented.npz")
    inputs, targets, _ = augment_batch(np.random.default_rng(5), faces, maps, landmarks)
    np.testing.assert_allclose(other["inputs"], inputs, atol=1e-4)
    np.testing.assert_allclose(other["targets"], targets, atol=1e-4)


def test_feeder_keeps_batches_coming_and_counts_its_work(aligned_faces):
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    with BatchFeeder(data, 3, seed=0) as feeder:
        batches = feeder.batches()
        (target_in, source_in), (target_out, source_out) = next(batches)
        next(batches)
    assert target_in.shape == source_in.shape == (3, 64, 64, 3)
    assert target_out.shape == source_out.shape == (3, 64, 64, 6)
    assert feeder.busy_seconds > 0
    with BatchFeeder(data, 3, seed=0) as feeder:
        np.testing.assert_array_equal(next(feeder.batches())[0][0], target_in)


def compiled(learning_rate=1e-3):
    model = build_autoencoder("light")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=FaceLoss())
    return model


def test_checkpoints_resume_weights_and_optimizer_and_keep_a_backup(aligned_faces, tmp_path):
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    model, checkpoints = compiled(), Checkpoints(tmp_path / "checkpoints")
    attempt = {"architecture": "light", "learning_rate": 1e-3}
    logged = []
    p = SimpleNamespace(steps=3, log_every=2, batch_size=2)
    with BatchFeeder(data, 2, seed=0) as feeder:
        train(model, feeder, 0, p, lambda step, count, metrics: (
            logged.append((step, count, metrics)), checkpoints.save(model, {"step": step, "attempt": attempt})))
    assert [(step, count) for step, count, _ in logged] == [(2, 2), (3, 1)]
    # the workers prepare steps ahead: a stretch whose batches were ready before it began measures no input work
    assert all(0 <= metrics["input_load"] and metrics["examples_per_second"] > 0 for _, _, metrics in logged)
    assert feeder.busy_seconds > 0
    folder = checkpoints.attempt_folder(attempt)
    assert sorted(p.name for p in folder.iterdir()) == ["latest", "previous"]

    resumed = compiled()
    assert checkpoints.restore(resumed, attempt)["step"] == 3
    assert int(resumed.optimizer.iterations) == 3
    for a, b in zip(resumed.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)

    (folder / "latest/model.keras").write_bytes(b"damaged")
    assert checkpoints.restore(compiled(), attempt)["step"] == 2
    assert checkpoints.restore(compiled(), {**attempt, "architecture": "original"}) is None


@pytest.mark.parametrize("damage", [b"", b'{"step": 3, "att'])
def test_a_damaged_state_file_falls_back_to_the_checkpoint_before(tmp_path, damage, caplog):
    """An empty or cut-short state.json (a disk that filled up, a copy interrupted) is skipped with a warning."""
    model, checkpoints, attempt = compiled(), Checkpoints(tmp_path / "checkpoints"), {"learning_rate": 1e-3}
    for step in (2, 4):
        checkpoints.save(model, {"step": step, "attempt": attempt})
    (checkpoints.attempt_folder(attempt) / "latest/state.json").write_bytes(damage)
    assert checkpoints.restore(compiled(), attempt)["step"] == 2
    assert "cannot be read (JSONDecodeError" in caplog.text
    (checkpoints.attempt_folder(attempt) / "previous/state.json").write_bytes(damage)
    assert checkpoints.restore(compiled(), attempt) is None


def test_each_attempt_keeps_its_checkpoints_and_the_oldest_attempt_goes_first(tmp_path):
    model, checkpoints = compiled(), Checkpoints(tmp_path / "checkpoints")
    attempts = [{"learning_rate": rate} for rate in (1e-3, 1e-4, 1e-5, 1e-6)]
    for index, attempt in enumerate(attempts[:3]):
        checkpoints.save(model, {"step": 10 + index, "attempt": attempt})
        os.utime(checkpoints.attempt_folder(attempt), (index, index))  # saved in this order, a second apart
    assert checkpoints.restore(compiled(), attempts[0])["step"] == 10  # other attempts did not touch it
    checkpoints.save(model, {"step": 5, "attempt": attempts[3]})  # the fourth: the least recently used goes
    kept = {p.name for p in (tmp_path / "checkpoints").iterdir()}
    assert kept == {checkpoints.attempt_folder(a).name for a in (attempts[0], attempts[2], attempts[3])}


MIRRORED = """
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, sys.argv[1])
import numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from faceswap.train import distribute
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import build_autoencoder

rng = np.random.default_rng(0)
x = tuple(rng.random((4, 64, 64, 3), dtype=np.float32) for _ in range(2))
y = tuple(np.concatenate([f, np.ones((4, 64, 64, 1), np.float32), np.zeros((4, 64, 64, 2), np.float32)], -1)
          for f in x)
weights = []
for devices in (["/cpu:0"], ["/cpu:0", "/cpu:1"]):
    keras.utils.set_random_seed(0)
    with distribute.strategy_scope(devices):
        model = build_autoencoder("light")
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=FaceLoss())
    print("replicas", model.distribute_strategy.num_replicas_in_sync)
    model.fit((batch for batch in [(x, y)] * 2), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)
    weights.append(model.get_weights())
print("difference", max(float(np.abs(a - b).max()) for a, b in zip(*weights)))
"""


def test_training_mirrored_over_two_devices_matches_one_device():
    """Two logical CPU devices stand in for two GPUs: the replicas' gradients, summed, must move the weights
    exactly as one device does with the whole batch."""
    result = subprocess.run([sys.executable, "-c", MIRRORED, str(REPO)], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert result.stdout.count("replicas") == 2 and "replicas 2" in result.stdout
    assert float(lines["difference"]) < 1e-4


def test_a_loss_that_becomes_nan_stops_training_before_anything_is_reported(aligned_faces):
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    model = build_autoencoder("light")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=lambda y_true, y_pred: keras.ops.mean(y_pred) * np.nan)
    reported = []
    with BatchFeeder(data, 2, seed=0) as feeder, pytest.raises(FloatingPointError, match="between steps 1 and 2"):
        train(model, feeder, 0, SimpleNamespace(steps=4, log_every=2, batch_size=2),
              lambda *args: reported.append(args))
    assert reported == []


def test_mlflow_tags_carry_the_dvc_hashes_of_the_training_data(tmp_path, monkeypatch):
    from faceswap.train import tracking

    monkeypatch.chdir(tmp_path)
    assert tracking.dvc_input_tags("model") == {}  # no pipeline run yet
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  model:\n    cmd: x\n    deps: [data/alignments/target, data/alignments/source, stages/model.py]\n")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n"
        "  alignments@target:\n    cmd: y\n    outs:\n    - path: data/alignments/target\n      md5: aaa.dir\n"
        "  alignments@source:\n    cmd: y\n    outs:\n    - path: data/alignments/source\n      md5: bbb.dir\n")
    assert tracking.dvc_input_tags("model") == {"dvc.data/alignments/target": "aaa.dir",
                                                "dvc.data/alignments/source": "bbb.dir"}


def test_faces_fingerprint_changes_with_any_aligned_face(aligned_faces, tmp_path):
    copy = tmp_path / "alignments"
    shutil.copytree(aligned_faces / "data/alignments", copy)
    sides = [copy / "target", copy / "source"]
    before = faces_fingerprint(sides)
    assert faces_fingerprint(sides) == before == faces_fingerprint([aligned_faces / "data/alignments" / s
                                                                    for s in ("target", "source")])
    shard = next((copy / "source").glob("*.tar"))
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x01")  # one byte of one face
    assert faces_fingerprint(sides) != before


def test_the_experiment_opens_on_training_runs_and_runs_are_named_after_their_attempt(tmp_path, monkeypatch):
    from faceswap.train import tracking

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("ATTEMPT", raising=False)
    monkeypatch.setenv("DVC_EXP_NAME", "wider-decoder")
    tracking.setup()
    with tracking.start_run(None) as run:
        run_id = run.info.run_id
    monkeypatch.delenv("DVC_EXP_NAME")
    with tracking.start_run(None) as plain:  # no DVC experiment, no EC2 attempt: time and commit ("nogit" here)
        plain_name = plain.info.run_name
    client = mlflow.MlflowClient(tracking_uri="sqlite:///mlflow.db")
    experiment = client.get_experiment_by_name("faceswap")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert client.get_run(run_id).info.run_name == "wider-decoder"
    assert re.fullmatch(r"\d{8}-\d{6}-nogit", plain_name)
    with tracking.start_run(run_id) as resumed:  # a resumed attempt keeps its name
        assert resumed.info.run_name == "wider-decoder"


def test_preview_tiles_are_at_least_128_px(aligned_faces):
    from faceswap.train.loop import preview_grid

    faces = {}
    for side in ("target", "source"):
        side_faces, _, landmarks = all_faces(aligned_faces / "data/alignments" / side, 64)
        faces[side] = side_faces[:2], landmarks[:2]
    grid = preview_grid(build_autoencoder("light"), faces["target"], faces["source"])
    assert grid.shape == (4 * 128, 3 * 128, 3) and grid.dtype == np.uint8


def test_the_squared_pixel_error_and_a_window_that_grows_with_the_face():
    from faceswap.train.losses import window_size

    face = np.full((1, 16, 16, 3), 0.5, np.float32)
    assert loss(packed(face), face + 0.1, ssim_weight=0.0, pixel_loss="mse") == pytest.approx(0.01, rel=1e-3)
    assert loss(packed(face), face + 0.1, ssim_weight=0.0, pixel_loss="l1") == pytest.approx(0.1, rel=1e-3)
    assert [window_size(size) for size in (32, 64, 128, 256)] == [3, 5, 11, 23]


def test_the_learning_rate_warms_up_then_falls_to_a_tenth_along_a_cosine():
    from faceswap.train.schedule import WarmupCosine, warp_until

    schedule = WarmupCosine(1e-3, warmup_steps=10, total_steps=110)
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 4, 9, 60, 110, 500)]
    assert rates == pytest.approx([1e-4, 5e-4, 1e-3, 0.55e-3, 1e-4, 1e-4], rel=1e-4)
    constant = WarmupCosine(1e-3, warmup_steps=10, total_steps=110, cosine=False)
    assert float(keras.ops.convert_to_numpy(constant(500))) == pytest.approx(1e-3)
    restored = keras.optimizers.Adam(schedule).get_config()["learning_rate"]
    assert keras.saving.deserialize_keras_object(restored).get_config() == schedule.get_config()
    assert warp_until(1000, 0.2) == 800 and warp_until(1000, 0.0) == 1000


def test_the_feeder_stops_warping_from_the_step_the_schedule_says(aligned_faces):
    """Without the warp the input is the target face under colour jitter only; with it, the face moves."""
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}

    def unexplained(inputs, targets):  # what a per-channel contrast and brightness cannot explain
        faces = targets[..., :3].reshape(len(targets), -1, 3)
        flat = inputs.reshape(len(inputs), -1, 3)
        residual = []
        for x, y in zip(faces, flat):
            for c in range(3):
                fit = np.polyval(np.polyfit(x[:, c], y[:, c], 1), x[:, c])
                residual.append(np.abs(fit - y[:, c]).mean())
        return max(residual)

    with BatchFeeder(data, 2, seed=0, first_step=8, warp_until=9) as feeder:
        batches = feeder.batches()
        warped, plain = next(batches), next(batches)
    assert unexplained(warped[0][0], warped[1][0]) > 0.02
    assert unexplained(plain[0][0], plain[1][0]) < 0.01  # the jitter clipped at 0 and 1 leaves a little


def saved_light(tmp_path, seed):
    keras.utils.set_random_seed(seed)
    model = build_autoencoder("light")
    model.save(tmp_path / f"light-{seed}.keras")
    return model


@pytest.mark.parametrize("parts", ["all", "encoder_and_source"])
def test_a_warm_start_takes_the_weights_of_the_parts_asked_for(tmp_path, parts):
    from faceswap.train.warm_start import describe, warm_start

    donor = saved_light(tmp_path, 1)
    keras.utils.set_random_seed(2)
    model = compiled()
    fresh = {part: model.get_layer(part).get_weights() for part in ("encoder", "decoder_target", "decoder_source")}
    init = describe(str(tmp_path / "light-1.keras"), parts)
    assert init["parts"] == parts and len(init["digest"]) == 16
    warm_start(model, init)
    taken = {"encoder", "decoder_source"} | ({"decoder_target"} if parts == "all" else set())
    for part in fresh:
        expected = donor.get_layer(part).get_weights() if part in taken else fresh[part]
        for mine, other in zip(model.get_layer(part).get_weights(), expected, strict=True):
            np.testing.assert_array_equal(mine, other)


def test_a_warm_start_from_a_checkpoint_folder_and_refusals_in_one_line(tmp_path, aligned_faces):
    from faceswap.core.cli import UserError
    from faceswap.train.warm_start import describe, warm_start

    checkpoints = Checkpoints(tmp_path / "checkpoints")
    trained = compiled()
    checkpoints.save(trained, {"step": 3, "attempt": {"architecture": "light"}})
    (folder,) = (tmp_path / "checkpoints").iterdir()
    model = compiled()
    warm_start(model, describe(str(folder), "all"))
    for mine, other in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, other)

    other_architecture = build_autoencoder("ud128")
    with pytest.raises(UserError, match=r"is a 'light' model, which does not fit model.architecture 'ud128'"):
        warm_start(other_architecture, describe(str(folder), "encoder_and_source"))
    with pytest.raises(UserError, match=r"'model.init_from' is 'nowhere.keras', which does not exist"):
        describe("nowhere.keras", "all")
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    with pytest.raises(UserError, match=r"broken.keras: not a readable Keras model"):
        warm_start(model, describe(str(tmp_path / "broken.keras"), "all"))


def test_the_exported_model_is_the_weights_moving_average_and_a_checkpoint_keeps_it(aligned_faces, tmp_path,
                                                                                     monkeypatch):
    """With model.ema_momentum the export holds the optimizer's average of the weights, not the last step's, and
    an attempt resumed from a checkpoint goes on averaging from where it stood."""
    from faceswap.core import params
    from stages import model as model_stage

    p = SimpleNamespace(**{**vars(params.load("model", REPO / "params.yaml")), "architecture": "light",
                           "ema_momentum": 0.9, "steps": 4, "log_every": 4, "batch_size": 2})
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    autoencoder = model_stage.build_compiled(p, None)
    with BatchFeeder(data, 2, seed=0) as feeder:
        train(autoencoder, feeder, 0, p, lambda *_: checkpoints.save(autoencoder, {"step": 4, "attempt": {}}))
    raw = [np.array(v) for v in autoencoder.trainable_variables]
    averages = [np.array(v) for v in autoencoder.optimizer._model_variables_moving_average]

    resumed = model_stage.build_compiled(p, None)
    checkpoints.restore(resumed, {})
    for mine, theirs in zip(resumed.optimizer._model_variables_moving_average, averages, strict=True):
        np.testing.assert_array_equal(np.array(mine), theirs)

    monkeypatch.chdir(tmp_path)
    run = SimpleNamespace(info=SimpleNamespace(run_id="r", experiment_id="0"))
    model_stage.export(SimpleNamespace(p=p, autoencoder=autoencoder, statistics=None), run)
    exported = keras.saving.load_model(tmp_path / "models/faceswap.keras", compile=False)
    weights = [np.array(v) for v in exported.trainable_variables]
    assert len(weights) == len(averages)
    for mine, average in zip(weights, averages, strict=True):
        np.testing.assert_allclose(mine, average, rtol=1e-6)
    assert any(not np.allclose(a, r) for a, r in zip(averages, raw, strict=True))
