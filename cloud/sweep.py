"""A grid of params.yaml changes, ``dvc exp run --queue`` style: ``-S model.learning_rate=1e-4,5e-4 -S
model.steps=4000`` is two attempts. Values are read as YAML (``1e-4`` a number, ``true`` a boolean)."""

import itertools

import yaml

from faceswap.core.cli import UserError


def value(text: str):
    """A number if it reads as one (PyYAML would keep ``1e-4`` as text), else what YAML reads."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def axes(changes: list[str], params: dict) -> dict[str, list]:
    """``{"section.key": [values]}`` of ``-S`` arguments, each key checked against ``params``."""
    found = {}
    for change in changes:
        key, equals, values = change.partition("=")
        section, _, name = key.partition(".")
        if not equals or not values or section not in params or name not in (params[section] or {}):
            raise UserError(f"-S {change}: give section.key=value[,value...] with a key params.yaml has")
        found[key] = [value(v) for v in values.split(",")]
    return found


def grid(found: dict[str, list]) -> list[dict]:
    """Every combination of the axes' values, in order: one attempt each."""
    return [dict(zip(found, combination, strict=True)) for combination in itertools.product(*found.values())]


def apply(params: dict, change: dict) -> dict:
    """``params`` with ``change``'s ``section.key: value`` set."""
    result = {section: dict(values or {}) for section, values in params.items()}
    for key, new in change.items():
        section, _, name = key.partition(".")
        result[section][name] = new
    return result


def label(change: dict) -> str:
    return " ".join(f"{key}={new}" for key, new in change.items())
