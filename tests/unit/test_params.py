"""params.yaml is checked in one place: unknown keys, wrong types and missing keys stop with one line."""

import pytest
import yaml

from faceswap.core import params
from faceswap.core.cli import UserError
from tests.helpers import REPO, error_lines, run_stage


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def repo_params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repository_params_are_valid():
    loaded = params.load_all(REPO / "params.yaml")
    assert set(loaded) == set(params.SCHEMA)
    assert isinstance(loaded["frames"]["fps"], float)


def test_section_as_attributes(tmp_path):
    section = params.load("model", write(tmp_path / "p.yaml", repo_params()))
    assert section.architecture == repo_params()["model"]["architecture"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["model"].update(stepz=3), "unknown key 'model.stepz'"),
    (lambda d: d.update(extra={}), "unknown key 'extra'"),
    (lambda d: d["model"].update(steps="many"), "'model.steps' must be int"),
    (lambda d: d["model"].update(steps=True), "'model.steps' must be int"),
    (lambda d: d["crops"].pop("margin"), "missing key 'crops.margin'"),
    (lambda d: d.pop("output"), "missing section 'output'"),
])
def test_bad_params_name_the_key(tmp_path, change, message):
    data = repo_params()
    change(data)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        params.load_all(write(tmp_path / "p.yaml", data))


def test_float_key_takes_whole_number(tmp_path):
    data = repo_params()
    data["frames"]["fps"] = 12
    assert params.load_all(write(tmp_path / "p.yaml", data))["frames"]["fps"] == 12.0


def test_stage_with_unknown_key_exits_with_one_line_and_no_output(project):
    data = repo_params()
    data["frames"]["colour"] = "red"
    write(project / "params.yaml", data)
    (project / "data/raw/target").mkdir(parents=True)
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: params.yaml: unknown key 'frames.colour'; known keys of 'frames': fps, jpeg_quality, "
        "accept_short_videos"]
    assert not (project / "data/frames").exists()


def test_every_number_has_a_range():
    """A number without a range is a key nobody thought about: each int and float key says what it allows."""
    for section, keys in params.SCHEMA.items():
        for key, spec in keys.items():
            if params._kind(spec) in (int, float):
                assert isinstance(spec, tuple) and isinstance(spec[1], params.Range), f"{section}.{key}"


@pytest.mark.parametrize("allowed, inside, outside, text", [
    (params.Range(1, 100), [1, 100], [0, 101], "1 to 100"),
    (params.Range(0, above=True), [0.001], [0, -3], "above 0"),
    (params.Range(0, 1, above=True), [1, 0.5], [0, 1.01], "0 (excluded) to 1"),
    (params.Range(0, odd_or_zero=True), [0, 1, 5], [-1, 2, 4], "0 or more, odd or 0"),
])
def test_range(allowed, inside, outside, text):
    assert all(allowed.allows(v) for v in inside) and not any(allowed.allows(v) for v in outside)
    assert str(allowed) == text
