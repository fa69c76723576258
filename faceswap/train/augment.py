"""Training augmentation in the faceswap manner: the network sees a warped face and must draw the true one.

A random similarity (rotation, zoom, shift) and a horizontal flip apply to both the input and the target,
so the decoders learn every pose; a smooth random warp applies to the input only, so the shared encoder
must learn the face, not copy pixels. Colour jitter changes the input's brightness and contrast per channel.

The pixel work is written with ``keras.ops`` over the whole batch at once, so it runs on every Keras backend
(TensorFlow, JAX, PyTorch) like the networks and losses; numpy only draws the random parameters and receives
the result. All randomness comes from the generator passed in, so a seed repeats a run.
"""

import functools

import numpy as np
from keras import ops

from faceswap.faces.expression import MIRRORED

CHANNELS_LAST = "channels_last"  # explicit, so that a global ``image_data_format`` setting cannot flip the layout


def similarity_transforms(rng: np.random.Generator, count: int, size: int, rotation: float = 10,
                          zoom: float = 0.05, shift: float = 0.05) -> np.ndarray:
    """``count`` random similarities about the image centre (rotation in degrees, zoom and shift as fractions
    of ``size``), half of them followed by a horizontal flip, as ``keras.ops.image.affine_transform`` takes
    them: rows ``[a0, a1, a2, b0, b1, b2, 0, 0]`` mapping each *output* pixel to the input pixel it samples,
    i.e. the inverse of the move. Folding the flip in saves a pass over the pixels."""
    angle = np.radians(rng.uniform(-rotation, rotation, count))
    scale = rng.uniform(1 - zoom, 1 + zoom, count)
    offset = rng.uniform(-shift, shift, (count, 2)) * size
    flip = rng.random(count) < 0.5
    centre = (size - 1) / 2
    alpha, beta = scale * np.cos(angle), scale * np.sin(angle)
    move = np.zeros((count, 3, 3))  # input -> output, as cv2.getRotationMatrix2D plus the shift
    move[:, 0] = np.stack([alpha, beta, (1 - alpha) * centre - beta * centre + offset[:, 0]], axis=-1)
    move[:, 1] = np.stack([-beta, alpha, beta * centre + (1 - alpha) * centre + offset[:, 1]], axis=-1)
    move[:, 2, 2] = 1
    mirror = np.tile(np.eye(3), (count, 1, 1))
    mirror[flip, 0, 0], mirror[flip, 0, 2] = -1, size - 1
    transforms = np.linalg.inv(move) @ mirror  # output pixel -> (unflip) -> moved pixel -> (unmove) -> input
    return np.concatenate([transforms[:, :2].reshape(count, 6), np.zeros((count, 2))], axis=1).astype(np.float32)


def warp_offsets(rng: np.random.Generator, count: int, grid: int = 5, strength: float = 0.05) -> np.ndarray:
    """Coarse random pixel offsets ``(count, grid, grid, 2)`` (x, y) in fractions of the image size, zero on the
    grid's border so the face's outline stays put; ``augment_batch`` scales and smooths them to full size."""
    offsets = rng.normal(0, strength, (count, grid, grid, 2)).astype(np.float32)
    offsets[:, [0, -1]] = 0
    offsets[:, :, [0, -1]] = 0
    return offsets


@functools.lru_cache(maxsize=8)
def cubic_upsampling(grid: int, size: int) -> np.ndarray:
    """The (size, grid) float32 matrix that resizes ``grid`` values to ``size`` by Keys' cubic convolution
    (a = -0.5, half-pixel centres, the weights of the taps inside renormalised), as TensorFlow's and JAX's
    bicubic ``keras.ops.image.resize`` do. Applied by ``keras.ops.einsum`` it gives the same warp on every
    backend, where PyTorch's bicubic resize (a = -0.75, edges clamped) would give another."""
    centres = (np.arange(size) + 0.5) * grid / size - 0.5
    nearest_below = np.floor(centres)
    matrix = np.zeros((size, grid))
    for step in range(-1, 3):
        taps = nearest_below + step
        inside = (taps >= 0) & (taps < grid)
        distance = np.abs(centres - taps)
        weight = np.where(distance <= 1, 1.5 * distance**3 - 2.5 * distance**2 + 1,
                          -0.5 * distance**3 + 2.5 * distance**2 - 4 * distance + 2)
        matrix[np.arange(size)[inside], taps[inside].astype(int)] += weight[inside]
    matrix = (matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)
    matrix.flags.writeable = False  # shared by every call through the cache
    return matrix


def sample_bilinear(images, xs, ys):
    """Bilinear samples of ``images`` (N, H, W, C) at pixel coordinates ``xs``, ``ys`` (N, H', W'), the border
    replicated. One ``keras.ops.take`` of the four neighbouring pixels: ``keras.ops.image.map_coordinates``
    would do the same but interpolates along every axis, batch and channel too, which is 16 gathers of the whole
    batch and about 10x slower on TensorFlow's CPU."""
    count, height, width, channels = images.shape
    xs, ys = ops.clip(xs, 0, width - 1), ops.clip(ys, 0, height - 1)  # clamping is the replicated border
    left = ops.minimum(ops.floor(xs), width - 2)  # the right-hand neighbour stays inside; its weight is 1 at the edge
    top = ops.minimum(ops.floor(ys), height - 2)
    right_weight, bottom_weight = (xs - left)[..., None], (ys - top)[..., None]
    first = ops.arange(count, dtype="int32")[:, None, None] * (height * width)
    index = first + ops.cast(top, "int32") * width + ops.cast(left, "int32")
    pixels = ops.reshape(images, (count * height * width, channels))
    top_left, top_right, bottom_left, bottom_right = ops.unstack(
        ops.take(pixels, ops.stack([index, index + 1, index + width, index + width + 1]), axis=0))
    upper = top_left + (top_right - top_left) * right_weight
    lower = bottom_left + (bottom_right - bottom_left) * right_weight
    return upper + (lower - upper) * bottom_weight


def move_warp_and_jitter(faces, maps, transforms, offsets, contrast, brightness):
    """The pixel work of ``augment_batch`` on the parameters it drew: uint8 faces and maps in, float32 inputs
    and targets out. Run op by op, on purpose: traced into one graph (``tf.function``) it took half the time
    alone, but next to a training step its ops queued behind the step's in TensorFlow's shared thread pools
    and the feeder's busy share rose to 0.2-0.9 of the wall time, against 0.2-0.4 op by op."""
    size = faces.shape[1]
    faces, maps = ops.cast(faces, "float32") / 255, ops.cast(maps, "float32") / 255
    # the face's edge pixels carry on outwards (no black corners to learn); a region map is empty outside
    faces = ops.image.affine_transform(faces, transforms, "bilinear", "nearest", data_format=CHANNELS_LAST)
    maps = ops.image.affine_transform(maps, transforms, "bilinear", "constant", 0, data_format=CHANNELS_LAST)
    # the warp: smooth full-size offsets from the coarse grid, and the moved face sampled at the offset pixels
    upsampling = cubic_upsampling(offsets.shape[1], size)
    offsets = ops.einsum("yi,nijc,xj->nyxc", upsampling, offsets, upsampling)
    pixel = ops.arange(size, dtype="float32")
    warped = sample_bilinear(faces, pixel[None, None, :] + offsets[..., 0], pixel[None, :, None] + offsets[..., 1])
    return ops.clip(warped * contrast + brightness, 0, 1), ops.concatenate([faces, maps], axis=-1)


def move_landmarks(transforms: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The faces' landmarks (N, 68, 2) where ``similarity_transforms``' moves put them, relabelled as dlib would
    find them on a face that was flipped (its left eye is the one now on the left), float32."""
    inverse = np.zeros((len(transforms), 3, 3))
    inverse[:, :2] = transforms[:, :6].reshape(-1, 2, 3)
    inverse[:, 2, 2] = 1
    forward = np.linalg.inv(inverse)  # the rows map output pixels to input pixels: invert them to move points
    moved = landmarks @ forward[:, :2, :2].transpose(0, 2, 1) + forward[:, None, :2, 2]
    flipped = np.linalg.det(forward[:, :2, :2]) < 0
    moved[flipped] = moved[flipped][:, MIRRORED]
    return moved.astype(np.float32)


def augment_batch(rng: np.random.Generator, faces: np.ndarray, maps: np.ndarray, landmarks: np.ndarray,
                  warp: bool = True):
    """From uint8 faces (N, S, S, 3), their uint8 maps (N, S, S, M: mask, eye and mouth regions) and their
    landmarks (N, 68, 2, in the faces' pixels) make float32 numpy arrays: the network's inputs (N, S, S, 3) and
    its targets, the face and its maps moved together (N, S, S, 3 + M), in [0, 1], and the landmarks moved with
    them. Without ``warp`` the input is the target's face, colour jitter aside."""
    count, size = faces.shape[:2]
    transforms = similarity_transforms(rng, count, size)
    offsets = warp_offsets(rng, count) * size * (1.0 if warp else 0.0)
    contrast = rng.uniform(0.9, 1.1, (count, 1, 1, 3)).astype(np.float32)  # per channel: colour too
    brightness = rng.uniform(-10 / 255, 10 / 255, (count, 1, 1, 3)).astype(np.float32)
    inputs, targets = move_warp_and_jitter(faces, maps, transforms, offsets, contrast, brightness)
    return (ops.convert_to_numpy(inputs).astype(np.float32, copy=False),
            ops.convert_to_numpy(targets).astype(np.float32, copy=False), move_landmarks(transforms, landmarks))
