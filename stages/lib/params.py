"""params.yaml, loaded and checked in one place: an unknown key or a wrong type stops the stage with one line."""

from pathlib import Path
from types import SimpleNamespace

import yaml

from .cli import UserError

PARAMS_FILE = Path("params.yaml")

# Every key params.yaml must hold, with its type. A float key also takes a whole number.
SCHEMA = {
    "frames": {
        "fps": float,  # frames per second decoded from source videos; the target keeps every frame
        "jpeg_quality": int,
    },
    "crops": {
        "score_threshold": float,  # YuNet detection score below which a face is not kept at all
        "margin": float,  # context around the face box, as a share of its size, kept in the crop
        "max_size": int,  # crops larger than this (px, square) are scaled down
    },
    "filtered": {
        "min_size": int,  # smallest face box side (px in the frame) worth training on
        "min_score": float,
    },
    "alignments": {
        "size": int,  # side of the aligned face and mask (px)
        "padding": float,  # room around the canonical face, as a share of its size
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
        "crf": int,  # x264 quality: lower is better and larger
        "preset": str,  # x264 speed preset
        "feather": int,  # blur radius (px at the aligned size) softening the mask edge
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
        values = data.get(section)
        if values is None:
            raise UserError(f"{PARAMS_FILE}: missing section '{section}'; add it with keys {', '.join(keys)}")
        for key in values:
            if key not in keys:
                raise UserError(
                    f"{PARAMS_FILE}: unknown key '{section}.{key}'; known keys of '{section}': {', '.join(keys)}"
                )
        for key, kind in keys.items():
            if key not in values:
                raise UserError(f"{PARAMS_FILE}: missing key '{section}.{key}' ({kind.__name__}); add it")
            value = values[key]
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise UserError(
                    f"{PARAMS_FILE}: '{section}.{key}' must be {kind.__name__}, got {value!r} ({type(value).__name__})"
                )


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
