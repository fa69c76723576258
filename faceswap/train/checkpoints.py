"""Training checkpoints that survive a crash: ``latest/`` and the one before it, ``previous/``, each a folder
with ``model.keras`` (weights and optimizer state) and ``state.json`` (step, MLflow run, loss curve so far, the last
reported figures).

A new checkpoint is written whole under a temporary name, then ``latest`` becomes ``previous`` and the new one
becomes ``latest``, both by rename: a kill at any moment leaves at least one complete checkpoint.
"""

import logging
import os
import shutil
from pathlib import Path

from faceswap.core.atomic import read_json, write_json

log = logging.getLogger("faceswap")
MODEL = "model.keras"
STATE = "state.json"


class Checkpoints:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.latest, self.previous = self.folder / "latest", self.folder / "previous"

    def save(self, model, state: dict) -> None:
        incoming = self.folder / ".incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        model.save(incoming / MODEL)
        write_json(incoming / STATE, state)
        if (self.latest / STATE).exists():
            shutil.rmtree(self.previous, ignore_errors=True)
            os.replace(self.latest, self.previous)
        shutil.rmtree(self.latest, ignore_errors=True)  # an incomplete one, if any
        os.replace(incoming, self.latest)

    def restore(self, model, attempt: dict) -> dict | None:
        """Load the newest complete checkpoint of the same ``attempt`` into ``model`` (compiled, so that the
        optimizer state loads too) and return its state; None, with the reason logged, to start fresh."""
        for folder in (self.latest, self.previous):
            if not (folder / STATE).exists():
                continue
            state = read_json(folder / STATE)
            if state["attempt"] != attempt:
                changed = sorted(k for k in attempt if state["attempt"].get(k) != attempt[k])
                log.info("model: %s was trained with other settings (%s); starting fresh", folder, ", ".join(changed))
                return None
            try:
                model.optimizer.build(model.trainable_variables)
                model.load_weights(folder / MODEL)
            except Exception as error:  # a damaged file: fall back to the checkpoint before it
                log.warning("model: %s cannot be loaded (%s); trying the one before", folder, error)
                continue
            return state
        return None
