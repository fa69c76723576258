"""dvc.yaml declares, for every stage, exactly the code it runs and the params sections it reads,
so that a change reruns exactly the stages downstream of it."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())


def local_imports(path: Path) -> set[str]:
    """The modules of the shared package ``faceswap`` a file imports, followed transitively."""
    found, todo = set(), [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("faceswap."):
                continue
            # ``from faceswap.core import cli`` names modules; ``from faceswap.core.cli import X`` names one
            candidates = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            for name in candidates:
                file = REPO / (name.replace(".", "/") + ".py")
                if file.exists() and file not in found:
                    found.add(file)
                    todo.append(file)
    return {str(f.relative_to(REPO)) for f in found}


def test_package_init_files_hold_no_code():
    """dvc.yaml lists the modules a stage imports, not the packages' ``__init__.py``: they must stay empty of
    code (a docstring only), or a change there would rerun nothing."""
    for init in (REPO / "faceswap").rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        assert len(body) <= 1 and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), init


def stage_definitions():
    """Every stage as DVC expands it: ``frames@target`` with ``${key}`` and ``${item...}`` filled in."""
    for name, stage in DVC["stages"].items():
        if "foreach" not in stage:
            yield name, stage
            continue
        items = stage["foreach"]
        pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
        for key, item in pairs:
            yield f"{name}@{key}", yaml.safe_load(fill_in(yaml.safe_dump(stage["do"]), key, item))


def fill_in(text: str, key: str, item) -> str:
    """``${key}``, ``${item}`` and ``${item.field}`` of a foreach stage's text, as DVC fills them in."""
    def value(match):
        field = match.group(1)
        return key if field == "key" else item if field == "item" else item[field.split(".", 1)[1]]
    return re.sub(r"\$\{([\w.]+)\}", value, text)


@pytest.mark.parametrize("name, stage", list(stage_definitions()))
def test_code_deps_are_exactly_the_modules_run(name, stage):
    module = REPO / "stages" / f"{name.split('@')[0]}.py"
    declared = {d for d in stage["deps"] if d.endswith(".py")}
    assert declared == {str(module.relative_to(REPO))} | local_imports(module)


@pytest.mark.parametrize("name, stage", list(stage_definitions()))
def test_params_are_exactly_the_sections_read(name, stage):
    section = name.split("@")[0]
    source = (REPO / "stages" / f"{section}.py").read_text()
    read = set(re.findall(r'params\.load\("(\w+)"\)', source))
    assert section in read
    assert {str(p).split(".")[0] for p in stage["params"]} == read
    for key in (str(p) for p in stage["params"] if str(p).split(".")[0] != section):
        other, field = key.split(".")  # another stage's section: only the one key the script reads from it
        assert f'params.load("{other}").{field}' in source, key


def test_only_the_source_frames_read_the_sampling_rate():
    stages = dict(stage_definitions())
    assert "frames.fps" in stages["frames@source"]["params"]
    assert "frames.fps" not in stages["frames@target"]["params"]


@pytest.mark.parametrize("name, stage", list(stage_definitions()))
def test_package_pins_are_a_dep_of_every_stage(name, stage):
    """Outputs depend on the packages (ffmpeg, OpenCV's YuNet, dlib, TensorFlow): a new pin reruns them."""
    assert "requirements.txt" in stage["deps"]
