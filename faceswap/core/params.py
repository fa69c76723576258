"""params.yaml, loaded and checked in one place: an unknown key, a wrong type or a value out of its range stops the
stage with one line, before any work."""

import functools
import importlib.util
import math
import reprlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, SimpleNamespace

import yaml
from fontTools.ttLib import TTFont

from faceswap.core.cli import UserError
from faceswap.core.paths import SIDES

PARAMS_FILE = Path("params.yaml")
# The visible label's font (drawn in disclosure.py, checked here): DejaVu Sans, which matplotlib ships in its data
# folder (matplotlib.get_data_path(), found without importing matplotlib, a quarter of a second in every stage).
LABEL_FONT = Path(importlib.util.find_spec("matplotlib").origin).with_name("mpl-data") / "fonts/ttf/DejaVuSans.ttf"


@dataclass(frozen=True)
class Range:
    """The values a number may take: from ``low`` to ``high`` (either open-ended when None); ``low`` itself is
    excluded when ``above``. ``odd_or_zero`` for a window that must have a middle. NaN and infinity are never
    in a range: NaN compares false with every bound and would turn a rule off."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    odd_or_zero: bool = False

    def allows(self, value) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        if self.high is not None and value > self.high:
            return False
        return not self.odd_or_zero or value == 0 or value % 2 == 1

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            text = f"{low} (excluded) to {high}" if self.above else f"{low} to {high}"
        elif self.low is not None:
            text = f"above {low}" if self.above else f"{low} or more"
        else:
            text = f"at most {high}"
        return f"{text}, odd or 0" if self.odd_or_zero else text


def _number(value: float | None) -> str:
    """A bound as written in params.yaml: 10000000, not 1e+07."""
    return "" if value is None else str(int(value)) if value == int(value) else f"{value:g}"


def _check_paths_by_side(name: str, value) -> None:
    """``filtered.reference_images``: side -> a list of image paths (a side left out: none)."""
    if not isinstance(value, dict):
        raise UserError(f"{PARAMS_FILE}: '{name}' must be a mapping of sides ({', '.join(SIDES)}) to lists of "
                        f"image paths, got {_shown(value)}")
    for side, paths in value.items():
        if side not in SIDES:
            raise UserError(f"{PARAMS_FILE}: unknown key '{name}.{side}'; known keys: {', '.join(SIDES)}")
        if not (isinstance(paths, list) and all(isinstance(path, str) for path in paths)):
            raise UserError(f"{PARAMS_FILE}: '{name}.{side}' must be a list of image paths, got {_shown(paths)}")


MANY = 10_000_000  # training steps or video frames: more than anyone runs (two hours at 60 fps: 432,000 frames)
COUNT_FROM_0 = Range(0, MANY)
COUNT_FROM_1 = Range(1, MANY)
FRAMES_WINDOW = Range(0, 1000)  # frames a smoothing reaches over
PIXELS = 16384  # the largest side of a frame that H.264 and H.265 encode
BATCH = Range(1, 65536)
SEED = Range(0, 2**32 - 1)  # what numpy's seeding takes
SHARE = Range(0, 1)
WEIGHT = Range(0, 100)  # a loss weight relative to the rest
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

# Every key params.yaml must hold: its type and the range of values it may take, the tuple of strings it may be,
# or the function that checks it. A float key also takes a whole number.
SCHEMA = {
    "frames": {
        "fps": (float, Range(0, 1000, above=True)),  # frames a second decoded from sources; the target keeps all
        "jpeg_quality": (int, Range(1, 100)),
        "accept_short_videos": bool,  # a video that ends before its container says: go on (True) or stop
    },
    "crops": {
        "score_threshold": (float, SHARE),  # YuNet detection score below which a face is not kept at all
        "margin": (float, Range(0, 10)),  # context around the face box, as a share of its size, kept in the crop
        "max_size": (int, Range(16, PIXELS)),  # crops larger than this (px, square) are scaled down
        "retry_upscale": (float, Range(0, 100)),  # a frame with no face is searched again this much larger (<= 1: none)
        "retry_angles": (list, Range(-180, 180)),  # then rotated by each of these angles (degrees) until a face shows
        "detect_scale": (float, Range(0, 1, above=True)),  # YuNet looks at the frame this much smaller first (1: full)
    },
    "filtered": {
        "min_size": (int, Range(0, PIXELS)),  # smallest face box side (px in the frame) worth training on
        "min_score": (float, SHARE),
        "min_sharpness": (float, Range(0, 1_000_000)),  # variance of the Laplacian of the face at 128 px (under
        # 1020**2 for 8 bits); blurrier go (0: off)
        "duplicate_bits": (int, Range(0, 64)),  # source only: a face whose 64-bit hash is this close to the last
        # kept one goes
        "max_identity_distance": (float, Range(0, 10, above=True)),  # dlib embedding distance to the side's person
        # (0.6: dlib's)
        "identity_every": (int, COUNT_FROM_1),  # along a track of overlapping boxes, embed one face in this many
        "reference_images": _check_paths_by_side,  # side -> image paths of that side's person; none: the dominant
    },
    "alignments": {
        "size": (int, Range(16, 1024)),  # side of the aligned face and mask (px)
        "padding": (float, Range(0, 1)),  # room around the canonical face, as a share of its size
        "max_gap": (int, COUNT_FROM_0),  # target: gaps of at most this many frames between faces are interpolated
        "smoothing_window": (int, Range(0, 1001, odd_or_zero=True)),  # target: Savitzky-Golay window over frames for
        # landmarks (0: off)
        "cut_threshold": (float, Range(0, 100)),  # target: ffmpeg scdet score from which a new shot starts
    },
    "mask": {
        "enabled": bool,  # false: no segmenter is trained and the output's mask is the landmark hull alone
        "size": (int, Range(16, 512)),  # side (px) of the faces the segmenter sees, a multiple of 8
        "steps": (int, COUNT_FROM_1),
        "batch_size": (int, BATCH),
        "learning_rate": (float, Range(0, 1, above=True)),
        "labelled_share": (float, SHARE),  # share of each batch drawn from faces of labelled frames
        "holdout": (int, COUNT_FROM_0),  # labelled frames with an occluder kept out of training to measure the IoU
        "seed": (int, SEED),
    },
    "model": {
        "architecture": str,  # ud128, ud128wide, light, original or gpu128 (networks.py)
        "init_from": str,  # "" (random weights), or another attempt's weights: a .keras file or a checkpoint folder
        "expression_input": bool,  # the decoders are given each face's expression from its landmarks (networks.py)
        "init_parts": ("all", "encoder_and_source"),  # what init_from gives; the rest starts from random weights
        "steps": (int, COUNT_FROM_1),  # total steps of the attempt; raising it continues from the last checkpoint
        "batch_size": (int, BATCH),  # faces per side per step, over all devices
        "learning_rate": (float, Range(0, 1, above=True)),  # the peak, after the warmup
        "learning_rate_schedule": ("cosine", "constant"),  # cosine: down to a tenth at model.steps (schedule.py)
        "warmup_steps": (int, COUNT_FROM_0),  # steps over which the learning rate rises from 0
        "warp_off_share": (float, SHARE),  # the last share of the steps trained without the random warp
        "ema_momentum": (float, Range(0, 0.9999)),  # 0: off; else the exported weights are their moving average
        "seed": (int, SEED),
        "ssim_weight": (float, SHARE),  # share of the loss that is DSSIM; the rest is the pixel error
        "pixel_loss": ("mse", "l1"),  # the pixel error: squared (DeepFaceLab's) or absolute
        "eye_weight": (float, WEIGHT),  # loss weight of the eye regions relative to the rest of the face
        "mouth_weight": (float, WEIGHT),
        "mixed_precision": bool,  # float16 compute, for GPUs
        "log_every": (int, COUNT_FROM_1),  # steps between loss logs
        "preview_every": (int, COUNT_FROM_1),  # steps between preview images
        "checkpoint_every": (int, COUNT_FROM_1),  # steps between checkpoints in models/checkpoints
    },
    "output": {
        "codec": ("libx264", "libx265"),
        "crf": (int, Range(0, 51)),  # quality: lower is better and larger
        "preset": PRESETS,  # encoder speed preset
        "colour": ("lab", "histogram", "none"),  # how the new face's colours are matched to the target's
        "colour_smoothing": (int, FRAMES_WINDOW),  # lab: frames the colour correction is averaged over in a shot
        # (0: off)
        "blend": ("alpha", "poisson"),  # feathered alpha, or Poisson (cv2.seamlessClone)
        "forehead": (float, SHARE),  # the mask reaches this share of the brow-to-chin height above the brows
        "erode": (int, Range(0, 256)),  # px (at the model's size) the mask shrinks by
        "feather": (int, Range(0, 256)),  # blur radius (px at the model's size) softening the mask edge
        "smooth_frames": (int, FRAMES_WINDOW),  # placement averaged over this many frames either side; 0 is off
        "stills": (int, Range(0, 1000)),  # before/after stills written to data/output/stills
        "disclosure_text": str,  # the visible label on every output frame (the metadata says it too); _check_label
        "disclosure_corner": ("bottom-right", "bottom-left", "top-right", "top-left", "off"),  # off: no label
    },
}


def _check(data) -> None:
    if not isinstance(data, dict):
        raise UserError(f"{PARAMS_FILE}: expected a mapping of sections ({', '.join(SCHEMA)})")
    for section, value in data.items():
        if section not in SCHEMA:
            raise UserError(f"{PARAMS_FILE}: unknown key {_shown(section)}; known sections: {', '.join(SCHEMA)}")
        if not isinstance(value, dict):
            raise UserError(f"{PARAMS_FILE}: '{section}' must be a mapping of keys")
    for section, keys in SCHEMA.items():
        _check_section(section, keys, data.get(section))
    _check_label(data["output"])


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
    if isinstance(spec, FunctionType):
        spec(name, value)
        return
    if isinstance(spec, tuple) and isinstance(spec[0], str):
        if value not in spec:
            raise UserError(f"{PARAMS_FILE}: '{name}' is {_shown(value)}; choose one of {', '.join(spec)}")
        return
    kind, allowed = spec if isinstance(spec, tuple) else (spec, None)
    _check_type(name, kind, value)
    for number in value if kind is list else [value]:
        if allowed is not None and not (_is_number(number) and allowed.allows(number)):
            raise UserError(f"{PARAMS_FILE}: '{name}' is {_shown(value)}; allowed: {allowed}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_type(name: str, kind, value) -> None:
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and _is_number(value):
        ok = True
    if not ok:
        raise UserError(f"{PARAMS_FILE}: '{name}' must be {kind.__name__}, got {_shown(value)} "
                        f"({type(value).__name__})")


def _check_label(output: dict) -> None:
    """The visible label must be drawable in LABEL_FONT: checked here, so that the first stage stops, not the
    output stage after training. Off, the text is only metadata: any text goes."""
    if output["disclosure_corner"] == "off":
        return
    text = output["disclosure_text"].strip()
    if not text:
        raise UserError(f"{PARAMS_FILE}: 'output.disclosure_text' is empty; write what the video is "
                        "(e.g. 'AI-generated face swap') or set output.disclosure_corner: off")
    missing = [char for char in dict.fromkeys(text) if ord(char) not in _label_font_characters()]
    if missing:
        raise UserError(f"{PARAMS_FILE}: 'output.disclosure_text' has characters the label's font (DejaVu Sans) "
                        f"cannot draw: {', '.join(f'{char!r} (U+{ord(char):04X})' for char in missing)}; write "
                        "them another way, or set output.disclosure_corner: off (the metadata keeps the text)")


@functools.cache
def _label_font_characters() -> frozenset[int]:
    return frozenset(TTFont(LABEL_FONT).getBestCmap())


class _Shortened(reprlib.Repr):
    """Values as a message quotes them: a long string or list shortened, a number of hundreds of digits (YAML's
    hexadecimal has no limit) by its length."""

    def __init__(self):
        super().__init__()
        self.maxstring, self.maxother, self.maxlevel = 80, 80, 3

    def repr_int(self, x, level):
        digits = x.bit_length() * math.log10(2)
        return f"a number of about {digits:.0f} digits" if digits > 40 else repr(x)


_shown = _Shortened().repr


def _kind(spec):
    return spec[0] if isinstance(spec, tuple) and not isinstance(spec[0], str) else spec


def _read(path: Path):
    """The YAML of ``path``; anything that is not readable YAML text is one line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run the stage from the repository root") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at position "
                        f"{error.start}); save it as UTF-8") from None
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read") from None
    except ValueError as error:  # what yaml's int() and date() refuse: a 5,000-digit number, 2026-13-45
        reason = (f"a number too long to read (over {sys.get_int_max_str_digits()} digits)"
                  if "Exceeds the limit" in str(error) else f"not valid YAML ({error})")
        raise UserError(f"{path}: {reason}") from None


def load_all(path: Path = PARAMS_FILE) -> dict:
    """Read and check the whole params file; every stage checks every key, so a typo stops the first stage."""
    data = _read(path)
    _check(data)
    return {section: {key: (float(v) if _kind(SCHEMA[section][key]) is float else v) for key, v in values.items()}
            for section, values in data.items()}


def load(section: str, path: Path = PARAMS_FILE) -> SimpleNamespace:
    """The checked keys of one section, as attributes."""
    return SimpleNamespace(**load_all(path)[section])
