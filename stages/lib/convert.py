"""Conversion: target frames and their alignments in, frames with the source's face out."""

import cv2
import numpy as np

from .blend import face_mask, match_colour, paste
from .networks import swap_model


class FaceSwapper:
    """Swap the face on batches of frames with the encoder and the source decoder."""

    def __init__(self, autoencoder, aligned_size: int, feather: int):
        self.swap = swap_model(autoencoder, "source")
        self.size = autoencoder.input_shape[0][1]
        self.scale = self.size / aligned_size  # alignments may be stored larger than the model's input
        self.feather = feather

    def convert(self, frames: list[np.ndarray], entries: list[dict]) -> tuple[list[np.ndarray], int]:
        """Return the frames with faces swapped where their entry has a face, and how many were swapped."""
        jobs = [(i, np.array(entry["faces"][0]["transform"]) * self.scale, np.array(entry["faces"][0]["landmarks_68"]))
                for i, entry in enumerate(entries) if entry["faces"]]
        if not jobs:
            return frames, 0
        aligned = np.stack([cv2.warpAffine(frames[i], transform, (self.size, self.size), flags=cv2.INTER_AREA)
                            for i, transform, _ in jobs])
        generated = self.swap.predict(aligned.astype(np.float32) / 255.0, verbose=0, batch_size=len(jobs)) * 255.0
        out = list(frames)
        for (i, transform, landmarks), face, original in zip(jobs, generated, aligned):
            mask = face_mask(landmarks, transform, self.size, self.feather)
            out[i] = paste(frames[i], match_colour(face, original.astype(np.float32), mask), mask, transform)
        return out, len(jobs)
