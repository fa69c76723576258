"""Training checkpoints that survive a crash, a damaged file and other attempts.

Each attempt (the settings, data, training code and packages that decide the weights) has its own folder,
``<folder>/<digest of the attempt>/``, holding ``latest/`` and the one before it, ``previous/``: each with
``model.keras`` (weights and optimizer state) and ``state.json`` (step, MLflow run, loss curve so far, the last
reported figures). So trying another learning rate and going back resumes the first attempt where it stopped.
The ``KEEP`` attempts used last are kept, and older ones that a rerun cannot bring back cheaply: one fetched from
the cloud (hours of a rented GPU; marked ``.fetched`` by ``python -m cloud fetch``), the current model's (its
MLflow run in ``models/run.json``, which ``dvc.lock`` records) and one a kept attempt starts from
(``model.init_from``). The others are dropped, each said in the log; a folder that is not an attempt is left alone.

A new checkpoint is written whole under a temporary name and flushed to disk, then ``latest`` becomes
``previous`` and the new one becomes ``latest``, both by rename: a kill or a power cut at any moment leaves at
least one complete checkpoint. One that cannot be read (empty, truncated) is skipped with a warning.

Where ``FACESWAP_CHECKPOINT_MIRROR`` names a folder (on a cloud instance, the attempt's bucket mounted by
SkyPilot), each new checkpoint is also copied there the same way, so that a spot instance reclaimed at any moment
leaves the next one a complete checkpoint to resume from (``cloud/run.sh`` copies the mirror back before training).
"""

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

from faceswap.core.atomic import fsync_tree, read_json, replace, write_json

log = logging.getLogger("faceswap")
MODEL = "model.keras"
STATE = "state.json"
KEEP = 3  # attempts kept: a few learning rates tried and gone back to, at one model's size each (x2)
FETCHED = ".fetched"  # in an attempt's folder, the cloud attempt it came from; in .dvcignore: this machine's mark
ATTEMPT_NAME = re.compile(r"[0-9a-f]{16}")  # attempt_digest's
MIRROR = "FACESWAP_CHECKPOINT_MIRROR"


def attempt_digest(attempt: dict) -> str:
    """A short name for an attempt, from everything in it."""
    return hashlib.sha256(json.dumps(attempt, sort_keys=True, default=str).encode()).hexdigest()[:16]


def files_digest(files) -> str:
    """A digest of the contents of ``files``, e.g. the training code an attempt runs."""
    digest = hashlib.sha256()
    for file in sorted(Path(f) for f in files):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def readable_states(folder: Path) -> list[dict]:
    """The state files of an attempt's checkpoints that can be read."""
    states = []
    for checkpoint in ("latest", "previous"):
        try:
            states.append(read_json(folder / checkpoint / STATE))
        except (OSError, ValueError):
            continue
    return [state for state in states if isinstance(state, dict)]


def warm_start_file(state: dict) -> Path | None:
    """The weights file an attempt started from (``model.init_from``), as its state records it."""
    init = state.get("attempt", {}).get("init") if isinstance(state.get("attempt"), dict) else None
    return Path(init["file"]).resolve() if isinstance(init, dict) and init.get("file") else None


def install_latest(folder: Path, write) -> None:
    """Make what ``write(incoming)`` puts in a new folder the ``latest`` checkpoint of ``folder``, the one before
    becoming ``previous``: written whole and flushed first, then renamed, so that a kill leaves one complete."""
    latest, previous, incoming = folder / "latest", folder / "previous", folder / ".incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    write(incoming)
    fsync_tree(incoming)
    if (latest / STATE).exists():
        shutil.rmtree(previous, ignore_errors=True)
        replace(latest, previous)
    shutil.rmtree(latest, ignore_errors=True)  # an incomplete one, if any
    replace(incoming, latest)


class Checkpoints:
    def __init__(self, folder: Path, run_file: Path | None = None):
        """``run_file``: the current model's MLflow run (``models/run.json``), whose attempt is always kept."""
        self.folder, self.run_file = Path(folder), run_file and Path(run_file)

    def attempt_folder(self, attempt: dict) -> Path:
        return self.folder / attempt_digest(attempt)

    def save(self, model, state: dict) -> None:
        """Write ``model`` and ``state`` (whose ``attempt`` names the folder) as the attempt's latest checkpoint."""
        folder = self.attempt_folder(state["attempt"])

        def write(incoming: Path) -> None:
            model.save(incoming / MODEL)
            write_json(incoming / STATE, state)

        install_latest(folder, write)
        if os.environ.get(MIRROR):
            install_latest(Path(os.environ[MIRROR]) / folder.name,
                           lambda incoming: shutil.copytree(folder / "latest", incoming, dirs_exist_ok=True))
        self._drop_oldest(keep=folder)

    def attempts(self) -> list[Path]:
        """The attempt folders, used last first."""
        folders = [p for p in self.folder.iterdir() if p.is_dir() and ATTEMPT_NAME.fullmatch(p.name)]
        return sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)

    def states(self) -> dict[str, bytes]:
        """Each attempt's latest state file as it is now, to tell afterwards which attempts a ``dvc pull`` brought."""
        if not self.folder.is_dir():
            return {}
        return {folder.name: (folder / "latest" / STATE).read_bytes() for folder in self.attempts()
                if (folder / "latest" / STATE).is_file()}

    def mark_fetched(self, before: dict[str, bytes], cloud_attempt: str) -> list[Path]:
        """Mark the attempts new or changed since ``before`` (``states()``) as fetched from ``cloud_attempt``."""
        now = self.states()
        fetched = sorted(self.folder / name for name, state in now.items() if before.get(name) != state)
        for folder in fetched:
            (folder / FETCHED).write_text(f"{cloud_attempt}\n")
        return fetched

    def _precious(self, recent: set[Path], model_run: str | None) -> set[Path]:
        """The attempts kept however old: fetched, the current model's (MLflow run ``model_run``), and those a
        kept attempt starts from (followed from each one that stays, through the file its state names)."""
        precious = {folder for folder in self.attempts() if (folder / FETCHED).is_file()
                    or model_run and any(state.get("run_id") == model_run for state in readable_states(folder))}
        by_path = {folder.resolve(): folder for folder in self.attempts()}
        pending = [*recent, *precious]
        while pending:
            for state in readable_states(pending.pop()):
                file = warm_start_file(state)
                source = next((by_path[p] for p in file.parents if p in by_path), None) if file else None
                if source and source not in recent | precious:
                    precious.add(source)
                    pending.append(source)
        return precious

    def _drop_oldest(self, keep: Path) -> None:
        """Remove the attempts neither among the ``KEEP`` used last (``keep``, the current one, always is) nor
        precious, saying in the log why each goes."""
        try:
            model_run = read_json(self.run_file)["run_id"] if self.run_file and self.run_file.exists() else None
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
            log.warning("model: %s cannot be read (%s), so the attempt of the current model is not known: every "
                        "attempt is kept this time", self.run_file, type(error).__name__)
            return
        recent = {keep, *[p for p in self.attempts() if p != keep][:KEEP - 1]}
        kept = recent | self._precious(recent, model_run)
        for old in self.attempts():
            if old not in kept:
                log.info("model: dropped %s: not one of the %d attempts used last, not fetched from the cloud, not "
                         "the current model's (%s), and no kept attempt starts from it", old, KEEP,
                         self.run_file.name if self.run_file else "run.json")
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
