"""The SkyPilot task that trains one attempt: what SkyPilot provisions, and what it runs there.

SkyPilot's managed jobs do the provisioning: a spot GPU instance in whatever zone or region has capacity, a new
one after a reclaim (the same task, the same ``ATTEMPT``), and teardown at the end. The task clones this project at
the pushed commit (SkyPilot's git workdir), installs ``requirements-gpu.txt`` (``setup``), and runs
``cloud/run.sh``: ``dvc pull`` of the faces, the model stage resuming from the checkpoints mirrored to the
attempt's prefix of the DVC remote's bucket (mounted at ``CHECKPOINT_MOUNT``, ``MOUNT_CACHED``), ``dvc push`` of
the model and the attempt's record for ``python -m cloud fetch``.

Secrets (the MLflow login, a git token) are SkyPilot secrets: named here, their values given only to SkyPilot by
``launch`` from this machine's environment, never in the task's YAML, its envs, a log or a process argument.
"""

import json
from dataclasses import dataclass, field

import yaml

from cloud import attempts
from cloud.origin import TRAIN_STAGE, DvcRemote

CHECKPOINT_MOUNT = "/checkpoints"
CHECKPOINTS = "checkpoints"  # under the attempt's prefix
SECRETS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
GPUS = "T4:1"  # a g4dn.xlarge, the cheapest NVIDIA GPU on EC2
VENV = "$HOME/faceswap-venv"  # made by setup, on PATH for run
PYTHON = "3.12"  # whatever the image has: uv (which SkyPilot installs on every instance) fetches this one
SETUP = f"""set -e
UV=$HOME/.local/bin/uv
$UV venv --allow-existing --python {PYTHON} {VENV}
VIRTUAL_ENV={VENV} $UV pip install --quiet -r requirements-gpu.txt
"""
RUN = f"""PATH={VENV}/bin:$PATH bash cloud/run.sh
"""


@dataclass(frozen=True)
class Attempt:
    """One training attempt as the launcher knows it: where its code, faces and record live, and on what."""

    attempt: str
    commit: str
    git_url: str
    remote: DvcRemote
    pull_targets: list[str]
    uncached_outs: list[str]
    mlflow_uri: str
    gpus: str = GPUS
    instance_type: str = ""
    spot: bool = True
    disk_gb: int = 100
    regions: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)  # the sweep's params.yaml changes, "section.key": value

    @property
    def prefix(self) -> str:
        return attempts.prefix(self.remote, self.attempt)

    @property
    def checkpoints_url(self) -> str:
        return f"s3://{self.remote.bucket}/{self.prefix}/{CHECKPOINTS}"


def resources(attempt: Attempt) -> dict:
    spec = {"infra": "aws", "use_spot": attempt.spot, "disk_size": attempt.disk_gb,
            "job_recovery": {"strategy": "EAGER_NEXT_REGION"}}  # after a reclaim: the next region with capacity
    if attempt.instance_type:
        spec["instance_type"] = attempt.instance_type
    if attempt.gpus:
        spec["accelerators"] = attempt.gpus
    if attempt.regions:
        return {**{k: v for k, v in spec.items() if k != "infra"},
                "any_of": [{"infra": f"aws/{region}"} for region in attempt.regions]}
    return spec


def config(attempt: Attempt) -> dict:
    """The task as SkyPilot's YAML has it (``sky jobs launch`` of this dict is the launch)."""
    envs = {"ATTEMPT": attempt.attempt, "TRAIN_STAGE": TRAIN_STAGE, "DVC_REMOTE": attempt.remote.name,
            "REMOTE_URL": attempt.remote.url, "REMOTE_ENDPOINT": attempt.remote.endpoint_url or "",
            "ATTEMPT_BUCKET": attempt.remote.bucket, "ATTEMPT_PREFIX": attempt.prefix,
            "PULL_TARGETS": " ".join(attempt.pull_targets), "UNCACHED_OUTS": " ".join(attempt.uncached_outs),
            "CHECKPOINT_MOUNT": CHECKPOINT_MOUNT, "PARAMS_CHANGES": json.dumps(attempt.params, sort_keys=True),
            "MLFLOW_TRACKING_URI": attempt.mlflow_uri}
    return {"name": attempt.attempt, "workdir": {"url": attempt.git_url, "ref": attempt.commit},
            "resources": resources(attempt), "envs": envs,
            "file_mounts": {CHECKPOINT_MOUNT: {"source": attempt.checkpoints_url, "mode": "MOUNT_CACHED"}},
            "setup": SETUP, "run": RUN}


def sky_task(attempt: Attempt, secrets: dict[str, str]):
    """The ``sky.Task``, with the secrets' values (which stay out of ``config``)."""
    import sky

    task = sky.Task.from_yaml_config(config(attempt))
    task.update_secrets(secrets)
    return task


class Dumper(yaml.SafeDumper):
    """Scripts as YAML block literals (``|``), as one writes them in a task file."""


Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def dump(attempt: Attempt) -> str:
    """The task's YAML as printed by a dry run: the secrets by name only."""
    return yaml.dump({**config(attempt), "secrets": dict.fromkeys(SECRETS)}, Dumper=Dumper, sort_keys=False)
