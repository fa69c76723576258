"""The alignments file: every frame present, written as faces stream in, readable with json alone."""

import json

import numpy as np
import pytest

from faceswap.faces.alignments_file import alignments_document, coverage, missing_stretches, timeline, write_alignments

VIDEOS = {"a": {"sample_rate": "24/1", "width": 64, "height": 48, "frames": 4},
          "b": {"sample_rate": "30/1", "width": 64, "height": 48, "frames": 3}}


def face(video: str, frame: int, number: int = 0) -> dict:
    return {"key": f"{video}_{frame:06d}_{number}", "video": video, "frame": frame, "box": [1.0, 2.0, 30.0, 30.0],
            "score": 0.9, "identity_distance": 0.2, "landmarks_5": [[1.0, 1.0]] * 5,
            "landmarks_68": np.zeros((68, 2)), "transform": np.eye(2, 3)}


def test_frames_are_laid_out_as_faces_stream_in(tmp_path):
    faces = [face("a", 0), face("a", 0, 1), face("a", 3), face("b", 1)]
    taken = []
    document = alignments_document("source", VIDEOS, (taken.append(f) or f for f in faces), {"aligned_size": 64})
    assert taken == [faces[0]]  # only the first face is looked at before the file is written
    statuses = write_alignments(tmp_path / "alignments.json", document)
    assert taken == faces
    assert statuses == {"a": ["detected", "missing", "missing", "detected"], "b": ["missing", "detected", "missing"]}

    written = json.loads((tmp_path / "alignments.json").read_text())
    frames = written["videos"]["a"]["frames"]
    assert [f["frame"] for f in frames] == [0, 1, 2, 3] and written["videos"]["b"]["frame_count"] == 3
    assert [f["key"] for f in frames[0]["faces"]] == ["a_000000_0", "a_000000_1"]
    assert frames[0]["faces"][0]["source"] == "detected" and len(frames[0]["faces"][0]["landmarks_68"]) == 68
    assert written["aligned_size"] == 64 and written["version"] == 2

    assert missing_stretches(statuses) == [("a", 1, 2), ("b", 0, 0), ("b", 2, 2)]
    assert coverage(statuses) == {"frames": 7, "frames_detected": 3, "frames_recovered": 0, "frames_missing": 4,
                                  "coverage": round(3 / 7, 4), "longest_gap": 2}
    assert [row["status_code"] for row in timeline(statuses)] == [2, 0, 0, 2, 0, 2, 0]


@pytest.mark.parametrize("faces", [[face("a", 2), face("a", 1)],  # frames out of order
                                   [face("b", 0), face("a", 1)],  # videos out of order
                                   [face("a", 4)]])  # past the video's last frame
def test_faces_out_of_order_are_an_error_not_a_silent_loss(tmp_path, faces):
    document = alignments_document("source", VIDEOS, iter(faces), {})
    with pytest.raises(ValueError, match="out of order"):
        write_alignments(tmp_path / "alignments.json", document)
