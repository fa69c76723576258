"""The alignments file: every frame present, written as faces stream in, readable with json alone, and read back
through the one reader that checks its schema and version."""

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.core.json_stream import JsonStream
from faceswap.faces.alignments_file import (
    alignments_document,
    coverage,
    first_faces,
    missing_stretches,
    open_alignments,
    read_alignments,
    write_alignments,
)
from faceswap.faces.timeline_file import read_timeline, timeline, write_timeline

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
    frames_written = write_alignments(tmp_path / "alignments.json", document)
    statuses = frames_written.statuses
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
    rows = list(timeline(frames_written))
    assert [row["status_code"] for row in rows] == [2, 0, 0, 2, 0, 2, 0]
    assert [row["face"] for row in rows] == ["a_000000_0", None, None, "a_000003_0", None, "b_000001_0", None]
    write_timeline(tmp_path / "alignments-target-timeline.csv", rows)
    assert read_timeline(tmp_path / "alignments-target-timeline.csv") == frames_written


def test_a_timeline_of_an_older_version_says_how_to_write_it_anew(tmp_path):
    path = tmp_path / "alignments-target-timeline.csv"
    path.write_text("position,video,frame,status,status_code\n0,a,0,detected,2\n")
    with pytest.raises(UserError, match=r"not a timeline of this version.*dvc repro -f alignments@target"):
        read_timeline(path)


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
    assert document == json.loads(path.read_text())
    with open_alignments(path) as alignments:
        assert [f and f["key"] for f, _ in first_faces(alignments, "a")] == [None, "a_000001_0", None, None]


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
    assert shots(path, "a") == [0, 0, 1, 1] and shots(path, "b") == [0, 1, 2]

    old = json.loads(path.read_text())
    old["version"] = 2
    for video in old["videos"].values():
        for frame in video["frames"]:
            del frame["shot"]
    path.write_text(json.dumps(old))  # on one line, as another JSON writer may put it
    assert shots(path, "a") == [0, 0, 0, 0]


def shots(path, video: str) -> list[int]:
    with open_alignments(path) as alignments:
        return [shot for _, shot in first_faces(alignments, video)]


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
    "nested deep": (lambda path: path.write_bytes(b'{"schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
                    "nested too deep"),
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


def target_project(root, frames: int):
    """``data/frames/target/videos.json`` and ``data/alignments/target/alignments.json`` of a target of
    ``frames`` frames, a face in most (real-looking points, a few shots), as the stages write them."""
    rng = np.random.default_rng(frames)
    (root / "data/frames/target").mkdir(parents=True)
    (root / "data/frames/target/videos.json").write_text(json.dumps({"target": {
        "file": "target.mp4", "sample_rate": "25/1", "frames": frames, "rate": "25/1", "fps": 25.0, "width": 640,
        "height": 360, "duration": frames / 25, "has_audio": False, "frame_count": frames}}))
    faces = ({**face("target", index), "landmarks_68": (rng.random((68, 2)) * 300).round(2),
              "transform": np.array([[1.0, -0.1, rng.random()], [0.1, 1.0, rng.random()]]).round(6)}
             for index in range(frames) if index % 7)
    videos = {"target": {"sample_rate": "25/1", "width": 640, "height": 360, "frames": frames}}
    path = root / "data/alignments/target/alignments.json"
    written = write_alignments(path, alignments_document(
        "target", videos, faces, {"aligned_size": 64, "padding": 0.1},
        shots={"target": [index // 50 for index in range(frames)]}))
    (root / "data/metrics").mkdir()
    write_timeline(root / "data/metrics/alignments-target-timeline.csv", timeline(written))
    return path


def test_the_consumers_read_what_a_whole_parse_gives(tmp_path, monkeypatch):
    from faceswap.convert.placement import load_target_track, smooth_transforms
    from review.timeline import LETTERS, Timeline

    path = target_project(tmp_path, 120)
    monkeypatch.chdir(tmp_path)
    document = json.loads(path.read_text())
    assert read_alignments(path) == document
    frames = document["videos"]["target"]["frames"]
    first = [frame["faces"][0] if frame["faces"] else None for frame in frames]

    track = load_target_track(smooth_frames=3)
    assert [f and f["key"] for f in track.faces] == [f and f["key"] for f in first]
    assert track.shots == [frame["shot"] for frame in frames] and (track.aligned_size, track.padding) == (64, 0.1)
    raw = [np.array(f["transform"]) if f else None for f in first]
    for got, want in zip(track.raw_transforms + track.transforms + track.landmarks,
                         raw + smooth_transforms(raw, 3, track.shots) + [f and np.array(f["landmarks_68"])
                                                                          for f in first], strict=True):
        assert (got is None and want is None) or np.array_equal(got, want)

    shown = Timeline("target")
    assert shown.summary(set())["videos"][0]["strip"] == "".join(LETTERS[frame["status"]] for frame in frames)
    one = shown.frame("target_000001", set())
    assert one["face"] == first[1]["key"] and one["status"] == "detected"
    assert one["landmarks"] == np.float32(first[1]["landmarks_68"]).astype(float).round(1).tolist()
    assert shown.frame("target_000000", set())["box"] is None


def peak_bytes(work) -> int:
    """The most memory Python and numpy held at once while ``work()`` ran (tracemalloc), over what they held
    before."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_frames_beyond_what_is_kept(tmp_path, monkeypatch):
    """Parsed whole, a frame takes about 15 kB (a feature film's file 2.5 GiB); streamed, the reader holds one
    frame at a time, and the consumers keep only their arrays per frame."""
    from faceswap.convert.placement import load_target_track
    from review.timeline import Timeline

    def read_through():
        with open_alignments(Path("data/alignments/target/alignments.json")) as alignments:
            for _, _, frames in alignments.videos():
                for _ in frames:
                    pass

    peaks = {}
    for frames in (400, 1600):
        monkeypatch.chdir(target_project(tmp_path / str(frames), frames).parents[3])
        peaks[frames] = {"reader": peak_bytes(read_through),  # the timeline: strip, then the frame view's arrays
                         "timeline": peak_bytes(lambda: Timeline("target").frame("target_000001", set())),
                         "track": peak_bytes(lambda: load_target_track(smooth_frames=3))}
    assert peaks[1600]["reader"] < 1.2 * peaks[400]["reader"]  # flat: one frame and one chunk of text
    per_frame = {part: (peaks[1600][part] - peaks[400][part]) / 1200 for part in ("timeline", "track")}
    assert per_frame["timeline"] < 1500  # points and box as float32 (560 bytes), key, status, position
    assert per_frame["track"] < 2500  # landmarks and two transforms as float64 arrays (1.5 kB), the face's key


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_the_stream_reads_across_its_chunks_what_json_reads_whole(tmp_path, monkeypatch, chunk):
    """Values (numbers, keys, frames) cut at any point by the end of a chunk are read whole."""
    path = target_project(tmp_path, 30)
    monkeypatch.setattr(JsonStream, "CHUNK", chunk)
    assert read_alignments(path) == json.loads(path.read_text())
