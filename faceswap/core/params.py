"""params.yaml, loaded and checked in one place: an unknown key or a wrong type stops the stage with one line."""

from pathlib import Path
from types import SimpleNamespace

import yaml

from faceswap.core.cli import UserError

PARAMS_FILE = Path("params.yaml")

# Every key params.yaml must hold, with its type, or with the tuple of strings it may be.
# A float key also takes a whole number.
SCHEMA = {
    "frames": {
        "fps": float,  # frames per second decoded from source videos; the target keeps every frame
        "jpeg_quality": int,
    },
    "crops": {
        "score_threshold": float,  # YuNet detection score below which a face is not kept at all
        "margin": float,  # context around the face box, as a share of its size, kept in the crop
        "max_size": int,  # crops larger than this (px, square) are scaled down
        "retry_upscale": float,  # a frame with no face is searched again this much larger (<= 1: no retry)
        "retry_angles": list,  # then rotated by each of these angles (degrees), until a face is found
        "detect_scale": float,  # YuNet first looks at the frame this much smaller (1: full size), then at full size
    },
    "filtered": {
        "min_size": int,  # smallest face box side (px in the frame) worth training on
        "min_score": float,
        "min_sharpness": float,  # variance of the Laplacian of the face at 128 px; blurrier faces go (0: off)
        "duplicate_bits": int,  # source only: a face whose 64-bit hash is this close to the last kept one goes
        "max_identity_distance": float,  # dlib embedding distance to the side's person (0.6: dlib's threshold)
        "identity_every": int,  # along a track of overlapping boxes, embed one face in this many
        "reference_images": dict,  # side -> list of image paths of that side's person; none: the dominant face
    },
    "alignments": {
        "size": int,  # side of the aligned face and mask (px)
        "padding": float,  # room around the canonical face, as a share of its size
        "max_gap": int,  # target: gaps of at most this many frames between faces are interpolated
        "smoothing_window": int,  # target: Savitzky-Golay window over frames for landmarks (odd; 0: off)
        "cut_threshold": float,  # target: ffmpeg scdet score (0-100) from which a frame starts a new shot
    },
    "model": {
        "architecture": str,  # light, original or gpu128 (networks.py)
        "steps": int,  # total steps of the attempt; raising it continues from the last checkpoint
        "batch_size": int,  # faces per side per step, over all devices
        "learning_rate": float,
        "seed": int,
        "ssim_weight": float,  # share of the loss that is SSIM; the rest is L1
        "eye_weight": float,  # loss weight of the eye regions relative to the rest of the face
        "mouth_weight": float,
        "mixed_precision": bool,  # float16 compute, for GPUs
        "log_every": int,  # steps between loss logs
        "preview_every": int,  # steps between preview images
        "checkpoint_every": int,  # steps between checkpoints in models/checkpoints
    },
    "output": {
        "codec": ("libx264", "libx265"),
        "crf": int,  # quality: lower is better and larger
        "preset": str,  # encoder speed preset (ultrafast ... veryslow)
        "colour": ("lab", "histogram", "none"),  # how the new face's colours are matched to the target's
        "colour_smoothing": int,  # lab: frames the colour correction is averaged over within a shot; 0 is off
        "blend": ("alpha", "poisson"),  # feathered alpha, or Poisson (cv2.seamlessClone)
        "forehead": float,  # the mask reaches this share of the brow-to-chin height above the brows
        "erode": int,  # px (at the model's size) the mask shrinks by
        "feather": int,  # blur radius (px at the model's size) softening the mask edge
        "smooth_frames": int,  # placement averaged over this many frames either side; 0 is off
        "stills": int,  # before/after stills written to data/output/stills
        "disclosure_text": str,  # the visible label on every output frame (the metadata says it too)
        "disclosure_corner": ("bottom-right", "bottom-left", "top-right", "top-left", "off"),  # off: no label
    },
}


def _check(data) -> None:
    if not isinstance(data, dict):
        raise UserError(f"{PARAMS_FILE}: expected a mapping of sections ({', '.join(SCHEMA)})")
    for section, value in data.items():
        if section not in SCHEMA:
            raise UserError(f"{PARAMS_FILE}: unknown key '{section}'; known sections: {', '.join(SCHEMA)}")
        if not isinstance(value, dict):
            raise UserError(f"{PARAMS_FILE}: '{section}' must be a mapping of keys")
    for section, keys in SCHEMA.items():
        _check_section(section, keys, data.get(section))


def _check_section(section: str, keys: dict, values: dict | None) -> None:
    if values is None:
        raise UserError(f"{PARAMS_FILE}: missing section '{section}'; add it with keys {', '.join(keys)}")
    for key in values:
        if key not in keys:
            raise UserError(
                f"{PARAMS_FILE}: unknown key '{section}.{key}'; known keys of '{section}': {', '.join(keys)}"
            )
    for key, kind in keys.items():
        if key not in values:
            raise UserError(f"{PARAMS_FILE}: missing key '{section}.{key}'; add it")
        _check_value(f"{section}.{key}", kind, values[key])


def _check_value(name: str, kind, value) -> None:
    if isinstance(kind, tuple):
        if value not in kind:
            raise UserError(f"{PARAMS_FILE}: '{name}' is {value!r}; choose one of {', '.join(kind)}")
        return
    is_bool = isinstance(value, bool)
    ok = isinstance(value, kind) and (kind is bool or not is_bool)
    if kind is float and isinstance(value, int) and not is_bool:
        ok = True
    if not ok:
        raise UserError(f"{PARAMS_FILE}: '{name}' must be {kind.__name__}, got {value!r} ({type(value).__name__})")


def load_all(path: Path = PARAMS_FILE) -> dict:
    """Read and check the whole params file; every stage checks every key, so a typo stops the first stage."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run the stage from the repository root") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    _check(data)
    return {section: {key: (float(v) if SCHEMA[section][key] is float else v) for key, v in values.items()}
            for section, values in data.items()}


def load(section: str, path: Path = PARAMS_FILE) -> SimpleNamespace:
    """The checked keys of one section, as attributes."""
    return SimpleNamespace(**load_all(path)[section])
