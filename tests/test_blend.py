"""Putting a face back: the mask decides what changes, nothing outside it moves."""

import numpy as np

from stages.lib.blend import face_mask, match_colour, paste


def test_paste_changes_only_inside_the_mask():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    face = np.full((64, 64, 3), 200.0, np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    transform = np.array([[1.0, 0, -40], [0, 1.0, -30]])  # the aligned face sits at (40, 30) in the frame
    out = paste(frame, face, mask, transform)
    np.testing.assert_array_equal(out[30 + 16:30 + 48, 40 + 16:40 + 48], 200)
    outside = np.ones(frame.shape[:2], bool)
    outside[30 + 15:30 + 49, 40 + 15:40 + 49] = False
    np.testing.assert_array_equal(out[outside], frame[outside])


def test_empty_mask_leaves_frame_unchanged():
    frame = np.full((50, 50, 3), 7, np.uint8)
    out = paste(frame, np.zeros((32, 32, 3), np.float32), np.zeros((32, 32), np.float32), np.eye(2, 3))
    np.testing.assert_array_equal(out, frame)


def test_mask_is_feathered_inside_the_hull():
    landmarks = np.array([[10, 10], [54, 10], [54, 54], [10, 54]] * 17, np.float64)
    sharp = face_mask(landmarks, np.eye(2, 3), 64, feather=0)
    soft = face_mask(landmarks, np.eye(2, 3), 64, feather=4)
    assert sharp[32, 32] == 1 and sharp[5, 5] == 0
    assert soft[32, 32] > 0.99 and 0 < soft[12, 32] < 1
    assert soft.sum() < sharp.sum()


def test_match_colour_moves_the_mean_inside_the_mask():
    face = np.full((8, 8, 3), 100.0)
    reference = np.full((8, 8, 3), 140.0)
    mask = np.ones((8, 8), np.float32)
    np.testing.assert_allclose(match_colour(face, reference, mask), 140.0)
