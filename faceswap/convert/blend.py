"""Putting a generated face back into its frame: mask, colour match, warp back, blend."""

import cv2
import numpy as np

from faceswap.faces.landmarks import hull_mask

BROWS = slice(17, 27)
CHIN = 8
COLOUR_MODES = ("lab", "histogram", "none")
BLEND_MODES = ("alpha", "poisson")


def face_mask(landmarks: np.ndarray, size: int, forehead: float, erode: int, feather: int,
              visible: np.ndarray | None = None) -> np.ndarray:
    """The landmark hull (aligned coordinates) with the brows raised over the forehead by ``forehead`` of the
    brow-to-chin height, pulled in by ``erode`` px, with what the segmenter does not see as face (``visible``,
    see ``occluded_mask``) taken out, then softened by a blur of ``feather`` px, as float in [0, 1].

    The blur comes last and the soft edge should lie inside the face's outline (``erode`` of about 1.5
    ``feather``): past the outline the generator paints what it saw around the source's face (background, hair),
    which the colour match brightens, and any of it blended over the target's hair shows as a halo."""
    points = np.array(landmarks, np.float64)
    brows = points[BROWS].copy()
    brows[:, 1] -= forehead * (points[CHIN, 1] - brows[:, 1].mean())
    mask = hull_mask(np.vstack([points, brows]), size).astype(np.float32) / 255.0
    if erode > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
    if visible is not None:
        mask = occluded_mask(mask, hull_mask(points, size).astype(np.float32) / 255.0, visible)
    if feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
    return mask


def occluded_mask(mask: np.ndarray, hull: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``mask`` with what the segmenter sees in front of the face taken out, inside the landmark ``hull`` (float,
    1 inside) only: ``mask * (1 - hull * (1 - visible))``. Outside the hull (the raised forehead) the mask stays as
    it was, so a frame with nothing in front of the face comes out as without the segmenter."""
    return mask * (1 - hull * (1 - visible))


def match_colour(face: np.ndarray, reference: np.ndarray, mask: np.ndarray, mode: str,
                 smooth=None) -> np.ndarray:
    """Make the generated face's colours inside the mask those of the original face: ``lab`` matches the mean
    and spread of each L*a*b* channel, ``histogram`` the whole distribution of each BGR channel. ``smooth``, if
    given, takes the frame's ``lab`` correction and returns the one to apply (averaged over time)."""
    face = np.clip(face, 0, 255).astype(np.uint8)
    inside = mask > 0.5
    if mode == "none" or inside.sum() < 16:
        return face.astype(np.float32)
    if mode == "lab":
        correction = lab_correction(face, reference, inside)
        return apply_lab(face, smooth(correction) if smooth else correction)
    out = np.empty(face.shape, np.float32)
    for channel in range(3):
        out[..., channel] = _match_histogram(face[..., channel], reference[..., channel][inside],
                                             face[..., channel][inside])
    return out


def lab_correction(face: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``(2, 3)``: the gain and offset of each L*a*b* channel that give the face, inside the mask, the mean and
    spread of the reference's. Linear, so that corrections of neighbouring frames can be averaged."""
    f = cv2.cvtColor(np.clip(face, 0, 255).astype(np.uint8), cv2.COLOR_BGR2LAB).astype(np.float32)[inside]
    r = cv2.cvtColor(reference, cv2.COLOR_BGR2LAB).astype(np.float32)[inside]
    gain = r.std(0) / np.maximum(f.std(0), 1e-3)
    return np.stack([gain, r.mean(0) - f.mean(0) * gain])


def apply_lab(face: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """The face with a ``lab_correction`` applied, as float BGR."""
    lab = cv2.cvtColor(np.clip(face, 0, 255).astype(np.uint8), cv2.COLOR_BGR2LAB).astype(np.float32)
    lab = lab * correction[0] + correction[1]
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR).astype(np.float32)


def _match_histogram(channel: np.ndarray, reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map each level of ``channel`` to the reference level at the same quantile (quantiles taken in the mask)."""
    source_cdf = np.cumsum(np.bincount(values, minlength=256)) / len(values)
    reference_cdf = np.cumsum(np.bincount(reference, minlength=256)) / len(reference)
    lookup = np.interp(source_cdf, reference_cdf, np.arange(256))
    return lookup[channel].astype(np.float32)


def paste(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, transform: np.ndarray,
          mode: str = "alpha") -> np.ndarray:
    """Warp an aligned face and its mask back into the frame with the inverse of ``transform`` and blend:
    ``alpha`` mixes by the feathered mask, ``poisson`` solves for seamless gradients (cv2.seamlessClone).

    Only the face's bounding box in the frame is warped and blended, so the cost follows the face, not the frame.
    """
    box = _face_box(transform, mask.shape[0], frame.shape)
    if box is None:
        return frame.copy()
    x0, y0, x1, y1 = box
    local = transform.copy()
    local[:, 2] += transform[:, :2] @ (x0, y0)  # the same mapping, from box pixels instead of frame pixels
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    placed = cv2.warpAffine(face.astype(np.float32), local, (x1 - x0, y1 - y0), flags=flags,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, local, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    if mode == "poisson":
        cloned = _poisson(frame, placed, alpha, (x0, y0))
        if cloned is not None:
            return cloned
    out = frame.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    weight = alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(region * (1 - weight) + placed * weight + 0.5, 0, 255).astype(np.uint8)
    return out


def _face_box(transform: np.ndarray, size: int, shape) -> tuple[int, int, int, int] | None:
    """The frame pixels the aligned square covers (x0, y0, x1, y1), clipped to the frame; None if outside it."""
    inverse = cv2.invertAffineTransform(transform)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inverse[:, :2].T + inverse[:, 2]
    height, width = shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)) - 1, 0).astype(int)
    x1, y1 = np.minimum(np.ceil(corners.max(0)) + 2, (width, height)).astype(int)
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else None


def _poisson(frame: np.ndarray, placed: np.ndarray, alpha: np.ndarray, origin) -> np.ndarray | None:
    """seamlessClone of the placed face (box pixels, at ``origin`` in the frame); None where the mask is empty
    or touches the frame's edge, which seamlessClone cannot solve, so the caller falls back to alpha blending."""
    binary = (alpha > 0.5).astype(np.uint8) * 255
    ys, xs = np.nonzero(binary)
    if len(xs) == 0:
        return None
    xs, ys = xs + origin[0], ys + origin[1]
    height, width = frame.shape[:2]
    if xs.min() < 1 or ys.min() < 1 or xs.max() > width - 2 or ys.max() > height - 2:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    crop = np.s_[y0 - origin[1]:y1 - origin[1], x0 - origin[0]:x1 - origin[0]]
    source = np.clip(placed[crop] + 0.5, 0, 255).astype(np.uint8)
    centre = (int((x0 + x1) // 2), int((y0 + y1) // 2))
    return cv2.seamlessClone(source, frame, binary[crop], centre, cv2.NORMAL_CLONE)
