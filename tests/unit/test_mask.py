"""The occlusion-aware mask's parts: the network's shapes, its loss, the training targets drawn from labels, the
held-out frames, the augmentation moving face and target together, and how the output's mask uses it."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest
from keras import ops

from faceswap.convert.blend import occluded_mask
from faceswap.mask.examples import held_out_frames, iou, load_examples
from faceswap.mask.network import build_segmenter, predict_visible, segmentation_loss
from faceswap.mask.training import augment_pairs, batch_indices
from faceswap.media.imageset import ShardWriter, encode_jpeg, encode_png

HAND = [[20, 20], [60, 20], [60, 60], [20, 60]]  # frame pixels


def test_segmenter_maps_faces_to_one_channel_masks_of_the_same_size():
    model = build_segmenter(32)
    masks = predict_visible(model, np.zeros((3, 32, 32, 3), np.uint8))
    assert masks.shape == (3, 32, 32) and masks.dtype == np.float32
    assert ((masks >= 0) & (masks <= 1)).all()


def test_loss_is_near_zero_for_the_true_mask_and_grows_with_a_missed_occluder():
    target = np.zeros((1, 16, 16, 1), np.float32)
    target[:, 4:12, 4:12] = 1
    perfect = np.clip(target, 0.001, 0.999)
    missed = perfect.copy()
    missed[:, 4:8, 4:8] = 0.001  # a quarter of the visible face called covered
    losses = [float(ops.convert_to_numpy(segmentation_loss(target, m))[0]) for m in (perfect, missed, 1 - perfect)]
    assert losses[0] < 0.01 < losses[1] < losses[2]


@pytest.fixture
def aligned_target(tmp_path):
    """Two aligned faces at 32 px of frames 1 and 2, their hulls a full square; transform: frame pixels halved."""
    folder = tmp_path / "aligned"
    transform = [[0.5, 0, 0], [0, 0.5, 0]]
    with ShardWriter(folder, "faces") as shards:
        for frame in (1, 2):
            face = np.full((32, 32, 3), 100 * frame, np.uint8)
            shards.add(f"target_{frame:06d}_0", {"jpg": encode_jpeg(face),
                                                 "mask.png": encode_png(np.full((32, 32), 255, np.uint8))},
                       {"frame_key": f"target_{frame:06d}", "transform": transform})
    return folder


def test_a_labelled_face_learns_the_hull_minus_its_occluders_an_unlabelled_one_its_hull(aligned_target):
    labels = {"target_000002": {"occluders": [HAND], "face": []}}
    examples = load_examples(aligned_target, labels, 16)  # drawn at 32 px, then resized to 16
    assert examples.frames == ["target_000001", "target_000002"]
    assert examples.faces.shape == (2, 16, 16, 3) and list(examples.labelled) == [False, True]
    assert (examples.targets[0] == 255).all() and (examples.hulls[1] == 255).all()
    covered = examples.targets[1] < 128
    assert covered[5:15, 5:15].all() and covered.sum() == pytest.approx(10 * 10, abs=15)  # 20..60 px of the frame
    assert list(examples.where({"target_000002"})) == [1]


def test_held_out_frames_are_occluded_ones_spread_over_time_and_one_is_always_left():
    labels = {f"target_{i:06d}": {"occluders": [HAND] if i < 100 else [], "face": []} for i in range(0, 200, 10)}
    assert held_out_frames(labels, 2) == ["target_000020", "target_000070"]
    one = {"target_000005": {"occluders": [HAND], "face": []}}
    assert held_out_frames(one, 3) == []


def test_iou_counts_inside_as_over_half():
    a = np.zeros((1, 4, 4), np.float32)
    a[0, :2] = 0.9
    b = np.zeros((1, 4, 4), np.uint8)
    b[0, 1:3] = 255
    assert iou(a, b) == pytest.approx(4 / 12)


def test_augmentation_moves_face_and_target_alike():
    rng = np.random.default_rng(0)
    square = np.zeros((8, 32, 32), np.uint8)
    square[:, 8:20, 10:26] = 255
    faces = np.repeat(square[..., None], 3, axis=-1)
    inputs, targets = augment_pairs(rng, faces, square)
    assert inputs.shape == (8, 32, 32, 3) and targets.shape == (8, 32, 32, 1)
    assert not np.allclose(targets[0], targets[1])  # each face moved its own way
    for face, target in zip(inputs, targets):
        assert iou(face.mean(-1), target[..., 0]) > 0.9


def test_batches_draw_the_labelled_share():
    rng = np.random.default_rng(0)
    chosen = batch_indices(rng, np.array([0, 1]), np.arange(2, 100), 10, 0.6)
    assert len(chosen) == 10 and (chosen < 2).sum() == 6
    assert len(batch_indices(rng, np.array([], np.int64), np.arange(5), 4, 0.6)) == 4


def test_output_mask_loses_what_covers_the_face_inside_the_hull_only():
    mask = np.full((8, 8), 0.8, np.float32)  # the output's mask, reaching above the hull (the forehead)
    hull = np.zeros((8, 8), np.float32)
    hull[4:] = 1
    visible = np.ones((8, 8), np.float32)
    visible[:, :4] = 0  # the segmenter: the left half is covered, also above the hull
    combined = occluded_mask(mask, hull, visible)
    assert np.allclose(combined[:4], 0.8)  # outside the hull: as it was
    assert np.allclose(combined[4:, :4], 0) and np.allclose(combined[4:, 4:], 0.8)

