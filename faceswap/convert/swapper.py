"""Conversion: target frames and their placements in, frames with the source's face out."""

from dataclasses import dataclass
from functools import partial

import numpy as np

from faceswap.convert.blend import face_mask, match_colour, paste
from faceswap.convert.occlusion import Occlusion
from faceswap.faces.expression import face_features
from faceswap.faces.geometry import aligned_face, apply
from faceswap.train.networks import FaceSwap


@dataclass(frozen=True)
class Look:
    """How the face is put back: the ``output.*`` params that shape the result."""

    colour: str
    blend: str
    forehead: float
    erode: int
    feather: int
    colour_smoothing: int  # lab: the colour correction averaged over about this many frames of a shot

    @classmethod
    def from_params(cls, p) -> "Look":
        """The look the ``output`` params section asks for."""
        return cls(p.colour, p.blend, p.forehead, p.erode, p.feather, p.colour_smoothing)


class ColourMemory:
    """The ``lab`` colour correction carried from frame to frame within a shot: an exponential moving average
    with a span of ``frames`` (0: each frame on its own). The generated face's colours change a little from
    frame to frame, and matching each frame alone makes them flicker; a cut or a frame without a face starts
    afresh, so a new shot's light is taken at once."""

    def __init__(self, frames: int):
        self.weight = 2 / (frames + 1) if frames > 0 else 1.0
        self.last = None  # (frame, shot, correction)

    def smooth(self, frame: int, shot: int, correction: np.ndarray) -> np.ndarray:
        if self.weight < 1 and self.last is not None and self.last[:2] == (frame - 1, shot):
            correction = self.last[2] + self.weight * (correction - self.last[2])
        self.last = (frame, shot, correction)
        return correction


class FaceSwapper:
    """Swap the face on batches of frames with the encoder and the source decoder; with an ``occlusion``
    segmenter, what covers the target's face is kept in front of the new one."""

    def __init__(self, autoencoder, aligned_size: int, look: Look, occlusion: Occlusion | None = None):
        self.swap = FaceSwap(autoencoder, "source")
        self.size = autoencoder.input_shape[0][1]
        self.scale = self.size / aligned_size  # alignments may be stored at another size than the model's input
        self.look = look
        self.colour = ColourMemory(look.colour_smoothing)
        self.occlusion = occlusion

    def convert(self, frames: list[np.ndarray], placements: list[tuple | None], start: int = 0):
        """Swap the face of each frame whose placement (transform, 68 landmarks in frame pixels, shot) is given;
        ``frames`` are frames ``start``, ``start + 1``, ... of the video, converted in order."""
        jobs = [(i, transform * self.scale, landmarks, shot) for i, placement in enumerate(placements)
                if placement is not None for transform, landmarks, shot in [placement]]
        if not jobs:
            return list(frames)
        aligned = np.stack([aligned_face(frames[i], transform, self.size) for i, transform, _, _ in jobs])
        told = face_features([apply(transform, landmarks) for _, transform, landmarks, _ in jobs], self.size)
        generated = self.swap.predict(aligned.astype(np.float32) / 255.0, told) * 255.0
        visible = self.occlusion.visible(aligned) if self.occlusion else [None] * len(jobs)
        out = list(frames)
        look = self.look
        for (i, transform, landmarks, shot), face, original, seen in zip(jobs, generated, aligned, visible):
            points = apply(transform, landmarks)
            mask = face_mask(points, self.size, look.forehead, look.erode, look.feather, seen)
            face = match_colour(face, original, mask, look.colour,
                                partial(self.colour.smooth, start + i, shot))
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
        for offset, (original, converted) in enumerate(zip(batch, swapper.convert(batch, wanted, start))):
            sink(start + offset, original, converted)
        batch.clear()

    for frame in frames:
        batch.append(frame)
        count += 1
        if len(batch) == batch_size:
            flush()
    flush()
    return count
