"""Data paths are named once, in faceswap/core/paths.py, and say what dvc.yaml says: each output DVC tracks is a
path the code writes by that name, and no stage script spells a data path itself."""

import re

from faceswap.core import paths
from faceswap.core.paths import SIDES
from tests.helpers import REPO
from tests.unit.test_dvc_yaml import stage_definitions

PER_SIDE_STAGES = ("frames", "crops", "filtered", "alignments")


def declared_outputs() -> set[str]:
    """Every path dvc.yaml lists as an output, a metric or a plot of a stage."""
    found = set()
    for _, stage in stage_definitions():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                found.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return found


def named_outputs() -> set[str]:
    """The same, from paths.py."""
    per_side = {str(path) for side in SIDES for stage in PER_SIDE_STAGES
                for path in (paths.stage_output(stage, side), paths.contact_sheet(stage, side))}
    metrics = {str(paths.metrics(f"{stage}-{side}")) for stage in ("filtered", "alignments") for side in SIDES}
    return per_side | metrics | {str(paths.timeline(side)) for side in SIDES} | {
        str(p) for p in (paths.MODEL_FILE, paths.RUN_FILE, paths.CHECKPOINTS, paths.metrics("model"),
                         paths.LOSS_CURVE, paths.OUTPUT_VIDEO, paths.SIDE_BY_SIDE, paths.STILLS,
                         paths.metrics("output"), paths.MASK_MODEL, paths.metrics("mask"))}


def test_every_output_in_dvc_yaml_is_named_in_paths_and_nothing_else():
    assert declared_outputs() == named_outputs()


def test_inputs_in_dvc_yaml_are_the_named_ones():
    stages = dict(stage_definitions())
    for side in SIDES:
        assert str(paths.raw(side)) in stages[f"frames@{side}"]["deps"]
        assert str(paths.exclusions(side)) in stages[f"filtered@{side}"]["deps"]
        assert f"{paths.stage_output('filtered', side)}/{paths.PERSON_FILE}" in stages["output"]["deps"]
    assert f"{paths.stage_output('frames', 'target')}/{paths.VIDEOS_FILE}" in stages["output"]["deps"]


def test_no_stage_script_spells_a_data_path():
    for script in (REPO / "stages").glob("*.py"):
        code = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))
        code = re.sub(r'""".*?"""', "", code, flags=re.S)  # docstrings describe the outputs in words
        assert not re.search(r'["\'](data|models)/', code), script.name
