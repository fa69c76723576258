"""Quality of a training recipe on the sample: one attempt's model and output stages in a folder of its own, over
this project's extracted data, and the output's measures side by side with other attempts'.

    dvc repro mask                                          # frames .. alignments and the mask, once
    python -m bench.quality run bench-runs/base -S model.steps=2000
    python -m bench.quality run bench-runs/told -S model.expression_input=true
    python -m bench.quality run bench-runs/told-4x --go-on-from bench-runs/told -S model.steps=8000
    python -m bench.quality table bench-runs/*

Each run folder links this project's code and data (``data/raw`` .. ``data/alignments``, ``models/mask``) and has
its own ``params.yaml`` (this one's with the ``-S`` changes), ``models/``, MLflow store and outputs; ``--go-on-from``
copies another run's checkpoints and MLflow store first, so that raising ``model.steps`` trains on from where it
stopped (with a constant learning rate, the same trajectory as a longer run from scratch, for a fraction of the
time). The stages run as ``dvc repro`` would run them; nothing here changes the project itself.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.extract import machine
from cloud import sweep
from faceswap.core.cli import UserError

LINKED = ("faceswap", "stages", "dvc.yaml", "requirements.txt", "data/raw", "data/frames", "data/crops",
          "data/filtered", "data/alignments", "data/labels", "data/reference", "data/exclude", "models/mask")
COLUMNS = {"expression_landmark_error": "expr. error", "eye_openness_correlation": "eyes corr.",
           "mouth_openness_correlation": "mouth corr.", "mouth_openness_error": "mouth err.",
           "pose_roll_error_deg": "roll (°)", "sharpness_ratio": "sharpness",
           "identity_distance_to_source": "identity dist.", "identity_verified_source": "verified",
           "reconstruction_ssim_target": "SSIM target", "reconstruction_ssim_source": "SSIM source",
           "edge_spill": "edge spill", "colour_flicker": "flicker"}


def changed_params(changes: list[str]) -> dict:
    """This project's params with ``section.key=value`` changes (one value each, read as ``cloud.sweep`` reads them)."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    try:
        (change,) = sweep.grid(sweep.axes(changes, params))
    except (UserError, ValueError) as error:
        sys.exit(f"error: {error}" if isinstance(error, UserError) else "error: -S takes one value per key here")
    return sweep.apply(params, change)


def prepare(folder: Path, changes: list[str], go_on_from: Path | None) -> None:
    project = Path.cwd()
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("data/metrics", "data/output", "models"):
        (folder / sub).mkdir(parents=True)
    for name in LINKED:
        (folder / name).symlink_to(project / name)
    (folder / "params.yaml").write_text(yaml.safe_dump(changed_params(changes), sort_keys=False))
    if go_on_from:
        shutil.copytree(go_on_from / "models/checkpoints", folder / "models/checkpoints")
        shutil.copy2(go_on_from / "mlflow.db", folder / "mlflow.db")


def run(folder: Path, changes: list[str], go_on_from: Path | None) -> None:
    prepare(folder, changes, go_on_from)
    seconds = {}
    for stage in ("model", "output"):
        started = time.perf_counter()
        with open(folder / f"{stage}.log", "w") as log:
            result = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=folder, stdout=log,
                                    stderr=subprocess.STDOUT)
        if result.returncode:
            sys.exit(f"error: the {stage} stage failed in {folder}; see {folder / f'{stage}.log'}")
        seconds[stage] = round(time.perf_counter() - started, 1)
    (folder / "seconds.json").write_text(json.dumps(seconds))
    print(f"{folder}: model {seconds['model']} s, output {seconds['output']} s ({machine()})")


def table(folders: list[Path]) -> None:
    print(f"machine: {machine()}")
    print("| run | " + " | ".join(COLUMNS.values()) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for folder in folders:
        measures = folder / "data/metrics/output.json"
        if measures.is_file():
            metrics = json.loads(measures.read_text())
            print(f"| {folder.name} | " + " | ".join(f"{metrics.get(key)}" for key in COLUMNS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train and convert one attempt in FOLDER")
    one.add_argument("folder", type=Path)
    one.add_argument("-S", dest="changes", action="append", default=[], help="section.key=value")
    one.add_argument("--go-on-from", type=Path, help="a run folder whose attempt to train on")
    many = commands.add_parser("table", help="the output measures of run folders")
    many.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        run(args.folder.resolve(), args.changes, args.go_on_from and args.go_on_from.resolve())
    else:
        table(args.folders)


if __name__ == "__main__":
    main()
