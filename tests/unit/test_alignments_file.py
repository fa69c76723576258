"""The alignments file: every frame present, written as faces stream in, readable with json alone, and read back
through the one reader that checks its schema and version."""

import json

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.faces.alignments_file import (
    alignments_document,
    coverage,
    first_faces,
    frame_shots,
    missing_stretches,
    read_alignments,
    timeline,
    write_alignments,
)

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
    assert written["aligned_size"] == 64 and written["version"] == 3
    assert [f["shot"] for f in frames] == [0, 0, 0, 0]  # no cuts given: one shot

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


def test_the_reader_returns_what_was_written_and_each_frames_first_face(tmp_path):
    path = tmp_path / "alignments/target/alignments.json"
    path.parent.mkdir(parents=True)
    settings = {"aligned_size": 64, "padding": 0.1}
    write_alignments(path, alignments_document("target", VIDEOS, iter([face("a", 1), face("a", 1, 1)]), settings))
    document = read_alignments(path)
    assert document["side"] == "target" and document["aligned_size"] == 64
    faces = first_faces(document, "a")
    assert [f and f["key"] for f in faces] == [None, "a_000001_0", None, None]


@pytest.mark.parametrize("content, complaint", [
    (None, "not found"),
    ("{not json", "not valid JSON"),
    ('{"schema": "something/else", "version": 2}', "not an alignments file"),
    ('{"schema": "faceswap-pipeline/alignments", "version": 1, "videos": {}}', "alignments version 1"),
    ('{"schema": "faceswap-pipeline/alignments", "version": 4, "videos": {}}', "alignments version 4"),
    ('{"schema": "faceswap-pipeline/alignments", "version": 3, "videos": {}}', "lacks side, aligned_size, padding"),
])
def test_the_reader_refuses_other_files_with_one_line_saying_how_to_remake_them(tmp_path, content, complaint):
    path = tmp_path / "alignments/target/alignments.json"
    path.parent.mkdir(parents=True)
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError, match=complaint) as error:
        read_alignments(path)
    assert "dvc repro -f alignments@target" in str(error.value) and "\n" not in str(error.value)


def test_shots_are_recorded_per_frame_and_a_version_2_file_reads_as_one_shot(tmp_path):
    path = tmp_path / "alignments/target/alignments.json"
    path.parent.mkdir(parents=True)
    settings = {"aligned_size": 64, "padding": 0.1}
    write_alignments(path, alignments_document("target", VIDEOS, iter([face("a", 1)]), settings,
                                               shots={"a": [0, 0, 1, 1], "b": [0, 1, 2]}))
    document = read_alignments(path)
    assert frame_shots(document, "a") == [0, 0, 1, 1] and frame_shots(document, "b") == [0, 1, 2]

    old = json.loads(path.read_text())
    old["version"] = 2
    for video in old["videos"].values():
        for frame in video["frames"]:
            del frame["shot"]
    path.write_text(json.dumps(old))
    assert frame_shots(read_alignments(path), "a") == [0, 0, 0, 0]


def damage_document(change):
    def befall(path):
        document = json.loads(path.read_text())
        change(document, document["videos"]["a"])
        path.write_text(json.dumps(document))
    return befall


DAMAGES = {  # what befalls a written file, and what the error says of it
    "cut short": (lambda path: path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2]),
                  "not valid JSON, cut short?"),
    "not UTF-8": (lambda path: path.write_bytes(path.read_bytes().replace(b'"side"', b'"s\xffde"')), "not UTF-8"),
    "nested deep": (lambda path: path.write_bytes(b"[" * 100_000 + b"]" * 100_000), "nested too deep"),
    "videos a list": (damage_document(lambda d, a: d.update(videos=[])), "videos is not an object"),
    "frame out of range": (damage_document(lambda d, a: a["frames"][1].update(frame=7)),
                           "video 'a', frame 1: not the record of frame 1 (frames out of place or out of range)"),
    "frame lost": (damage_document(lambda d, a: a["frames"].pop()), "video 'a': frames is not a list of its 4"),
    "rate 0/1": (damage_document(lambda d, a: a.update(rate="0/1")), "video 'a': rate '0/1' is not a positive"),
    "size 0": (damage_document(lambda d, a: a.update(width=0)), "video 'a': width, height and frame_count are not"),
    "status unknown": (damage_document(lambda d, a: a["frames"][0].update(status="found")), "no known status"),
    "shot lost": (damage_document(lambda d, a: a["frames"][2].pop("shot")), "frame 2: shot is not a whole number"),
    "transform lost": (damage_document(lambda d, a: a["frames"][1]["faces"][0].pop("transform")),
                       "video 'a', frame 1: a face lacks a box of 4 numbers, 68 landmarks or a 2x3 transform"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_file_is_one_error_saying_how_to_get_it_back(tmp_path, damage):
    path = tmp_path / "alignments/target/alignments.json"
    path.parent.mkdir(parents=True)
    write_alignments(path, alignments_document("target", VIDEOS, iter([face("a", 1), face("b", 2)]),
                                               {"aligned_size": 64, "padding": 0.1}))
    read_alignments(path)
    befall, complaint = DAMAGES[damage]
    befall(path)
    with pytest.raises(UserError) as error:
        read_alignments(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and complaint in message and "\n" not in message
    assert message.endswith(f"restore it with `dvc checkout {path.parent}`, or write it anew with "
                            "`dvc repro -f alignments@target`")
