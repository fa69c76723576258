"""The target's face steadied as its frames stream by: chunk by chunk it gives what the whole video at once gives,
and it holds a window of frames, not the video."""

import copy

import numpy as np
import pytest

from faceswap.faces.stabilise import Stabiliser


def track(frames: int, seed: int) -> list[dict]:
    """Frames as the alignments document lays them out: a face drifting with noise, gaps of 1 to 30 frames
    (some filled, some too long), a cut every few hundred frames."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(100, 300, (68, 2))
    shots = np.cumsum(rng.random(frames) < 1 / 300)
    missing = np.zeros(frames, bool)
    for start in rng.integers(0, frames, frames // 40):
        missing[start:start + rng.integers(1, 30)] = True
    out = []
    for index in range(frames):
        faces = []
        if not missing[index]:
            landmarks = base + index * 0.3 + rng.normal(0, 1.5, (68, 2))
            x, y = landmarks.min(0)
            w, h = landmarks.max(0) - landmarks.min(0)
            faces = [{"key": f"f{index}", "source": "detected", "box": np.array([x, y, w, h]), "score": 0.9,
                      "identity_distance": 0.3, "landmarks_5": landmarks[[36, 45, 30, 48, 54]],
                      "landmarks_68": landmarks, "transform": np.eye(2, 3)}]
        out.append({"frame": index, "shot": int(shots[index]), "status": "detected" if faces else "missing",
                    "faces": faces})
    return out


def as_written(frames: list[dict]) -> list:
    return [(f["status"], [{k: np.asarray(v).tolist() if k not in ("key", "source") else v for k, v in face.items()}
                           for face in f["faces"]]) for f in frames]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_chunk_by_chunk_gives_what_the_whole_video_gives(seed, chunk):
    frames = track(2000, seed)
    whole = Stabiliser(max_gap=12, window=5, size=64, padding=0.1, chunk=10**6)
    expected = list(whole.steadied(copy.deepcopy(frames)))
    streamed = Stabiliser(max_gap=12, window=5, size=64, padding=0.1, chunk=chunk)
    got = list(streamed.steadied(copy.deepcopy(frames)))
    assert as_written(got) == as_written(expected)
    assert sum(f["status"] == "recovered" for f in got) > 10  # gaps were filled, not only passed through
    detected = [i for i, f in enumerate(frames) if f["faces"]]
    moved = [i for i in detected
             if got[i]["faces"][0]["landmarks_68"].tolist() != frames[i]["faces"][0]["landmarks_68"].round(2).tolist()]
    assert len(moved) > 0.9 * len(detected)  # and points smoothed
    assert streamed.steadiness == whole.steadiness
    assert whole.steadiness["jitter_landmarks_px"] < whole.steadiness["jitter_landmarks_raw_px"]


def test_it_holds_a_window_of_frames_not_the_video():
    """By the time frame n is read, all but a chunk and a margin of the frames before it have been given out."""
    frames, read = track(5000, 3), [0]
    stabiliser = Stabiliser(max_gap=12, window=5, size=64, padding=0.1, chunk=256)

    def reading():
        for frame in frames:
            read[0] += 1
            yield frame

    lag = []
    for given, _ in enumerate(stabiliser.steadied(reading()), start=1):
        lag.append(read[0] - given)
    assert len(lag) == 5000
    assert max(lag) <= 256 + stabiliser.margin
