"""Where the pipeline's files live, named once. ``dvc.yaml`` says the same for DVC; a test checks that every
output it lists is one of these, so a path changes in two places that a test keeps in step, not in forty.

Paths are relative to the repository root, where DVC runs the stages.
"""

from pathlib import Path

SIDES = ("target", "source")  # faceswap's A and B: the video whose face is replaced, the person put in

# What a run of the pipeline reads besides the input videos: its code, its definition and its tracked inputs.
PIPELINE_FILES = ("stages", "faceswap", "dvc.yaml", "params.yaml", "requirements.txt", ".dvcignore", "data/exclude",
                  "data/reference", "data/labels")

DATA = Path("data")
MODELS = Path("models")

VIDEOS_FILE = "videos.json"  # in every image set of a side: each input video's rate, size and frame count
PERSON_FILE = "person.json"  # in data/filtered/<side>/: the embedding taken as the side's person
VERDICTS_FILE = "verdicts.csv"  # in data/filtered/<side>/: each face of the crops, kept or the rule that removed it
ALIGNMENTS_FILE = "alignments.json"  # in data/alignments/<side>/: every frame and its faces

MODEL_FILE = MODELS / "faceswap.keras"
RUN_FILE = MODELS / "run.json"  # the MLflow run of the model, which the output stage logs onto
CHECKPOINTS = MODELS / "checkpoints"
MASK_MODEL = MODELS / "mask"  # the mask stage's folder: its settings, and the segmenter when mask.enabled
SEGMENTER_FILE = "segmenter.keras"  # in MASK_MODEL: the visible-face network
MASK_SETTINGS_FILE = "settings.json"  # in MASK_MODEL: whether it is enabled, its size, what it learnt from

OUTPUT_VIDEO = DATA / "output" / "swapped.mp4"
SIDE_BY_SIDE = DATA / "output" / "side_by_side.mp4"
STILLS = DATA / "output" / "stills"
LOSS_CURVE = DATA / "metrics" / "model-loss.csv"
MASK_LABELS = DATA / "labels" / "target.json"  # polygons drawn on target frames (review page), for the mask


def raw(side: str) -> Path:
    """A side's input videos."""
    return DATA / "raw" / side


def exclusions(side: str) -> Path:
    """Keys of the faces the user removed, one a line."""
    return DATA / "exclude" / f"{side}.txt"


def stage_output(stage: str, side: str) -> Path:
    """The folder a per-side stage writes: ``data/<stage>/<side>``."""
    return DATA / stage / side


def contact_sheet(stage: str, side: str) -> Path:
    return DATA / "sheets" / f"{stage}-{side}.jpg"


def metrics(name: str) -> Path:
    """A metrics file: ``data/metrics/<name>.json``, name being ``<stage>`` or ``<stage>-<side>``."""
    return DATA / "metrics" / f"{name}.json"


def timeline(side: str) -> Path:
    """The per-frame face status of a side, a DVC plot."""
    return DATA / "metrics" / f"alignments-{side}-timeline.csv"
