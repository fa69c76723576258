"""The output says what it is: a label readable on the picture, and metadata in the MP4 that ffmpeg reads back."""

import numpy as np
import pytest

from faceswap.convert.disclosure import DIGITAL_SOURCE_TYPE, Label, container_metadata
from faceswap.core.cli import UserError
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

    (left, top, right, bottom), *_ = label.layout(info.height, info.width)
    assert (left < info.width / 2) == (corner == "top-left") and (top < info.height / 2) == (corner == "top-left")
    for before, after in zip(originals, video.decode(out, video.probe(out)), strict=True):
        band_before = before[top:bottom, left:right].astype(int)
        band_after = after[top:bottom, left:right].astype(int)
        assert (band_after.min(axis=2) > 180).mean() > 0.03  # white letters: about 5% of the band
        assert np.median(band_after) < 0.6 * np.median(band_before)  # on a band darkened to 35%
        rest = np.ones(before.shape[:2], bool)
        rest[top:bottom, left:right] = False
        assert np.abs(after[rest].astype(int) - before[rest]).mean() < 3  # the rest is only the encoder's loss

    tags = container_tags(out)
    assert tags["ai_generated"] == "true" and tags["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert tags["comment"].startswith("AI-generated face swap: the face in this video was replaced")
    assert video.probe(out).has_audio


def test_off_leaves_the_frame_alone_and_an_empty_label_is_an_error():
    frame = np.full((360, 640, 3), 128, np.uint8)
    assert Label("", "off").draw(frame) is frame
    with pytest.raises(UserError, match="output.disclosure_text"):
        Label("  ", "bottom-left")
