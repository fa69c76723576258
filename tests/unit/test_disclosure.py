"""The output says what it is: a label readable on the picture, and metadata in the MP4 that ffmpeg reads back."""

import numpy as np
import pytest

from faceswap.convert.disclosure import DIGITAL_SOURCE_TYPE, Label, container_metadata
from faceswap.media import video
from tests.helpers import container_tags


@pytest.mark.parametrize("corner", ["bottom-right", "top-left"])
def test_the_label_is_on_every_frame_in_its_corner_and_the_metadata_in_the_file(tmp_path, media, corner):
    reference = media / "pair/source.mp4"
    info = video.probe(reference)
    label, out = Label("AI-generated face swap", corner), tmp_path / "labelled.mp4"
    encoder = video.Encoder(out, info, reference, crf=18, preset="ultrafast",
                            metadata=container_metadata("AI-generated face swap"))
    originals = list(video.decode(reference, info))
    for frame in originals:
        encoder.write(label.draw(frame))
    encoder.close()

    (left, top, right, bottom), letters = label.layout(info.height, info.width)
    assert (left < info.width / 2) == (corner == "top-left") and (top < info.height / 2) == (corner == "top-left")
    for before, after in zip(originals, video.decode(out, video.probe(out)), strict=True):
        band_before = before[top:bottom, left:right].astype(int)
        band_after = after[top:bottom, left:right].astype(int)
        assert (band_after.min(axis=2) > 180).mean() > 0.03  # white letters: about 10% of the band
        between = letters == 0
        assert np.median(band_after[between]) < 0.6 * np.median(band_before[between])  # on a band darkened to 35%
        rest = np.ones(before.shape[:2], bool)
        rest[top:bottom, left:right] = False
        assert np.abs(after[rest].astype(int) - before[rest]).mean() < 3  # the rest is only the encoder's loss

    tags = container_tags(out)
    assert tags["ai_generated"] == "true" and tags["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert tags["comment"].startswith("AI-generated face swap: the face in this video was replaced")
    assert video.probe(out).has_audio


def test_off_leaves_the_frame_alone():  # an empty label is refused in params.py (test_params.py)
    frame = np.full((360, 640, 3), 128, np.uint8)
    assert Label("", "off").draw(frame) is frame


def band_of(label: Label, frame: np.ndarray) -> np.ndarray:
    (left, top, right, bottom), *_ = label.layout(*frame.shape[:2])
    return label.draw(frame)[top:bottom, left:right]


def test_accented_letters_are_drawn_as_themselves():
    """OpenCV's Hershey font drew each byte of 'é' as '?': the label reads as the user wrote it."""
    frame = np.full((360, 640, 3), 128, np.uint8)
    accented, plain = (band_of(Label(text, "bottom-right"), frame) for text in ("Vidéo généré", "Video genere"))
    assert accented.shape == plain.shape  # 'é' is as wide as 'e'...
    changed_rows = np.argwhere(np.abs(accented.astype(int) - plain).max(axis=2) > 60)[:, 0]
    assert len(changed_rows) > 20 and changed_rows.max() < accented.shape[0] / 2  # ...with an accent above it


def test_a_label_wider_than_the_frame_is_scaled_to_fit_with_margins():
    frame = np.full((360, 640, 3), 128, np.uint8)
    label = Label("This video is an AI-generated face swap: the face of the person shown was replaced", "bottom-left")
    (left, top, right, bottom), *_ = label.layout(*frame.shape[:2])
    assert 0 < left and right < frame.shape[1] and 0 < top < bottom < frame.shape[0]
    drawn = label.draw(frame)
    ink = np.argwhere(drawn.min(axis=2) > 200)  # the white letters
    assert len(ink)
    assert left < ink[:, 1].min() and ink[:, 1].max() < right - 1  # inside the band: nothing cut
    assert top < ink[:, 0].min() and ink[:, 0].max() < bottom - 1
    short = Label("AI-generated face swap", "bottom-left").layout(*frame.shape[:2])[0]
    assert bottom - top < short[3] - short[1]  # smaller letters, not a cut
