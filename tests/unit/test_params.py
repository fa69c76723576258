"""params.yaml is checked in one place: unknown keys, wrong types and missing keys stop with one line."""

from pathlib import Path

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


def test_every_number_has_a_range_with_an_upper_bound():
    """A number without a range is a key nobody thought about: each int and float key says what it allows. Without
    an upper bound, 1e308 or a 4,000-digit integer is a value, that a float key could not even be converted to."""
    for section, keys in params.SCHEMA.items():
        for key, spec in keys.items():
            if params._kind(spec) in (int, float, list):
                assert isinstance(spec, tuple) and isinstance(spec[1], params.Range), f"{section}.{key}"
                assert spec[1].high is not None, f"{section}.{key}"


@pytest.mark.parametrize("allowed, inside, outside, text", [
    (params.Range(1, 100), [1, 100], [0, 101], "1 to 100"),
    (params.Range(0, above=True), [0.001], [0, -3], "above 0"),
    (params.Range(0, 1, above=True), [1, 0.5], [0, 1.01], "0 (excluded) to 1"),
    (params.Range(0, odd_or_zero=True), [0, 1, 5], [-1, 2, 4], "0 or more, odd or 0"),
    (params.Range(1, 10_000_000), [1, 10_000_000], [float("nan"), float("inf"), 10**400], "1 to 10000000"),
    (params.Range(-180, 180), [-180, 0.5], [float("-inf"), float("nan")], "-180 to 180"),
])
def test_range(allowed, inside, outside, text):
    assert all(allowed.allows(v) for v in inside) and not any(allowed.allows(v) for v in outside)
    assert str(allowed) == text


@pytest.mark.parametrize("content, message", ids=["not-utf8", "deep-nesting", "5000-digits", "no-such-date"],
                         argvalues=[
    (b"frames:\n  fps: 30 \xff\n", "params.yaml: not UTF-8 text (byte 0xff at position 18); save it as UTF-8"),
    (b"frames: " + b"[" * 20000 + b"]" * 20000, "params.yaml: nested too deeply to read"),
    (b"frames: {fps: " + b"9" * 5000 + b"}", "params.yaml: a number too long to read (over 4300 digits)"),
    (b"frames: {fps: 2026-13-45}", "params.yaml: not valid YAML (month must be in 1..12)"),
])
def test_an_unreadable_params_file_is_one_line(tmp_path, content, message):
    (tmp_path / "params.yaml").write_bytes(content)
    with pytest.raises(UserError) as raised:
        params.load_all(tmp_path / "params.yaml")
    assert str(raised.value) == str(tmp_path / message)


def test_a_folder_named_params_yaml_is_one_line(tmp_path):
    (tmp_path / "params.yaml").mkdir()
    with pytest.raises(UserError, match=r"params\.yaml: cannot be read \(Is a directory\)$"):
        params.load_all(tmp_path / "params.yaml")


@pytest.mark.parametrize("key, value", [
    ("frames.fps", float("nan")), ("frames.fps", float("inf")), ("filtered.min_sharpness", float("nan")),
    ("filtered.max_identity_distance", float("nan")), ("crops.retry_angles", [15, float("nan")]),
    ("model.learning_rate", float("nan")), ("model.ema_momentum", float("nan")),
])
def test_nan_and_infinity_are_no_numbers_in_range(tmp_path, key, value):
    data = repo_params()
    section, name = key.split(".")
    data[section][name] = value
    with pytest.raises(UserError, match=rf"'{key}' is .*(nan|inf).*; allowed: "):
        params.load_all(write(tmp_path / "p.yaml", data))


@pytest.mark.parametrize("key, value, allowed", ids=lambda v: v if isinstance(v, str) else "value", argvalues=[
    ("output.erode", 257, "0 to 256"), ("output.feather", 10**9, "0 to 256"),
    ("model.steps", 10_000_001, "1 to 10000000"), ("model.warmup_steps", 10**400, "0 to 10000000"),
    ("model.seed", 2**32, "0 to 4294967295"), ("mask.seed", -1, "0 to 4294967295"),
    ("frames.fps", 10**400, "0 (excluded) to 1000")
])
def test_upper_bounds(tmp_path, key, value, allowed):
    data = repo_params()
    section, name = key.split(".")
    data[section][name] = value
    with pytest.raises(UserError) as raised:
        params.load_all(write(tmp_path / "p.yaml", data))
    assert str(raised.value).endswith(f"; allowed: {allowed}")
    assert len(str(raised.value)) < 200  # a 400-digit value is shortened in the message
    if value > 10**40:
        assert f"'{key}' is a number of about " in str(raised.value)


def test_a_hexadecimal_number_of_thousands_of_digits_is_out_of_range(tmp_path):
    """YAML reads 0x... without Python's 4,300-digit limit: the range, and the message, still hold."""
    text = (REPO / "params.yaml").read_text().replace("fps: 30 ", "fps: 0x" + "f" * 5000 + " ", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(UserError) as raised:
        params.load_all(tmp_path / "params.yaml")
    assert str(raised.value) == (
        "params.yaml: 'frames.fps' is a number of about 6021 digits; allowed: 0 (excluded) to 1000")


@pytest.mark.parametrize("references, message", ids=["int", "string", "list-with-int", "unknown-side"], argvalues=[
    ({"target": 5, "source": []}, "'filtered.reference_images.target' must be a list of image paths, got 5"),
    ({"target": "ref.jpg", "source": []},
     "'filtered.reference_images.target' must be a list of image paths, got 'ref.jpg'"),
    ({"target": ["a.jpg", 3]}, "'filtered.reference_images.target' must be a list of image paths, got ['a.jpg', 3]"),
    ({"tagret": ["a.jpg"]}, "unknown key 'filtered.reference_images.tagret'; known keys: target, source"),
])
def test_reference_images_are_lists_of_paths(tmp_path, references, message):
    data = repo_params()
    data["filtered"]["reference_images"] = references
    with pytest.raises(UserError) as raised:
        params.load_all(write(tmp_path / "p.yaml", data))
    assert str(raised.value) == f"params.yaml: {message}"


def test_reference_images_of_one_side(tmp_path):
    data = repo_params()
    data["filtered"]["reference_images"] = {"target": ["data/reference/woman.jpg"]}
    loaded = params.load_all(write(tmp_path / "p.yaml", data))
    assert loaded["filtered"]["reference_images"] == {"target": ["data/reference/woman.jpg"]}


@pytest.mark.parametrize("text, refused", [
    ("Généré par IA 生成", "'生' (U+751F), '成' (U+6210)"),
    ("AI face swap\t🦀 生成", "'\\t' (U+0009), '🦀' (U+1F980), '生' (U+751F), '成' (U+6210)"),
])
def test_label_characters_the_font_cannot_draw_are_refused_by_name(tmp_path, text, refused):
    data = repo_params()
    data["output"]["disclosure_text"] = text
    with pytest.raises(UserError) as raised:
        params.load_all(write(tmp_path / "p.yaml", data))
    assert str(raised.value) == (
        "params.yaml: 'output.disclosure_text' has characters the label's font (DejaVu Sans) cannot "
        f"draw: {refused}; write them another way, or set output.disclosure_corner: off (the metadata keeps the text)")


def test_any_text_without_a_visible_label(tmp_path):
    data = repo_params()
    data["output"].update(disclosure_text="生成 🦀", disclosure_corner="off")
    assert params.load_all(write(tmp_path / "p.yaml", data))["output"]["disclosure_text"] == "生成 🦀"


def test_an_empty_label_is_refused(tmp_path):
    data = repo_params()
    data["output"]["disclosure_text"] = "  "
    with pytest.raises(UserError, match="'output.disclosure_text' is empty"):
        params.load_all(write(tmp_path / "p.yaml", data))


def test_label_font_is_matplotlibs_dejavu_sans():
    import matplotlib

    assert params.LABEL_FONT == Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"
    assert params.LABEL_FONT.is_file()


def test_stage_with_params_not_utf8_exits_with_one_line(project):
    (project / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes().replace(b"AI-generated", b"\xe9"))
    (project / "data/raw/target").mkdir(parents=True)
    result = run_stage("frames", "--side", "target", check=False)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: params.yaml: not UTF-8 text (byte 0xe9 at position ")
    assert not (project / "data/frames").exists()
