"""Training checkpoints that survive a crash, a damaged file and other attempts.

Each attempt (the settings, data, training code and packages that decide the weights) has its own folder,
``<folder>/<digest of the attempt>/``, holding ``latest/`` and the one before it, ``previous/``: each with
``model.keras`` (weights and optimizer state) and ``state.json`` (step, MLflow run, loss curve so far, the last
reported figures). So trying another learning rate and going back resumes the first attempt where it stopped.
The ``KEEP`` most recently saved attempts are kept; older ones are dropped, oldest first.

A new checkpoint is written whole under a temporary name and flushed to disk, then ``latest`` becomes
``previous`` and the new one becomes ``latest``, both by rename: a kill or a power cut at any moment leaves at
least one complete checkpoint. One that cannot be read (empty, truncated) is skipped with a warning.
"""

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from faceswap.core.atomic import fsync_tree, read_json, replace, write_json

log = logging.getLogger("faceswap")
MODEL = "model.keras"
STATE = "state.json"
KEEP = 3  # attempts kept: a few learning rates tried and gone back to, at one model's size each (x2)


def attempt_digest(attempt: dict) -> str:
    """A short name for an attempt, from everything in it."""
    return hashlib.sha256(json.dumps(attempt, sort_keys=True, default=str).encode()).hexdigest()[:16]


def files_digest(files) -> str:
    """A digest of the contents of ``files``, e.g. the training code an attempt runs."""
    digest = hashlib.sha256()
    for file in sorted(Path(f) for f in files):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class Checkpoints:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def attempt_folder(self, attempt: dict) -> Path:
        return self.folder / attempt_digest(attempt)

    def save(self, model, state: dict) -> None:
        """Write ``model`` and ``state`` (whose ``attempt`` names the folder) as the attempt's latest checkpoint."""
        folder = self.attempt_folder(state["attempt"])
        latest, previous, incoming = folder / "latest", folder / "previous", folder / ".incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        model.save(incoming / MODEL)
        write_json(incoming / STATE, state)
        fsync_tree(incoming)
        if (latest / STATE).exists():
            shutil.rmtree(previous, ignore_errors=True)
            replace(latest, previous)
        shutil.rmtree(latest, ignore_errors=True)  # an incomplete one, if any
        replace(incoming, latest)
        self._drop_oldest(keep=folder)

    def _drop_oldest(self, keep: Path) -> None:
        """Remove all but the ``KEEP`` attempts saved last (the current one always stays)."""
        others = [p for p in self.folder.iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")]
        others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP - 1:]:
            log.info("model: dropping the checkpoints of an older attempt, %s (%d attempts are kept)", old, KEEP)
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, model, attempt: dict) -> dict | None:
        """Load the newest readable checkpoint of ``attempt`` into ``model`` (compiled, so that the optimizer
        state loads too) and return its state; None, with the reason logged, to start fresh."""
        folder = self.attempt_folder(attempt)
        if not folder.is_dir():
            kept = sorted(p.name for p in self.folder.glob("*/latest"))
            log.info("model: no checkpoint of this attempt (%s)%s; starting fresh", folder.name,
                     f", {len(kept)} other attempt(s) kept in {self.folder}" if kept else "")
            return None
        for checkpoint in (folder / "latest", folder / "previous"):
            if not checkpoint.is_dir():
                continue
            try:
                state = read_json(checkpoint / STATE)
                model.optimizer.build(model.trainable_variables)
                model.load_weights(checkpoint / MODEL)
            except Exception as error:  # a damaged file (empty, cut short): fall back to the checkpoint before it
                log.warning("model: checkpoint %s cannot be read (%s: %s); trying the one before", checkpoint,
                            type(error).__name__, str(error)[:200])
                continue
            os.utime(folder)  # resumed: the most recently used attempt, dropped last
            return state
        log.warning("model: no readable checkpoint in %s; starting fresh", folder)
        return None
