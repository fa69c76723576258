"""Video in and out through the ffmpeg binary of imageio-ffmpeg."""

import subprocess

import numpy as np
import pytest

from faceswap.core.cli import UserError
from faceswap.media import video
from tests.helpers import awkward_clip, video_stream


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


def round_trip(clip, out, codec="libx264"):
    """``clip`` decoded and encoded again as the output stage does: its frames, the encoder, the output's info
    and frames."""
    info = video.probe(clip)
    frames = list(video.decode(clip, info))
    encoder = video.Encoder(out, info, clip, crf=18, preset="ultrafast", codec=codec)
    for frame in frames:
        encoder.write(frame)
    encoder.close()
    result = video.probe(out)
    return frames, encoder, result, list(video.decode(out, result))


@pytest.mark.parametrize("codec, profile", [("libx264", "High 4:4:4"), ("libx265", "hevc (Rext)")])
def test_odd_sized_video_is_encoded_at_its_size_in_4_4_4(tmp_path, media, codec, profile):
    """4:2:0 halves the colour planes, so it needs even sides: an odd-sized target is encoded 4:4:4."""
    clip = tmp_path / "odd.mp4"
    awkward_clip(media / "fixtures/no_face.mp4", clip, 0.3, 1.0, size=(161, 91), pix_fmt="yuv444p")
    frames, encoder, result, again = round_trip(clip, tmp_path / "out.mp4", codec)
    assert frames[0].shape == (91, 161, 3)
    assert (result.width, result.height, len(again)) == (161, 91, len(frames))
    assert encoder.pix_fmt == "yuv444p" and profile in video_stream(tmp_path / "out.mp4")
    assert np.abs(again[0].astype(int) - frames[0]).mean() < 3


def test_even_sized_video_stays_4_2_0(tmp_path, media):
    clip = tmp_path / "444.mp4"  # 4:4:4 in, 4:2:0 out: what every player plays
    awkward_clip(media / "pair/source.mp4", clip, 0.2, size=(160, 90), pix_fmt="yuv444p")
    _, encoder, result, _ = round_trip(clip, tmp_path / "out.mp4")
    assert encoder.pix_fmt == "yuv420p" and "yuv420p" in video_stream(tmp_path / "out.mp4")


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le"])
def test_any_pixel_format_decodes_to_8_bit_bgr(tmp_path, media, pix_fmt):
    plain, other = tmp_path / "plain.mp4", tmp_path / f"{pix_fmt}.mp4"
    awkward_clip(media / "pair/source.mp4", plain, 0.2, size=(160, 90), pix_fmt="yuv444p")
    awkward_clip(media / "pair/source.mp4", other, 0.2, size=(160, 90), pix_fmt=pix_fmt)
    assert pix_fmt in video_stream(other)
    (expected, *_), (frame, *_) = (video.decode(path, video.probe(path)) for path in (plain, other))
    assert frame.dtype == np.uint8 and frame.shape == (90, 160, 3)
    assert np.abs(frame.astype(int) - expected).mean() < 4


@pytest.mark.parametrize("rotation", [90, 270])
def test_a_turned_phone_clip_is_read_and_written_as_displayed(tmp_path, media, rotation, caplog):
    """A phone stores its picture turned, with a display matrix: its frames and the output are as displayed,
    with no warning that they are (imageio-ffmpeg's)."""
    upright, turned = tmp_path / "upright.mp4", tmp_path / "turned.mp4"
    awkward_clip(media / "fixtures/no_face.mp4", upright, 0.3, 1.0, size=(91, 161), pix_fmt="yuv444p")
    awkward_clip(media / "fixtures/no_face.mp4", turned, 0.3, 1.0, size=(91, 161), pix_fmt="yuv444p",
                 rotation=rotation)
    assert ", 161x91" in video_stream(turned) and "rotation" in video_stream(turned)  # stored on its side
    expected = next(video.decode(upright, video.probe(upright)))
    frames, _, result, again = round_trip(turned, tmp_path / "out.mp4")
    assert (result.width, result.height, len(again)) == (91, 161, len(frames))
    assert ", 91x161" in video_stream(tmp_path / "out.mp4") and "rotation" not in video_stream(tmp_path / "out.mp4")
    assert np.abs(frames[0].astype(int) - expected).mean() < 4
    assert np.abs(again[0].astype(int) - expected).mean() < 4
    assert "frame size" not in caplog.text


@pytest.fixture
def still_images(tmp_path, media):
    """A photo in each form a user might hand over as a video, and a song with its cover picture."""
    jpeg, png = media / "images/grace_hopper.jpg", media / "images/astronaut.png"
    named_as_video = tmp_path / "photo.mp4"
    named_as_video.write_bytes(png.read_bytes())
    song = tmp_path / "song.m4a"
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(media / "pair/source.mp4"), "-i", str(jpeg), "-t", "1",
                    "-map", "0:a", "-map", "1", "-c:a", "aac", "-c:v", "copy", "-disposition:v", "attached_pic",
                    str(song)], check=True)
    return [jpeg, png, named_as_video, song]


def test_a_still_image_is_refused(still_images):
    for path in still_images:
        with pytest.raises(UserError, match=f"^{path}: a still image"):
            video.probe(path)


def test_sound_alone_is_refused(tmp_path, media):
    sound = tmp_path / "sound.m4a"
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(media / "pair/source.mp4"), "-vn", "-t", "1", str(sound)],
                   check=True)
    with pytest.raises(UserError, match=f"^{sound}: no video stream"):
        video.probe(sound)


def test_a_video_of_no_size_is_refused(tmp_path, media):
    """Matroska keeps an FFV1 picture's size only in its header: set it to 0 x 0."""
    clip = tmp_path / "clip.mkv"
    subprocess.run([video.FFMPEG, "-v", "error", "-i", str(media / "pair/source.mp4"), "-t", "0.2", "-an",
                    "-vf", "scale=64:48", "-c:v", "ffv1", str(clip)], check=True)
    data = clip.read_bytes()
    for element in (b"\xb0\x81\x40", b"\xba\x81\x30"):  # PixelWidth 64, PixelHeight 48
        data = data.replace(element, element[:2] + b"\x00", 1)
    clip.write_bytes(data)
    with pytest.raises(UserError, match=f"^{clip}: its video has no size"):
        video.probe(clip)


def test_list_videos_rejects_bad_names(tmp_path):
    (tmp_path / "my clip.mp4").write_bytes(b"")
    with pytest.raises(UserError, match="rename it"):
        video.list_videos(tmp_path)
    with pytest.raises(UserError, match="no such folder"):
        video.list_videos(tmp_path / "empty_missing")  # a missing folder says so too
