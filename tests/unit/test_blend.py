"""Putting a face back: the mask decides what changes, colours follow the target, nothing outside moves."""

import cv2
import numpy as np
import pytest

from faceswap.convert.blend import face_mask, match_colour, paste


def square_face():
    """68 points on a square (x 10..54, y 20..58) with the chin (8) at the bottom and the brows (17-26) on top."""
    points = np.array([[10, 20], [54, 20], [54, 58], [10, 58]] * 17, np.float64)
    points[8] = [32, 58]
    points[17:27] = np.stack([np.linspace(12, 52, 10), np.full(10, 20.0)], 1)
    return points


SQUARE = square_face()


def frame_and_face():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    face = np.full((64, 64, 3), 200.0, np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    transform = np.array([[1.0, 0, -40], [0, 1.0, -30]])  # the aligned face sits at (40, 30) in the frame
    return frame, face, mask, transform


@pytest.mark.parametrize("mode", ["alpha", "poisson"])
def test_paste_changes_only_inside_the_mask(mode):
    frame, face, mask, transform = frame_and_face()
    out = paste(frame, face, mask, transform, mode)
    outside = np.ones(frame.shape[:2], bool)
    outside[30 + 15:30 + 49, 40 + 15:40 + 49] = False
    np.testing.assert_array_equal(out[outside], frame[outside])
    inside = out[30 + 20:30 + 44, 40 + 20:40 + 44].astype(int)
    assert np.abs(inside - frame[30 + 20:30 + 44, 40 + 20:40 + 44]).mean() > 20


def test_alpha_puts_the_face_as_it_is():
    frame, face, mask, transform = frame_and_face()
    np.testing.assert_array_equal(paste(frame, face, mask, transform)[30 + 16:30 + 48, 40 + 16:40 + 48], 200)


def test_poisson_at_the_frame_edge_falls_back_to_alpha():
    frame, face, mask, _ = frame_and_face()
    at_corner = np.array([[1.0, 0, 16], [0, 1.0, 16]])  # the mask starts at the frame's first pixel
    np.testing.assert_array_equal(paste(frame, face, mask, at_corner, "poisson"), paste(frame, face, mask, at_corner))


def test_empty_mask_leaves_frame_unchanged():
    frame = np.full((50, 50, 3), 7, np.uint8)
    out = paste(frame, np.zeros((32, 32, 3), np.float32), np.zeros((32, 32), np.float32), np.eye(2, 3))
    np.testing.assert_array_equal(out, frame)


def test_mask_reaches_the_forehead_shrinks_and_feathers():
    plain = face_mask(SQUARE, 64, forehead=0, erode=0, feather=0)
    assert plain[40, 32] == 1 and plain[15, 32] == 0
    raised = face_mask(SQUARE, 64, forehead=0.2, erode=0, feather=0)
    assert raised[15, 32] == 1 and raised.sum() > plain.sum()
    soft = face_mask(SQUARE, 64, forehead=0, erode=4, feather=3)
    assert soft[40, 32] > 0.99 and 0 < soft[22, 32] < 1
    assert soft.sum() < plain.sum()


def test_soft_edge_stays_inside_the_face_outline():
    """Past the outline the generator paints the source's surroundings: the default mask hardly reaches there."""
    outline = face_mask(SQUARE, 64, forehead=0, erode=0, feather=0) > 0
    default = face_mask(SQUARE, 64, forehead=0, erode=3, feather=2)
    across = face_mask(SQUARE, 64, forehead=0, erode=0, feather=3)  # a blur centred on the outline
    assert default[~outline].max() < 0.1 < 0.4 < across[~outline].max()
    assert default[30:50, 20:44].min() > 0.99


def test_mask_loses_what_covers_the_face_before_its_edge_is_softened():
    visible = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(face_mask(SQUARE, 64, 0.2, 3, 2, visible), face_mask(SQUARE, 64, 0.2, 3, 2))
    visible[:, :32] = 0  # a hand over the left half of the face
    covered = face_mask(SQUARE, 64, 0.2, 3, 2, visible)
    assert covered[40, 20] < 0.01 and covered[40, 44] > 0.99 and 0.3 < covered[40, 32] < 0.7


@pytest.mark.parametrize("mode", ["lab", "histogram"])
def test_colour_matching_moves_the_face_to_the_reference(mode):
    rng = np.random.default_rng(3)
    face = rng.normal(100, 10, (32, 32, 3)).clip(0, 255)
    reference = rng.normal((150, 120, 90), 25, (32, 32, 3)).clip(0, 255).astype(np.uint8)
    mask = np.ones((32, 32), np.float32)
    matched = match_colour(face, reference, mask, mode)
    if mode == "lab":  # means and spreads match in L*a*b*, where the transfer works
        matched = cv2.cvtColor(matched.astype(np.uint8), cv2.COLOR_BGR2LAB).astype(np.float32)
        reference = cv2.cvtColor(reference, cv2.COLOR_BGR2LAB)
    np.testing.assert_allclose(matched.mean((0, 1)), reference.mean((0, 1)), atol=2)
    np.testing.assert_allclose(matched.std((0, 1)), reference.std((0, 1)), rtol=0.15)


def test_no_colour_matching_keeps_the_face():
    face = np.full((8, 8, 3), 100.0)
    np.testing.assert_array_equal(match_colour(face, np.zeros((8, 8, 3), np.uint8), np.ones((8, 8)), "none"), face)


def test_colour_correction_is_averaged_within_a_shot_and_starts_afresh_after_a_cut_or_a_gap():
    from faceswap.convert.swapper import ColourMemory

    rng = np.random.default_rng(0)
    noisy = [np.array([[1.0] * 3, [10.0] * 3]) + rng.normal(0, 2, (2, 3)) for _ in range(30)]
    memory, alone = ColourMemory(4), ColourMemory(0)
    smoothed = [memory.smooth(frame, 0, c) for frame, c in enumerate(noisy)]
    assert all(np.array_equal(alone.smooth(frame, 0, c), c) for frame, c in enumerate(noisy))
    def steps(series):
        return np.mean([np.abs(b - a).mean() for a, b in zip(series, series[1:])])
    assert steps(smoothed) < 0.6 * steps(noisy)  # the frame-to-frame change, i.e. flicker, goes down
    new_light = np.array([[2.0] * 3, [-40.0] * 3])
    np.testing.assert_array_equal(memory.smooth(30, 1, new_light), new_light)  # a cut: the new shot's light at once
    np.testing.assert_array_equal(memory.smooth(32, 1, noisy[0]), noisy[0])  # after a frame without a face too
