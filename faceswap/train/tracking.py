"""MLflow tracking: one run per training attempt in one experiment, found again by the output stage."""

import os
import platform
import shutil
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import yaml

from faceswap.core.atomic import process_alive
from faceswap.core.cli import UserError
from faceswap.core.git import git
from faceswap.core.paths import PIPELINE_FILES

EXPERIMENT = "faceswap"
# MLflow 3 opens an experiment without this tag in its GenAI view (traces, token usage); with it, on training runs
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set (an ``mlflow server``), else ``mlflow.db`` in the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


def experiment_name() -> str:
    """The experiment training runs go in: ``MLFLOW_EXPERIMENT_NAME`` when set, else ``faceswap``."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)


def setup() -> None:
    """Point MLflow at the tracking store and the experiment, tagged as one of training runs."""
    mlflow.set_tracking_uri(tracking_uri())
    experiment = mlflow.set_experiment(experiment_name())
    for key, value in EXPERIMENT_KIND.items():
        if experiment.tags.get(key) != value:
            mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, key, value)


def attempt_name() -> str:
    """What the attempt is called: the DVC experiment's name under ``dvc exp run``, the EC2 attempt's id on an
    instance ``python -m cloud`` launched, else the time (UTC) and the short commit, as cloud attempts are named."""
    for variable in ("DVC_EXP_NAME", "ATTEMPT"):
        if os.environ.get(variable):
            return os.environ[variable]
    commit = git_tags()["git_commit"]
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{commit[:7] if commit != 'unknown' else 'nogit'}"


def machine() -> str:
    """The processor's model name and the GPUs' names, so that throughput figures say where they were measured.
    GPUs come from ``nvidia-smi``, which works whichever Keras backend runs."""
    cpu = f"{platform.processor() or platform.machine()} x{os.cpu_count()}"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
                break
    except OSError:
        pass
    if not shutil.which("nvidia-smi"):
        return cpu
    names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                           text=True).stdout.split("\n")
    gpus = [name.strip() for name in names if name.strip()]
    return f"{cpu}; {len(gpus)} x {gpus[0]}" if gpus else cpu


def git_tags() -> dict:
    """The commit the code came from, and whether the pipeline's files differed from it ("unknown" outside git)."""
    try:
        commit = git("rev-parse", "HEAD")
        dirty = str(bool(git("status", "--porcelain", "--", *PIPELINE_FILES)))
    except UserError:
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": dirty}


def dvc_input_tags(stage: str) -> dict:
    """``dvc.<path>``: the hash dvc.lock records for each data input of ``stage``, from the stage upstream that
    wrote it (DVC writes an upstream stage's lock entry as soon as that stage completes, so during ``dvc repro``
    these are the inputs this run reads)."""
    try:
        deps = yaml.safe_load(Path("dvc.yaml").read_text())["stages"][stage]["deps"]
        locked = yaml.safe_load(Path("dvc.lock").read_text())["stages"]
    except (OSError, KeyError, TypeError):
        return {}
    hashes = {out["path"]: out.get("md5", "") for entry in locked.values() for out in entry.get("outs", [])}
    return {f"dvc.{dep}": hashes[dep] for dep in deps if dep in hashes}


def start_run(run_id: str | None):
    """Resume MLflow run ``run_id`` when this tracking store has it, else start a new one named after the
    attempt."""
    if run_id:
        try:
            mlflow.tracking.MlflowClient().get_run(run_id)
            return mlflow.start_run(run_id=run_id)
        except mlflow.exceptions.MlflowException:
            pass
    return mlflow.start_run(run_name=attempt_name())


def mark_process() -> None:
    """Tag the active run with the machine and process training it, so that a later run can tell it was killed."""
    mlflow.set_tags({"host": socket.gethostname(), "pid": str(os.getpid())})


def end_killed_runs() -> None:
    """End as KILLED, with a note, the runs still RUNNING whose training process on this machine is gone (a
    ``kill -9``, a power cut): MLflow cannot end them itself. Runs of other machines are left alone."""
    client = mlflow.tracking.MlflowClient()
    experiment = mlflow.get_experiment_by_name(experiment_name())
    if experiment is None:
        return
    host = socket.gethostname()
    for run in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
        pid = run.data.tags.get("pid", "")
        if run.data.tags.get("host") != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        client.set_tag(run.info.run_id, "note", f"ended KILLED by a later training: its process {pid} on {host} "
                                                "stopped without ending it")
        client.set_terminated(run.info.run_id, "KILLED")


def flatten(params: dict) -> dict:
    """``{"model": {"steps": 10}}`` -> ``{"model.steps": 10}``, the keys params.yaml and DVC use."""
    return {f"{section}.{key}": value for section, values in params.items() for key, value in values.items()}
