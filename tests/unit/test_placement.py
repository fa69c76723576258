"""Placement smoothing: shake goes down, steady motion is kept, gaps are never bridged."""

import numpy as np

from faceswap.convert.placement import placement_series, smooth_transforms
from faceswap.faces.timeseries import jitter
from faceswap.train.holdout import held_out_keys


def shift(x, y, scale=1.0):
    return np.array([[scale, 0, x], [0, scale, y]])


def test_smoothing_reduces_shake_and_keeps_steady_motion():
    rng = np.random.default_rng(0)
    steady = [shift(2.0 * t, 1.0 * t) for t in range(40)]
    shaky = [shift(2.0 * t + rng.normal(0, 1.5), 1.0 * t + rng.normal(0, 1.5)) for t in range(40)]
    def shake(transforms):
        return jitter(placement_series(transforms, 64, 0.1))

    assert shake(steady) < 1e-9
    assert shake(smooth_transforms(shaky, 3)) < 0.3 * shake(shaky)
    middle = smooth_transforms(steady, 3)[20]
    np.testing.assert_allclose(middle, steady[20], atol=1e-9)  # linear motion is its own average


def test_smoothing_does_not_cross_a_gap():
    transforms = [shift(0, 0)] * 5 + [None] + [shift(100, 0)] * 5
    smoothed = smooth_transforms(transforms, 4)
    assert smoothed[5] is None
    np.testing.assert_allclose(smoothed[4], shift(0, 0))
    np.testing.assert_allclose(smoothed[6], shift(100, 0))


def test_window_zero_is_off():
    transforms = [shift(t % 2, 0) for t in range(5)]
    assert all(a is b for a, b in zip(smooth_transforms(transforms, 0), transforms))


def test_held_out_keys_are_stable_and_few():
    keys = [f"video_{i:06d}_0" for i in range(200)]
    held = held_out_keys(keys)
    assert len(held) == 10 and held == held_out_keys(list(reversed(keys)))
    assert len(held_out_keys(keys[:10])) == 1 and not held_out_keys(keys[:9])


def test_placement_is_not_averaged_across_a_shot_cut():
    transforms = [shift(0.0, 0.0)] * 10 + [shift(200.0, 50.0, 1.5)] * 10
    smoothed = smooth_transforms(transforms, 3, shots=[0] * 10 + [1] * 10)
    assert all(np.allclose(s, t) for s, t in zip(smoothed, transforms, strict=True))
    assert not np.allclose(smooth_transforms(transforms, 3)[9], transforms[9])  # without the cut it would blend
