"""What the cloud tests share: the launcher run as a user runs it (in SkyPilot's venv), the loopback bucket as the
DVC remote, and a SkyPilot task's ``run`` executed here as SkyPilot executes it on an instance."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import REPO, sh, tool_env, use_loopback_remote

BUCKET = "faceswap-cloud"
# credentials only the launching machine has; they must never reach the task, a log or a tag
ACCESS_KEY, SECRET_KEY = "AKIAFAKELAUNCHERKEY1", "launcher-secret-must-not-leak"
MLFLOW_SERVER = "http://mlflow.example:5000"
MLFLOW_USER, MLFLOW_PASSWORD = "trainer", "trainer-password-never-printed"  # of the test's MLflow login
# SkyPilot lives in a venv of its own (requirements-cloud.txt); CI makes it as README says
CLOUD_PYTHON = Path(os.environ.get("FACESWAP_CLOUD_PYTHON", REPO / ".venv-cloud/bin/python"))


def with_remote(root, endpoint):
    """Point the repository's DVC remote at the loopback bucket in config.local, as ``dvc remote modify --local``
    would (written directly: two dvc calls per test add up)."""
    use_loopback_remote(root, endpoint, BUCKET)


def push_to_new_origin(root):
    """Commit everything and push it to a bare repository beside ``root``, the git remote SkyPilot clones."""
    bare = root.with_name(f"{root.name}-origin.git")
    sh("git", "init", "-q", "--bare", str(bare), cwd=root.parent)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "project", cwd=root)
    sh("git", "remote", "add", "origin", str(bare), cwd=root)
    sh("git", "push", "-q", "-u", "origin", "HEAD", cwd=root)
    return bare


def cloud(*args, cwd=None, env=None):
    """``python -m cloud ...`` with SkyPilot's venv, in ``cwd`` (default: the working directory)."""
    if not CLOUD_PYTHON.exists():
        raise AssertionError(f"{CLOUD_PYTHON} is missing: python3 -m venv .venv-cloud && .venv-cloud/bin/pip install "
                             "-r requirements-cloud.txt (README: Training in the cloud), or set FACESWAP_CLOUD_PYTHON")
    where = Path(cwd or Path.cwd())
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(where), "SKYPILOT_DISABLE_USAGE_COLLECTION": "1"}
    return subprocess.run([str(CLOUD_PYTHON), "-m", "cloud", *args], cwd=where, env=environment,
                          capture_output=True, text=True)


def launch_args(attempt, *extra, mlflow_uri=MLFLOW_SERVER):
    mlflow = ("--mlflow-uri", mlflow_uri) if mlflow_uri else ()
    return ("launch", "--attempt", attempt, *mlflow, *extra)


def dry_run_tasks(output: str) -> list[dict]:
    """The tasks a ``--dry-run`` printed (each after its ``# attempt ...`` line), as dicts."""
    parts = output.split("# attempt ")[1:]
    return [yaml.safe_load(part.split("\n", 1)[1].split("\n# plan")[0]) for part in parts]


def run_task(task: dict, workdir: Path, mount: Path, env: dict | None = None, wait: bool = True):
    """Run ``task`` here as SkyPilot runs it on a fresh instance: its workdir cloned at its ref, its envs and secrets
    in the environment, its ``run`` in bash; ``mount`` stands in for its bucket mount, and this Python's tools for
    the venv its ``setup`` makes. A Popen in its own process group when not ``wait``."""
    sh("git", "clone", "-q", task["workdir"]["url"], str(workdir), cwd=workdir.parent)
    sh("git", "checkout", "-q", task["workdir"]["ref"], cwd=workdir)
    home = workdir.with_name(f"{workdir.name}-home")
    (home / "faceswap-venv").mkdir(parents=True)
    (home / "faceswap-venv/bin").symlink_to(Path(sys.executable).parent)
    environment = {k: v for k, v in tool_env().items() if k != "AWS_ENDPOINT_URL"}  # the instance: its role
    environment.update({**task["envs"], "CHECKPOINT_MOUNT": str(mount), "HOME": str(home), **(env or {})})
    command = ["bash", "-c", task["run"]]
    if not wait:
        return subprocess.Popen(command, cwd=workdir, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True)


def moto_client(name):
    """A client of the loopback endpoint that does not depend on the test's environment."""
    import boto3

    return boto3.client(name, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="y")
