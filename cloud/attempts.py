"""A training attempt's record in the DVC remote, under ``<remote>/attempts/<id>/``.

The instance mirrors its checkpoints under ``checkpoints/`` as it trains (the next instance of a reclaimed attempt
resumes from them), and at the end uploads ``dvc.lock`` and, under ``outs/``, the training stage's outputs that
DVC does not push (metrics and plots, ``cache: false``): ``fetch`` takes them so that ``dvc pull`` brings the
model and ``dvc status`` is clean.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from cloud import aws
from cloud.origin import TRAIN_STAGE, DvcRemote
from faceswap.core.cli import UserError

LOCK = "dvc.lock"
OUTS = "outs"  # + the output's path in the repository
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_id(commit: str) -> str:
    """A readable, sortable id: launch time (UTC) and short commit, e.g. ``20261125-031502-1a2b3c4``."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{commit[:7]}"


def check_id(attempt: str) -> str:
    if not ID_PATTERN.fullmatch(attempt):
        raise UserError(f"attempt id {attempt!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    return attempt


def prefix(remote: DvcRemote, attempt: str) -> str:
    """The S3 key prefix (no trailing slash) that holds an attempt's files."""
    return remote.key("attempts", attempt)


def s3_client(remote: DvcRemote):
    """An S3 client for the remote, with its endpoint and profile as DVC uses them."""
    return aws.session(profile=remote.profile, need_region=False).client("s3", endpoint_url=remote.endpoint_url)


def read(remote: DvcRemote, attempt: str, name: str) -> bytes | None:
    """One of the attempt's files, or None while it has not been uploaded."""
    s3 = s3_client(remote)
    key = f"{prefix(remote, attempt)}/{name}"
    with aws.errors(f"reading s3://{remote.bucket}/{key}"):
        try:
            return s3.get_object(Bucket=remote.bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None


def differences(recorded, here, name: str) -> list[str]:
    """``name.key (attempt A, here B)`` for each value that differs between two nested dicts of params."""
    if isinstance(recorded, dict) and isinstance(here, dict):
        return [line for key in sorted(set(recorded) | set(here), key=str)
                for line in differences(recorded.get(key), here.get(key), f"{name}.{key}")]
    return [] if recorded == here else [f"{name} (attempt {recorded!r}, here {here!r})"]


def mismatches(attempt_lock: str, root: Path) -> list[str]:
    """How the faces and params the attempt's training stage recorded differ from this working tree's: each data
    dependency against the hash this ``dvc.lock`` records for it, each params file against the file here."""
    entry = yaml.safe_load(attempt_lock).get("stages", {}).get(TRAIN_STAGE, {})
    local = root / LOCK
    ours = yaml.safe_load(local.read_text()).get("stages", {}) if local.exists() else {}
    hashes = {out["path"]: out.get("md5") for stage in ours.values() for out in stage.get("outs", [])}
    found = [f"{dep['path']} (attempt {dep.get('md5')}, here {hashes[dep['path']]})" for dep in entry.get("deps", [])
             if dep["path"] in hashes and hashes[dep["path"]] != dep.get("md5")]
    for file, recorded in entry.get("params", {}).items():
        here = yaml.safe_load((root / file).read_text()) if (root / file).exists() else {}
        found += [line for section in recorded
                  for line in differences(recorded[section], here.get(section), f"{file} {section}")]
    return found


def merge_lock(local: Path, attempt_lock: str) -> None:
    """Put the attempt's training-stage entry into the local ``dvc.lock``.

    The other entries stay as they are here (the instance only pulled them); ones missing here are taken
    from the attempt, so a working tree that never ran the upstream stages still gets a complete lock.
    """
    theirs = yaml.safe_load(attempt_lock)
    if TRAIN_STAGE not in theirs.get("stages", {}):
        raise UserError(f"the attempt's {LOCK} has no '{TRAIN_STAGE}' stage; was it trained?")
    ours = yaml.safe_load(local.read_text()) if local.exists() else {"schema": theirs.get("schema", "2.0")}
    stages = ours.setdefault("stages", {})
    for name, entry in theirs["stages"].items():
        if name == TRAIN_STAGE or name not in stages:
            stages[name] = entry
    local.write_text(yaml.safe_dump(ours, sort_keys=False))


def has_any(remote: DvcRemote, attempt: str, folder: str) -> bool:
    """Whether anything is stored under the attempt's ``folder`` (its mirrored checkpoints, say)."""
    s3 = s3_client(remote)
    key = f"{prefix(remote, attempt)}/{folder}/"
    with aws.errors(f"looking under s3://{remote.bucket}/{key}"):
        return s3.list_objects_v2(Bucket=remote.bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0) > 0
