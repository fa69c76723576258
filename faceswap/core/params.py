"""params.yaml, loaded and checked in one place: an unknown key, a wrong type or a value out of its range stops the
stage with one line, before any work."""

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import yaml

from faceswap.core.cli import UserError

PARAMS_FILE = Path("params.yaml")


@dataclass(frozen=True)
class Range:
    """The values a number may take: from ``low`` to ``high`` (either open-ended when None); ``low`` itself is
    excluded when ``above``. ``odd_or_zero`` for a window that must have a middle."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    odd_or_zero: bool = False

    def allows(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        if self.high is not None and value > self.high:
            return False
        return not self.odd_or_zero or value == 0 or value % 2 == 1

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"{self.low:g} (excluded) to {self.high:g}" if self.above else f"{self.low:g} to {self.high:g}"
        elif self.low is not None:
            text = f"above {self.low:g}" if self.above else f"{self.low:g} or more"
        else:
            text = f"at most {self.high:g}"
        return f"{text}, odd or 0" if self.odd_or_zero else text


POSITIVE = Range(0, above=True)
AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
SHARE = Range(0, 1)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

# Every key params.yaml must hold: its type and the range of values it may take, or the tuple of strings it may
# be. A float key also takes a whole number.
SCHEMA = {
    "frames": {
        "fps": (float, POSITIVE),  # frames per second decoded from source videos; the target keeps every frame
        "jpeg_quality": (int, Range(1, 100)),
        "accept_short_videos": bool,  # a video that ends before its container says: go on (True) or stop
    },
    "crops": {
        "score_threshold": (float, SHARE),  # YuNet detection score below which a face is not kept at all
        "margin": (float, AT_LEAST_0),  # context around the face box, as a share of its size, kept in the crop
        "max_size": (int, Range(16)),  # crops larger than this (px, square) are scaled down
        "retry_upscale": (float, AT_LEAST_0),  # a frame with no face is searched again this much larger (<= 1: none)
        "retry_angles": (list, Range(-180, 180)),  # then rotated by each of these angles (degrees) until a face shows
        "detect_scale": (float, Range(0, 1, above=True)),  # YuNet looks at the frame this much smaller first (1: full)
    },
    "filtered": {
        "min_size": (int, AT_LEAST_0),  # smallest face box side (px in the frame) worth training on
        "min_score": (float, SHARE),
        "min_sharpness": (float, AT_LEAST_0),  # variance of the Laplacian of the face at 128 px; blurrier go (0: off)
        "duplicate_bits": (int, Range(0, 64)),  # source only: a face whose 64-bit hash is this close to the last
        # kept one goes
        "max_identity_distance": (float, POSITIVE),  # dlib embedding distance to the side's person (0.6: dlib's)
        "identity_every": (int, AT_LEAST_1),  # along a track of overlapping boxes, embed one face in this many
        "reference_images": dict,  # side -> list of image paths of that side's person; none: the dominant face
    },
    "alignments": {
        "size": (int, Range(16, 1024)),  # side of the aligned face and mask (px)
        "padding": (float, Range(0, 1)),  # room around the canonical face, as a share of its size
        "max_gap": (int, AT_LEAST_0),  # target: gaps of at most this many frames between faces are interpolated
        "smoothing_window": (int, Range(0, odd_or_zero=True)),  # target: Savitzky-Golay window over frames for
        # landmarks (0: off)
        "cut_threshold": (float, Range(0, 100)),  # target: ffmpeg scdet score from which a new shot starts
    },
    "mask": {
        "enabled": bool,  # false: no segmenter is trained and the output's mask is the landmark hull alone
        "size": (int, Range(16, 512)),  # side (px) of the faces the segmenter sees, a multiple of 8
        "steps": (int, AT_LEAST_1),
        "batch_size": (int, AT_LEAST_1),
        "learning_rate": (float, Range(0, 1, above=True)),
        "labelled_share": (float, SHARE),  # share of each batch drawn from faces of labelled frames
        "holdout": (int, AT_LEAST_0),  # labelled frames with an occluder kept out of training to measure the IoU
        "seed": (int, AT_LEAST_0),
    },
    "model": {
        "architecture": str,  # ud128, ud128wide, light, original or gpu128 (networks.py)
        "init_from": str,  # "" (random weights), or another attempt's weights: a .keras file or a checkpoint folder
        "init_parts": ("all", "encoder_and_source"),  # what init_from gives; the rest starts from random weights
        "steps": (int, AT_LEAST_1),  # total steps of the attempt; raising it continues from the last checkpoint
        "batch_size": (int, AT_LEAST_1),  # faces per side per step, over all devices
        "learning_rate": (float, Range(0, 1, above=True)),  # the peak, after the warmup
        "learning_rate_schedule": ("cosine", "constant"),  # cosine: down to a tenth at model.steps (schedule.py)
        "warmup_steps": (int, AT_LEAST_0),  # steps over which the learning rate rises from 0
        "warp_off_share": (float, SHARE),  # the last share of the steps trained without the random warp
        "ema_momentum": (float, Range(0, 0.9999)),  # 0: off; else the exported weights are their moving average
        "seed": (int, AT_LEAST_0),
        "ssim_weight": (float, SHARE),  # share of the loss that is DSSIM; the rest is the pixel error
        "pixel_loss": ("mse", "l1"),  # the pixel error: squared (DeepFaceLab's) or absolute
        "eye_weight": (float, AT_LEAST_0),  # loss weight of the eye regions relative to the rest of the face
        "mouth_weight": (float, AT_LEAST_0),
        "mixed_precision": bool,  # float16 compute, for GPUs
        "log_every": (int, AT_LEAST_1),  # steps between loss logs
        "preview_every": (int, AT_LEAST_1),  # steps between preview images
        "checkpoint_every": (int, AT_LEAST_1),  # steps between checkpoints in models/checkpoints
    },
    "output": {
        "codec": ("libx264", "libx265"),
        "crf": (int, Range(0, 51)),  # quality: lower is better and larger
        "preset": PRESETS,  # encoder speed preset
        "colour": ("lab", "histogram", "none"),  # how the new face's colours are matched to the target's
        "colour_smoothing": (int, AT_LEAST_0),  # lab: frames the colour correction is averaged over in a shot (0: off)
        "blend": ("alpha", "poisson"),  # feathered alpha, or Poisson (cv2.seamlessClone)
        "forehead": (float, SHARE),  # the mask reaches this share of the brow-to-chin height above the brows
        "erode": (int, AT_LEAST_0),  # px (at the model's size) the mask shrinks by
        "feather": (int, AT_LEAST_0),  # blur radius (px at the model's size) softening the mask edge
        "smooth_frames": (int, AT_LEAST_0),  # placement averaged over this many frames either side; 0 is off
        "stills": (int, AT_LEAST_0),  # before/after stills written to data/output/stills
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


def _check_value(name: str, spec, value) -> None:
    if isinstance(spec, tuple) and isinstance(spec[0], str):
        if value not in spec:
            raise UserError(f"{PARAMS_FILE}: '{name}' is {value!r}; choose one of {', '.join(spec)}")
        return
    kind, allowed = spec if isinstance(spec, tuple) else (spec, None)
    _check_type(name, kind, value)
    for number in value if kind is list else [value]:
        if allowed is not None and not (_is_number(number) and allowed.allows(number)):
            raise UserError(f"{PARAMS_FILE}: '{name}' is {value!r}; allowed: {allowed}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_type(name: str, kind, value) -> None:
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and _is_number(value):
        ok = True
    if not ok:
        raise UserError(f"{PARAMS_FILE}: '{name}' must be {kind.__name__}, got {value!r} ({type(value).__name__})")


def _kind(spec):
    return spec[0] if isinstance(spec, tuple) and not isinstance(spec[0], str) else spec


def load_all(path: Path = PARAMS_FILE) -> dict:
    """Read and check the whole params file; every stage checks every key, so a typo stops the first stage."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run the stage from the repository root") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    _check(data)
    return {section: {key: (float(v) if _kind(SCHEMA[section][key]) is float else v) for key, v in values.items()}
            for section, values in data.items()}


def load(section: str, path: Path = PARAMS_FILE) -> SimpleNamespace:
    """The checked keys of one section, as attributes."""
    return SimpleNamespace(**load_all(path)[section])
