"""What a face is doing, read off its landmarks (faces.expression), and the models that are told it
(model.expression_input): the features ignore where the face is and which way round, follow the mouth and the
eyes, and a decoder given them draws what they say."""

import keras
import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.faces.expression import (
    EXPRESSION,
    FEATURES,
    MIRRORED,
    expression_features,
    eye_openness,
    face_features,
    mouth_openness,
    pose_in_crop,
)
from faceswap.media.imageset import read_index
from faceswap.train.feeder import BatchFeeder
from faceswap.train.networks import FaceSwap, build_autoencoder, expression_statistics, takes_expressions
from faceswap.train.regions import aligned_landmarks
from faceswap.train.stream import TrainingFaces
from faceswap.train.warm_start import warm_start
from tests.helpers import all_faces


def test_openness_of_open_and_closed_eyes_and_mouth():
    """An eye 10 px wide with lids 3 px apart, and one shut; a mouth 20 px wide open 8 px, and one shut."""
    points = np.zeros((68, 2))
    for start, x in ((36, 0.0), (42, 30.0)):  # outer corner, two top, inner corner, two bottom
        points[start:start + 6] = [[x, 0], [x + 3, -1.5], [x + 7, -1.5], [x + 10, 0], [x + 7, 1.5], [x + 3, 1.5]]
    points[60:68] = [[0, 40], [5, 36], [10, 36], [15, 36], [20, 40], [15, 44], [10, 44], [5, 44]]
    assert eye_openness(points) == pytest.approx(0.3) and mouth_openness(points) == pytest.approx(0.4)
    points[[37, 38, 43, 44, 40, 41, 46, 47], 1] = 0
    points[61:64, 1] = points[65:68, 1] = 40
    assert eye_openness(points) == 0 and mouth_openness(points) == 0


def landmarks(aligned_faces, side: str) -> list[np.ndarray]:
    return [np.asarray(record["landmarks_68"]) for record in read_index(aligned_faces / "data/alignments" / side)]


def test_the_features_do_not_change_when_the_face_is_moved_scaled_turned_or_mirrored(aligned_faces):
    """As training's augmentation moves and flips a face: the same features. The source's second face is its
    first one's photograph mirrored, its landmarks found by dlib again."""
    original, mirrored = landmarks(aligned_faces, "source")
    features = expression_features(original)
    assert features.shape == (len(EXPRESSION),) and features.dtype == np.float32
    angle = np.radians(25)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(expression_features(original @ turn.T * 1.7 + (40, -12)), features, atol=1e-5)
    np.testing.assert_allclose(expression_features(mirrored), features, rtol=0.03, atol=0.03)  # dlib found again


def test_an_opened_mouth_and_closed_eyes_show_in_their_features_only(aligned_faces):
    points = landmarks(aligned_faces, "target")[0]
    feature = {name: i for i, name in enumerate(EXPRESSION)}
    eye_distance = np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0))
    opened = points.copy()
    opened[[5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.3 * eye_distance  # jaw and lower lip
    before, after = expression_features(points), expression_features(opened)
    for name in ("mouth_openness", "lips_apart", "jaw_drop"):
        assert after[feature[name]] > before[feature[name]] + 0.1
    for name in ("eye_openness", "brow_raise", "mouth_width"):
        assert after[feature[name]] == pytest.approx(before[feature[name]], abs=1e-6)
    shut = points.copy()
    for eye in (range(36, 42), range(42, 48)):
        shut[list(eye), 1] = points[list(eye), 1].mean()
    assert expression_features(shut)[feature["eye_openness"]] < 0.2 * before[feature["eye_openness"]]
    assert face_features([], 64).shape == (0, len(FEATURES))


def test_a_decoder_told_the_expression_learns_to_draw_what_it_says(tmp_path):
    """Every input face the same grey: only the expression says how bright each face to draw is. The model with
    expression inputs learns it, standardising each side's expressions by that side's statistics; saved and
    loaded, it draws the same."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    told = {side: rng.normal(3.0, 2.0, (16, len(FEATURES))).astype(np.float32) for side in ("target", "source")}
    model = build_autoencoder("light", expression_statistics(told))
    assert takes_expressions(model) and not takes_expressions(build_autoencoder("light"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")  # 2e-3 saturated the sigmoid on 2 of 4 seeds
    grey = np.full((16, 64, 64, 3), 0.5, np.float32)
    wanted = {side: np.broadcast_to((1 / (1 + np.exp(-(values[:, :1] - 3) / 2)))[:, :, None, None], grey.shape)
              for side, values in told.items()}
    for _ in range(120):
        model.train_on_batch([grey, grey, told["target"], told["source"]], [wanted["target"], wanted["source"]])
    drawn = FaceSwap(model, "source", "source").predict(grey, told["source"]).mean(axis=(1, 2, 3))
    assert np.corrcoef(drawn, wanted["source"].mean(axis=(1, 2, 3)))[0, 1] > 0.9
    model.save(tmp_path / "told.keras")
    loaded = keras.saving.load_model(tmp_path / "told.keras", compile=False)
    np.testing.assert_allclose(FaceSwap(loaded, "source", "target").predict(grey, told["target"]),
                               FaceSwap(model, "source", "target").predict(grey, told["target"]), atol=1e-5)


def test_a_warm_start_across_expression_input_stops_naming_both_models(tmp_path):
    build_autoencoder("light").save(tmp_path / "plain.keras")
    told = {side: np.ones((2, len(FEATURES)), np.float32) for side in ("target", "source")}
    with pytest.raises(UserError, match=r"is a 'light' model, which does not fit model.architecture "
                                        r"'light with expression_input'"):
        warm_start(build_autoencoder("light", expression_statistics(told)),
                   {"file": str(tmp_path / "plain.keras"), "parts": "all"})


def test_the_pose_in_the_crop_follows_a_turn_a_shift_and_a_mirror(aligned_faces):
    """Roll in radians, the turn, the eyes' middle from the crop's centre and their distance in crop sides; a
    mirrored face (relabelled as dlib finds it) turns and tilts the other way."""
    record = read_index(aligned_faces / "data/alignments/target")[0]
    points = aligned_landmarks({**record, "aligned_size": 64}, 64)  # the fixture's faces are 64 px
    roll, yaw, x, y, distance = pose_in_crop(points, 64)
    centre = np.array([31.5, 31.5])
    angle = np.radians(10)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = pose_in_crop((points - centre) @ turn.T + centre + (6.4, 0), 64)
    assert turned[0] == pytest.approx(roll + angle, abs=1e-5) and turned[1] == pytest.approx(yaw, abs=1e-5)
    assert turned[4] == pytest.approx(distance, abs=1e-6) and turned[2] > x + 0.05
    mirrored = (points * (-1, 1) + (63, 0))[MIRRORED]
    assert pose_in_crop(mirrored, 64)[:2] == pytest.approx([-roll, -yaw], abs=1e-5)
    features = face_features([points, mirrored], 64)
    np.testing.assert_allclose(features[0, :len(EXPRESSION)], features[1, :len(EXPRESSION)], atol=1e-5)


def test_the_feeder_tells_the_model_each_face_as_the_augmentation_moved_it(aligned_faces):
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    with BatchFeeder(data, 8, seed=0, expressions=True) as feeder:
        (target_in, source_in, target_told, source_told), _ = next(feeder.batches())
    assert target_told.shape == source_told.shape == (8, len(FEATURES))
    still = face_features(data["target"].landmarks, 64)
    rolls = target_told[:, len(EXPRESSION)]
    assert np.ptp(rolls) > np.radians(2)  # moved by up to 10 degrees each; two faces only unmoved
    assert np.abs(target_told[:, None, 0] - still[None, :, 0]).min(axis=1).max() < 1e-3  # eyes: as they were


def test_each_side_is_standardised_by_its_own_statistics():
    """The source decoder is asked for the target's share of the source's own range: a target that always smiles
    5 units more than the source is standardised to the same values."""
    rng = np.random.default_rng(0)
    source = rng.normal(0, 1, (50, len(FEATURES))).astype(np.float32)
    statistics = expression_statistics({"target": source + 5, "source": source})
    (target_mean, target_variance), (source_mean, source_variance) = statistics["target"], statistics["source"]
    np.testing.assert_allclose(np.subtract(target_mean, source_mean), 5, atol=1e-4)
    np.testing.assert_allclose(target_variance, source_variance, rtol=1e-4)


def test_a_model_told_the_expression_resumes_from_its_checkpoint(aligned_faces, tmp_path):
    """As the model stage builds it with model.expression_input: trained a few steps on the feeder's batches,
    checkpointed, rebuilt and restored, it goes on from the same weights, optimizer and statistics."""
    from types import SimpleNamespace

    from faceswap.core import params
    from faceswap.train.checkpoints import Checkpoints
    from faceswap.train.loop import train
    from stages import model as model_stage
    from tests.helpers import REPO

    p = SimpleNamespace(**{**vars(params.load("model", REPO / "params.yaml")), "expression_input": True,
                           "steps": 3, "log_every": 3, "batch_size": 2})
    data = {side: TrainingFaces(aligned_faces / "data/alignments" / side, 64) for side in ("target", "source")}
    statistics = expression_statistics({side: face_features(data[side].landmarks, 64) for side in data})
    autoencoder, checkpoints = model_stage.build_compiled(p, statistics), Checkpoints(tmp_path / "checkpoints")
    with BatchFeeder(data, 2, seed=0, expressions=True) as feeder:
        train(autoencoder, feeder, 0, p, lambda *_: checkpoints.save(autoencoder, {"step": 3, "attempt": {}}))
    resumed = model_stage.build_compiled(p, statistics)
    assert checkpoints.restore(resumed, {})["step"] == 3
    faces, _, points = all_faces(aligned_faces / "data/alignments/target", 64)
    told = face_features(points, 64)
    np.testing.assert_allclose(FaceSwap(resumed).predict(faces / 255.0, told),
                               FaceSwap(autoencoder).predict(faces / 255.0, told), atol=1e-6)
    assert int(resumed.optimizer.iterations) == 3
