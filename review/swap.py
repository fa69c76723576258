"""What the review page shows with a trained model (``models/faceswap.keras``): the swap of any target frame as a
before/after still, made on demand without encoding the video, and the target frames most worth labelling for
the mask, those whose face the model reconstructs worst (an occluder or an odd pose is what it has not learnt).

The page imports this module only when asked: Keras and TensorFlow take seconds and hundreds of MiB to load.
"""

import os
import threading

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import keras
import numpy as np

from faceswap.convert.evaluation import side_by_side
from faceswap.convert.occlusion import load_occlusion
from faceswap.convert.placement import load_target_track
from faceswap.convert.swapper import FaceSwapper, Look
from faceswap.core import params, paths
from faceswap.core.cli import UserError, log
from faceswap.faces.expression import face_features
from faceswap.media.imageset import decode_image, encode_jpeg, iter_samples
from faceswap.train.networks import FaceSwap
from faceswap.train.regions import aligned_landmarks

BATCH = 256


class ModelViews:
    """The trained model and the target's track, loaded once; predictions one at a time (a Keras model is not
    safe to call from several threads at once)."""

    def __init__(self):
        p = params.load("output")
        self.track = load_target_track(p.smooth_frames)
        self.placements = self.track.placements()
        self.autoencoder = keras.saving.load_model(paths.MODEL_FILE)
        occlusion = self._occlusion()
        self.swapper = FaceSwapper(self.autoencoder, self.track.aligned_size, Look.from_params(p), occlusion)
        self._lock = threading.Lock()
        self._ranking: list[dict] | None = None

    @staticmethod
    def _occlusion():
        """The mask stage's segmenter, as the output stage uses it; none before the mask is trained (labelling
        comes first, and the stills are worth seeing then too)."""
        try:
            return load_occlusion(params.load("mask").enabled)
        except UserError as reason:
            log.info("review: stills without the occlusion mask (%s)", reason)
            return None

    def still(self, frame_jpeg: bytes, index: int) -> bytes:
        """Target | swapped of one frame, as the output stage converts it (a frame with no face is unchanged)."""
        frame = decode_image(frame_jpeg)
        placement = self.placements[index] if index < len(self.placements) else None
        with self._lock:
            converted = self.swapper.convert([frame], [placement])[0]
        return encode_jpeg(side_by_side(frame, converted), 90)

    def worth_labelling(self, count: int) -> list[dict]:
        """The ``count`` target faces the model reconstructs worst (mean absolute error, 0-255), worst first."""
        with self._lock:
            if self._ranking is None:
                self._ranking = self._rank()
        return self._ranking[:count]

    def _rank(self) -> list[dict]:
        size = self.autoencoder.input_shape[0][1]
        rebuild = FaceSwap(self.autoencoder, "target", "target")
        records, errors, batch = [], [], []

        def flush():
            faces = np.stack(batch).astype(np.float32) / 255.0
            told = face_features([aligned_landmarks(r, size) for r in records[-len(batch):]], size)
            rebuilt = rebuild.predict(faces, told)
            errors.extend((np.abs(rebuilt - faces).mean(axis=(1, 2, 3)) * 255.0).tolist())
            batch.clear()

        for record, files in iter_samples(paths.stage_output("alignments", "target")):
            face = decode_image(files["jpg"])
            records.append({**record, "aligned_size": face.shape[0]})  # what its landmarks are placed by
            batch.append(cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA))
            if len(batch) == BATCH:
                flush()
        if batch:
            flush()
        order = np.argsort(errors)[::-1]
        return [{"face": records[i]["key"], "frame": records[i]["frame_key"], "error": round(errors[i], 2)}
                for i in order]
