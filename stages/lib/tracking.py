"""MLflow tracking: one run per training attempt in one experiment, found again by the output stage."""

import os
import platform
import subprocess
from pathlib import Path

import mlflow

EXPERIMENT = "faceswap"
RUN_FILE = Path("models/run.json")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set (an ``mlflow server``), else ``mlflow.db`` in the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"


def setup() -> None:
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT))


def machine() -> str:
    """The processor's model name, so that throughput figures say where they were measured."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


def git_tags() -> dict:
    """The commit the code came from, and whether the working tree differed from it."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return {"git_commit": commit or "unknown", "git_dirty": str(bool(git("status", "--porcelain", "--", "stages",
                                                                            "params.yaml", "dvc.yaml")))}


def flatten(params: dict) -> dict:
    """``{"model": {"steps": 10}}`` -> ``{"model.steps": 10}``, the keys params.yaml and DVC use."""
    return {f"{section}.{key}": value for section, values in params.items() for key, value in values.items()}
