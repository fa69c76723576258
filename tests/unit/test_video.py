"""Video in and out through the ffmpeg binary of imageio-ffmpeg."""

import subprocess

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.media import video


def test_probe_sample_target(media):
    info = video.probe(media / "pair/target.mp4")
    assert (info.width, info.height, info.rate, info.has_audio) == (640, 360, "24000/1001", True)
    assert info.duration == pytest.approx(19.69, abs=0.05)


def test_decode_keeps_every_frame(media):
    path = media / "pair/target.mp4"
    frames = list(video.decode(path, video.probe(path)))
    assert len(frames) == 472
    assert frames[0].shape == (360, 640, 3) and frames[0].dtype == np.uint8


def test_variable_frame_rate_becomes_constant(media):
    path = media / "fixtures/face_noface.mov"
    info = video.probe(path)
    assert info.fps == pytest.approx(26.4, abs=0.1)
    count = sum(1 for _ in video.decode(path, info))
    assert abs(count - info.duration * info.fps) <= 1.5  # every 1/rate seconds, one frame


def test_decode_at_lower_rate(media):
    path = media / "pair/source.mp4"
    info = video.probe(path)
    assert abs(sum(1 for _ in video.decode(path, info, "10/1")) - info.duration * 10) <= 2


def test_not_a_video_is_a_user_error(tmp_path):
    fake = tmp_path / "target.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(UserError, match="target.mp4: not a readable video"):
        video.probe(fake)


def test_truncated_video_is_a_user_error(tmp_path, media):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((media / "pair/source.mp4").read_bytes()[:3000])
    with pytest.raises(UserError, match="cut.mp4"):
        info = video.probe(cut)
        list(video.decode(cut, info))


@pytest.mark.parametrize("clip, rate", [("pair/target.mp4", None), ("pair/source.mp4", "10/1"),
                                        ("fixtures/face_noface.mov", None), ("fixtures/no_face.mp4", None)])
def test_complete_videos_decode_to_their_expected_count(media, clip, rate):
    """The count check must never stop a whole video: variable frame rate, a lower rate, a container whose frame
    count overstates the stream (no_face.mp4 says 98, decodes to 95) all come within the tolerance."""
    info = video.probe(media / clip)
    rate = rate or info.rate
    decoded = sum(1 for _ in video.decode(media / clip, info, rate))
    video.check_frame_count(media / clip, decoded, video.expected_frames(info, rate), "test", "")
    assert abs(decoded - video.expected_frames(info, rate)) <= video.FRAME_TOLERANCE


def test_encoder_muxes_reference_audio(tmp_path, media):
    reference = media / "pair/source.mp4"
    info = video.probe(reference)
    out = tmp_path / "out.mp4"
    encoder = video.Encoder(out, info, reference, crf=30, preset="ultrafast")
    for frame in video.decode(reference, info):
        encoder.write(255 - frame)
    encoder.close()
    result = video.probe(out)
    assert result.has_audio and result.rate == info.rate
    assert sum(1 for _ in video.decode(out, result)) == 72
    assert video.audio_codec(out) == "mp3"  # MP4 holds the reference's MP3: copied as it is, not re-encoded


def test_audio_mp4_cannot_hold_is_encoded_to_aac(tmp_path, media):
    reference = tmp_path / "pcm.mov"  # PCM audio, which MP4 does not take
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(media / "pair/source.mp4"), "-t", "1", "-c:v", "copy",
                    "-c:a", "pcm_s16le", str(reference)], check=True)
    info, out = video.probe(reference), tmp_path / "out.mp4"
    encoder = video.Encoder(out, info, reference, crf=30, preset="ultrafast")
    for frame in video.decode(reference, info):
        encoder.write(frame)
    encoder.close()
    assert video.audio_codec(reference).startswith("pcm") and video.audio_codec(out) == "aac"


def test_list_videos_rejects_bad_names(tmp_path):
    (tmp_path / "my clip.mp4").write_bytes(b"")
    with pytest.raises(UserError, match="rename it"):
        video.list_videos(tmp_path)
    with pytest.raises(UserError, match="no such folder"):
        video.list_videos(tmp_path / "empty_missing")  # a missing folder says so too
