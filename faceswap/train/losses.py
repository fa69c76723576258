"""The reconstruction loss: structural dissimilarity (DSSIM) plus a pixel error (squared, as DeepFaceLab's, or
absolute), counted inside the face mask only, with the eyes and the mouth weighted up. Written in ``keras.ops``
so that every Keras backend runs it.

The target tensor packs six channels: the face (3), then the face mask, the eye region and the mouth region
(1 each, in [0, 1]), so that the maps go through augmentation together with the face they belong to.
"""

import keras
import numpy as np
from keras import ops

FACE_CHANNELS = 3
TARGET_CHANNELS = 6


SSIM_STATISTICS = 5  # x, y, x², y², xy: blurred together in one call


def window_size(face_size: int) -> int:
    """The SSIM window for a face of ``face_size`` px: an eleventh-and-a-bit of the face (DeepFaceLab's
    ``resolution / 11.6``, so 11 at 128 px and 5 at 64), odd, at least 3: the structure compared is of the same
    part of the face at every size."""
    size = max(3, int(face_size / 11.6))
    return size if size % 2 else size + 1


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The SSIM window as one line of a separable depthwise kernel, (size, 1, 5 * 3, 1): the square Gaussian
    is this line down the columns, then along the rows, a fifth of the work of the square kernel."""
    line = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    line /= line.sum()
    return np.tile(line[:, None, None, None], (1, 1, SSIM_STATISTICS * FACE_CHANNELS, 1)).astype(np.float32)


def ssim_map(x, y, window):
    """Per-pixel structural similarity of images in [0, 1] (Wang et al. 2004), 1 where they agree. The five
    local statistics are blurred in one depthwise pass over their stacked channels, which on CPU costs about
    the same as one of them alone."""
    c1, c2 = 0.01**2, 0.03**2
    stacked = ops.concatenate([x, y, x * x, y * y, x * y], axis=-1)
    blurred = ops.depthwise_conv(stacked, window, strides=1, padding="same")
    blurred = ops.depthwise_conv(blurred, ops.transpose(window, (1, 0, 2, 3)), strides=1, padding="same")
    mean_x, mean_y, square_x, square_y, product = ops.split(blurred, SSIM_STATISTICS, axis=-1)
    var_x, var_y = square_x - mean_x**2, square_y - mean_y**2
    covariance = product - mean_x * mean_y
    return ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))


@keras.saving.register_keras_serializable(package="faceswap")
class FaceLoss(keras.losses.Loss):
    """``(1 - ssim_weight) * pixel error + ssim_weight * (1 - SSIM) / 2``, each a mean weighted by
    ``mask * (1 + (eye_weight - 1) * eyes + (mouth_weight - 1) * mouth)``; the pixel error is ``"l1"`` (absolute)
    or ``"mse"`` (squared), and the SSIM window grows with the face (``window_size``)."""

    def __init__(self, ssim_weight: float = 0.5, eye_weight: float = 3.0, mouth_weight: float = 2.0,
                 pixel_loss: str = "l1", name: str = "face_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ssim_weight, self.eye_weight, self.mouth_weight = ssim_weight, eye_weight, mouth_weight
        self.pixel_loss = pixel_loss

    def call(self, y_true, y_pred):
        y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        face, mask, eyes, mouth = (y_true[..., :3], y_true[..., 3:4], y_true[..., 4:5], y_true[..., 5:6])
        weight = mask * (1 + (self.eye_weight - 1) * eyes + (self.mouth_weight - 1) * mouth)
        total = ops.sum(weight, axis=(1, 2, 3)) * FACE_CHANNELS + 1e-6

        def weighted_mean(error):
            return ops.sum(error * weight, axis=(1, 2, 3)) / total

        difference = face - y_pred
        pixel = weighted_mean(ops.square(difference) if self.pixel_loss == "mse" else ops.abs(difference))
        window = gaussian_window(window_size(y_pred.shape[1]))
        dssim = weighted_mean((1 - ssim_map(face, y_pred, window)) / 2)
        return (1 - self.ssim_weight) * pixel + self.ssim_weight * dssim

    def get_config(self):
        return {**super().get_config(), "ssim_weight": self.ssim_weight, "eye_weight": self.eye_weight,
                "mouth_weight": self.mouth_weight, "pixel_loss": self.pixel_loss}
