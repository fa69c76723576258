"""Conversion: target frames and their placements in, frames with the source's face out."""

from dataclasses import dataclass

import cv2
import numpy as np

from faceswap.convert.blend import face_mask, match_colour, paste
from faceswap.faces.geometry import apply
from faceswap.train.networks import swap_model


@dataclass(frozen=True)
class Look:
    """How the face is put back: the ``output.*`` params that shape the result."""

    colour: str
    blend: str
    forehead: float
    erode: int
    feather: int


class FaceSwapper:
    """Swap the face on batches of frames with the encoder and the source decoder."""

    def __init__(self, autoencoder, aligned_size: int, look: Look):
        self.swap = swap_model(autoencoder, "source")
        self.size = autoencoder.input_shape[0][1]
        self.scale = self.size / aligned_size  # alignments may be stored at another size than the model's input
        self.look = look

    def convert(self, frames: list[np.ndarray], placements: list[tuple[np.ndarray, np.ndarray] | None]):
        """Swap the face of each frame whose placement (transform, 68 landmarks, in frame pixels) is given."""
        jobs = [(i, transform * self.scale, landmarks) for i, placement in enumerate(placements)
                if placement is not None for transform, landmarks in [placement]]
        if not jobs:
            return list(frames)
        aligned = np.stack([cv2.warpAffine(frames[i], transform, (self.size, self.size), flags=cv2.INTER_AREA)
                            for i, transform, _ in jobs])
        generated = np.asarray(self.swap.predict_on_batch(aligned.astype(np.float32) / 255.0)) * 255.0
        out = list(frames)
        look = self.look
        for (i, transform, landmarks), face, original in zip(jobs, generated, aligned):
            mask = face_mask(apply(transform, landmarks), self.size, look.forehead, look.erode, look.feather)
            face = match_colour(face, original, mask, look.colour)
            out[i] = paste(frames[i], face, mask, transform, look.blend)
        return out


def convert_stream(frames, placements: list, swapper: FaceSwapper, sink, batch_size: int = 32) -> int:
    """Convert a stream of frames in batches, calling ``sink(index, original, converted)`` for each in order;
    frames past the end of ``placements`` have no face. Returns the number of frames."""
    batch: list[np.ndarray] = []
    count = 0

    def flush():
        start = count - len(batch)
        wanted = [placements[i] if i < len(placements) else None for i in range(start, count)]
        for offset, (original, converted) in enumerate(zip(batch, swapper.convert(batch, wanted))):
            sink(start + offset, original, converted)
        batch.clear()

    for frame in frames:
        batch.append(frame)
        count += 1
        if len(batch) == batch_size:
            flush()
    flush()
    return count
