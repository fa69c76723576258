"""A stage output found damaged (cut short by a copy, emptied, edited, never fetched): one UserError naming the
file, what is wrong with it and how to get it back, from whichever reader of its format finds it."""

import json
from fractions import Fraction
from pathlib import Path

from faceswap.core.cli import UserError


def damaged(path: Path, problem: str) -> UserError:
    """The error for a damaged file of ``data/<stage>/<side>/``: DVC's cache may hold it whole, else the stage
    writes it anew."""
    folder = Path(path).parent
    return UserError(f"{path}: {problem}; restore it with `dvc checkout {folder}`, or write it anew with "
                     f"`dvc repro -f {folder.parent.name}@{folder.name}`")


def read_json(path: Path):
    """A JSON file a stage wrote; missing, not UTF-8, not JSON (cut short) or nested past Python's limit, it is
    damaged."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise damaged(path, "not found") from None
    except IsADirectoryError:
        raise damaged(path, "is a folder, not a file") from None
    except UnicodeDecodeError as error:
        raise damaged(path, f"not UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise damaged(path, f"not valid JSON, cut short? ({error})") from None
    except RecursionError:
        raise damaged(path, "nested too deep to be a file of ours") from None


def is_rate(value) -> bool:
    """A frame rate as the stages write it: a positive fraction such as ``"24000/1001"``."""
    try:
        return isinstance(value, str) and Fraction(value) > 0
    except (ValueError, ZeroDivisionError):
        return False


def is_count(value, least: int = 0) -> bool:
    """A whole number of ``least`` or more (a frame count, a size), as JSON holds it."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
