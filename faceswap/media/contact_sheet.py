"""Contact sheets: one JPEG grid per image set with each image's key printed on it, so people look at
their data (``dvc plots show``) and can name a false positive in the exclusion list."""

from pathlib import Path

import cv2
import numpy as np

from faceswap.core.atomic import atomic_file
from faceswap.media.imageset import decode_image, iter_samples, read_index

TILE = 128
COLUMNS = 8
MAX_TILES = 64  # a big set is shown by an even sample of its images, first and last included


def evenly(records: list[dict], count: int) -> list[dict]:
    """At most ``count`` records spread evenly over the list, in order."""
    if len(records) <= count:
        return records
    return [records[i] for i in np.linspace(0, len(records) - 1, count).round().astype(int)]


def tile(image: np.ndarray, caption: str) -> np.ndarray:
    """The image fitted into a square tile, with its caption on a dark band at the bottom."""
    out = np.zeros((TILE, TILE, 3), np.uint8)
    scale = TILE / max(image.shape[:2])
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    out[:small.shape[0], :small.shape[1]] = small
    font_scale = min(0.4, 0.4 * (TILE - 4) / cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0])
    out[TILE - 14:] //= 4
    cv2.putText(out, caption, (2, TILE - 4), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def write_contact_sheet(folder: Path, path: Path, title: str) -> None:
    """Write ``path``: a grid of (a sample of) the ``jpg`` members of the image set ``folder``."""
    records = read_index(folder)
    chosen = evenly(records, MAX_TILES)
    tiles = [tile(decode_image(files["jpg"]), record["key"]) for record, files in iter_samples(folder, chosen)]
    rows = max(1, -(-len(tiles) // COLUMNS))
    sheet = np.full((24 + rows * TILE, COLUMNS * TILE, 3), 40, np.uint8)
    for number, image in enumerate(tiles):
        row, column = divmod(number, COLUMNS)
        sheet[24 + row * TILE:24 + (row + 1) * TILE, column * TILE:(column + 1) * TILE] = image
    shown = f"{len(tiles)} of {len(records)}" if records else "no image"
    cv2.putText(sheet, f"{title}: {shown}", (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    ok, data = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok, "OpenCV could not encode a JPEG"
    with atomic_file(path) as tmp:
        tmp.write_bytes(data.tobytes())
