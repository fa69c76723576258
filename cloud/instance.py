"""The steps of ``cloud/run.sh`` that are Python: on the training instance, in the cloned project.

    python3 -m cloud.instance params '{"model.learning_rate": 0.0001}'   a sweep's changes into params.yaml
    python3 -m cloud.instance record     dvc.lock and the uncached outputs under the attempt's prefix

``record`` uploads what ``python -m cloud fetch`` needs besides what ``dvc push`` pushed: the attempt's
``dvc.lock`` and the training stage's outputs DVC does not cache (metrics and plots).
"""

import json
import os
import sys
from pathlib import Path

import boto3
import yaml

from cloud import attempts, sweep


def params(changes: str) -> None:
    change = json.loads(changes)
    if not change:
        return
    path = Path("params.yaml")
    path.write_text(yaml.safe_dump(sweep.apply(yaml.safe_load(path.read_text()), change), sort_keys=False))
    print(f"instance: params.yaml with {sweep.label(change)}")


def record() -> None:
    env = os.environ
    s3 = boto3.client("s3", endpoint_url=env.get("REMOTE_ENDPOINT") or None)
    names = [attempts.LOCK] + env.get("UNCACHED_OUTS", "").split()
    for name in names:
        key = f"{env['ATTEMPT_PREFIX']}/{name if name == attempts.LOCK else f'{attempts.OUTS}/{name}'}"
        s3.upload_file(name, env["ATTEMPT_BUCKET"], key)
        print(f"instance: uploaded s3://{env['ATTEMPT_BUCKET']}/{key}")


def main() -> None:
    command, *args = sys.argv[1:]
    {"params": params, "record": record}[command](*args)


if __name__ == "__main__":
    main()
