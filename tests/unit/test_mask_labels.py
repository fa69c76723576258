"""Mask labels: written and read back checked, refused with one line when malformed, rasterised into the
aligned face with occluders cut out of the visible face."""

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.faces.mask_labels import read_mask_labels, visible_face, write_mask_labels

HAND = [[10, 10], [30, 10], [30, 30], [10, 30]]


def test_labels_round_trip_one_frame_a_line(tmp_path):
    path = tmp_path / "labels" / "target.json"
    assert read_mask_labels(path) == {}
    write_mask_labels(path, {"target_000002": {"occluders": [HAND]}, "target_000001": {"face": [], "occluders": []}})
    labels = read_mask_labels(path)
    assert labels == {"target_000001": {"occluders": [], "face": []},
                      "target_000002": {"occluders": [[[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]]],
                                        "face": []}}
    assert len(path.read_text().splitlines()) == 4


@pytest.mark.parametrize("frames, complaint", [
    ({"../etc": {"occluders": []}}, "not a frame key"),
    ({"target_000001": {"occluders": [[[0, 0], [1, 1]]]}}, "3 to"),
    ({"target_000001": {"occluders": [[[0, 0], [1, "x"], [2, 2]]]}}, "3 to"),
    ({"target_000001": {"occluders": [[[0, 0], [1, float("nan")], [2, 2]]]}}, "finite"),
    ({"target_000001": {"hands": []}}, "'occluders' and/or 'face'"),
])
def test_malformed_labels_are_refused_and_nothing_is_written(tmp_path, frames, complaint):
    path = tmp_path / "target.json"
    with pytest.raises(UserError, match=complaint):
        write_mask_labels(path, frames)
    assert not path.exists()


def test_occluders_are_cut_out_of_the_hull_in_aligned_pixels():
    hull = np.full((64, 64), 255, np.uint8)
    half = np.array([[0.5, 0, 0], [0, 0.5, 0]])  # frame pixels to an aligned face at half the scale
    mask = visible_face({"occluders": [HAND], "face": []}, half, 64, hull)
    assert mask[10, 10] == 0 and mask[40, 40] == 255  # the hand covers aligned pixels 5..15
    only_face = visible_face({"occluders": [], "face": [HAND]}, half, 64, hull)
    assert only_face[10, 10] == 255 and only_face[40, 40] == 0
