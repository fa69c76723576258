"""A value out of its range stops the stage that reads it before any work: exit 2, one ``error:`` line naming the
key, the value and the allowed range, and nothing written."""

import pytest

from tests.helpers import error_lines, run_stage, set_params

# (key, value, the range the message gives, the stage and side that read it)
OUT_OF_RANGE = [
    ("frames.fps", 0, "0 (excluded) to 1000", "frames", "source"),
    ("frames.fps", -3, "0 (excluded) to 1000", "frames", "source"),
    ("frames.fps", float("nan"), "0 (excluded) to 1000", "frames", "source"),  # NaN is in no range
    ("frames.jpeg_quality", 500, "1 to 100", "frames", "target"),
    ("crops.margin", -1, "0 to 10", "crops", "target"),
    ("crops.detect_scale", 2, "0 (excluded) to 1", "crops", "source"),
    ("crops.retry_angles", [15, 400], "-180 to 180", "crops", "target"),
    ("filtered.duplicate_bits", 99, "0 to 64", "filtered", "target"),  # a source-only key, checked on the target
    ("filtered.min_score", 1.5, "0 to 1", "filtered", "source"),
    ("filtered.identity_every", 0, "1 to 10000000", "filtered", "target"),
    ("alignments.size", 0, "16 to 1024", "alignments", "source"),
    ("alignments.smoothing_window", -1, "0 to 1001, odd or 0", "alignments", "target"),
    ("alignments.smoothing_window", 4, "0 to 1001, odd or 0", "alignments", "source"),
    ("mask.labelled_share", 1.5, "0 to 1", "mask", None),
    ("mask.size", 8, "16 to 512", "mask", None),
    ("model.steps", 0, "1 to 10000000", "model", None),
    ("model.log_every", 0, "1 to 10000000", "model", None),
    ("output.crf", 99, "0 to 51", "output", None),
    ("output.erode", 257, "0 to 256", "output", None),
]
OUTPUTS = {"frames": "data/frames", "crops": "data/crops", "filtered": "data/filtered",
           "alignments": "data/alignments", "mask": "models", "model": "models", "output": "data/output"}


@pytest.mark.parametrize("key, value, allowed, stage, side", OUT_OF_RANGE,
                         ids=[f"{key}={value}" for key, value, *_ in OUT_OF_RANGE])
def test_value_out_of_range_stops_the_stage(project, key, value, allowed, stage, side):
    section, name = key.split(".")
    set_params(project, {section: {name: value}})
    result = run_stage(stage, *(["--side", side] if side else []), check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_lines(result.stderr) == [f"error: params.yaml: '{key}' is {value!r}; allowed: {allowed}"]
    assert not (project / OUTPUTS[stage]).exists()
    assert not (project / "data/metrics").exists()
