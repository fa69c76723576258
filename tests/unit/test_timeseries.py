"""A face over time: runs, short gaps filled, edges and long gaps left alone, smoothing, and the one jitter."""

import numpy as np
import pytest

from faceswap.faces.timeseries import interpolate_gaps, jitter, moving_average, runs, smooth


def moving_points(frames: int, noise: float = 0.0) -> np.ndarray:
    """Three points moving at a constant 2 px a frame, with optional Gaussian noise."""
    rng = np.random.default_rng(0)
    base = np.array([[10.0, 20.0], [30.0, 20.0], [20.0, 40.0]])
    points = base[None] + np.arange(frames)[:, None, None] * np.array([2.0, 1.0])
    return points + rng.normal(0, noise, points.shape)


def test_runs_split_at_gaps():
    assert runs(np.array([1, 1, 0, 1, 0, 0, 1], bool)) == [range(0, 2), range(3, 4), range(6, 7)]
    assert runs([True, True, False, True, False, False, True]) == [range(0, 2), range(3, 4), range(6, 7)]
    assert runs(np.zeros(3, bool)) == []


def test_jitter_is_the_mean_acceleration_and_none_without_three_frames_in_a_run():
    points = np.zeros((5, 1, 2))
    points[2, 0] = [3.0, 4.0]  # one frame 5 px off a still point: accelerations 5, 10, 5 px
    assert jitter(points) == pytest.approx(20 / 3, abs=1e-3)
    assert jitter(moving_points(2)) is None
    gappy = moving_points(6)
    gappy[[1, 4]] = np.nan  # no frame has a face on both sides
    assert jitter(gappy) is None
    assert jitter(np.zeros((0, 5, 2))) is None


def test_moving_average_stays_within_runs():
    series = np.array([[0.0], [0.0], [np.nan], [9.0], [3.0]])
    averaged = moving_average(series, 1)
    np.testing.assert_allclose(averaged[[0, 1, 3, 4]], [[0.0], [0.0], [6.0], [6.0]])
    assert np.isnan(averaged[2]).all()
    np.testing.assert_array_equal(moving_average(series, 0), series)


def test_short_inner_gap_is_interpolated_exactly_for_linear_motion():
    truth = moving_points(20)
    points = truth.copy()
    points[5:9] = np.nan
    assert interpolate_gaps(points, max_gap=4) == [5, 6, 7, 8]
    np.testing.assert_allclose(points, truth)


@pytest.mark.parametrize("gap", [slice(0, 3), slice(17, 20), slice(5, 11)])
def test_edge_and_long_gaps_stay_missing(gap):
    points = moving_points(20)
    points[gap] = np.nan
    assert interpolate_gaps(points, max_gap=5) == []
    assert np.isnan(points[gap]).all()


def test_smoothing_lowers_jitter_and_keeps_real_motion():
    truth = moving_points(60)
    noisy = moving_points(60, noise=1.0)
    smoothed = smooth(noisy, 7)
    assert jitter(truth) == pytest.approx(0, abs=1e-9)
    assert jitter(smoothed) < 0.5 * jitter(noisy)
    assert np.abs(smoothed - truth).mean() < np.abs(noisy - truth).mean()
    np.testing.assert_allclose(smooth(truth, 7), truth, atol=1e-9)  # a quadratic fit follows steady motion


def test_smoothing_off_and_runs_shorter_than_the_window():
    noisy = moving_points(30, noise=1.0)
    np.testing.assert_array_equal(smooth(noisy, 0), noisy)
    noisy[4] = np.nan  # a 4-frame run before the gap is shorter than the window: kept as it is
    smoothed = smooth(noisy, 7)
    np.testing.assert_array_equal(smoothed[:4], noisy[:4])
    assert not np.allclose(smoothed[5:], noisy[5:])


@pytest.mark.parametrize("window", [3, 5, 9])
def test_smoothing_is_scipys_savitzky_golay_within_each_run(window):
    from scipy.signal import savgol_filter  # the reference implementation the stage no longer imports (0.7 s)

    points = moving_points(40, noise=1.0)
    points[12:15] = np.nan
    expected = points.copy()
    for start, stop in ((0, 12), (15, 40)):
        expected[start:stop] = savgol_filter(points[start:stop], window, 2, axis=0, mode="interp")
    np.testing.assert_allclose(smooth(points, window), expected, atol=1e-9)


def test_nothing_reaches_across_a_shot_cut():
    """Two shots of the same face, the second framed 60 px to the right from frame 20: runs split there, no gap
    is filled across it, and smoothing, averaging and jitter keep each shot to itself."""
    shots = [0] * 20 + [1] * 20
    points = moving_points(40, noise=1.0)
    points[20:] += 60.0
    assert runs(np.ones(40, bool), shots) == [range(0, 20), range(20, 40)]
    assert runs([1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]) == [range(0, 2), range(3, 4), range(4, 6)]

    np.testing.assert_allclose(smooth(points, 5, shots)[:20], smooth(points[:20], 5), atol=1e-9)
    np.testing.assert_allclose(smooth(points, 5, shots)[20:], smooth(points[20:], 5), atol=1e-9)
    np.testing.assert_allclose(moving_average(points, 2, shots)[19], points[17:20].mean(0), atol=1e-9)
    np.testing.assert_allclose(moving_average(points, 2, shots)[20], points[20:23].mean(0), atol=1e-9)
    assert jitter(points, shots) < 5 < jitter(points)  # the cut's jump is no shake

    gappy = points.copy()
    gappy[18:22] = np.nan
    assert interpolate_gaps(gappy, max_gap=6, shots=shots) == []
    assert np.isnan(gappy[18:22]).all()
    assert interpolate_gaps(gappy, max_gap=6) == [18, 19, 20, 21]  # with no cut known, the same gap is filled
