"""Stage model: train the per-pair autoencoder on the aligned faces of both sides, tracked in MLflow.

Writes ``models/faceswap.keras`` (the autoencoder, without optimizer state), ``models/run.json`` (the MLflow
run, which the output stage logs onto), ``data/metrics/model.json`` and the loss curve
``data/metrics/model-loss.csv``. Checkpoints go to ``models/checkpoints``, one folder per attempt (kept by DVC
between runs): a run that finds one of the same attempt (the same model params, other than how long and how
often, the same aligned faces, training code and Keras/backend versions) resumes from it, step count and MLflow
run included.
"""

import importlib
import os
import signal

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import mlflow
import numpy as np

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_file, output_lock, write_json
from faceswap.core.paths import SIDES
from faceswap.faces import expression
from faceswap.faces.expression import face_features
from faceswap.train import (
    augment,
    distribute,
    feeder,
    holdout,
    loop,
    losses,
    networks,
    regions,
    schedule,
    stream,
    tracking,
    warm_start,
)
from faceswap.train.checkpoints import Checkpoints, files_digest
from faceswap.train.feeder import BatchFeeder
from faceswap.train.loop import preview_grid, train
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import ARCHITECTURES, build_autoencoder, expression_statistics
from faceswap.train.schedule import WarmupCosine, warp_until

# Params that only say how long to train and how often to report: changing them continues the same attempt.
CADENCE = ("steps", "log_every", "preview_every", "checkpoint_every")
# The code that decides what a training step computes (this script builds the optimizer): an edit to any of it
# starts a fresh attempt rather than crediting the new code with weights the old one trained.
TRAINING_CODE = (__file__, *(m.__file__ for m in (augment, distribute, expression, feeder, holdout, loop, losses,
                                                   networks, regions, schedule, stream, warm_start)))


def attempt_identity(p) -> dict:
    """What decides the weights an attempt trains: its params (but cadence), its faces, its code, and the
    versions of Keras and its backend (the same on a CPU and a GPU machine, so a pulled checkpoint goes on), and
    the weights it started from."""
    backend = keras.backend.backend()
    return {**{key: value for key, value in vars(p).items() if key not in CADENCE},
            "init": warm_start.describe(p.init_from, p.init_parts),
            "faces": loop.faces_fingerprint([paths.stage_output("alignments", side) for side in SIDES]),
            "code": files_digest(TRAINING_CODE),
            "packages": {"keras": keras.__version__, backend: importlib.import_module(backend).__version__}}


def crossed(step: int, count: int, every: int) -> bool:
    """Whether the stretch of ``count`` steps ending at ``step`` passed a multiple of ``every``."""
    return step // every > (step - count) // every


def build_compiled(p, statistics: dict | None) -> keras.Model:
    autoencoder = build_autoencoder(p.architecture, statistics)
    rate = WarmupCosine(p.learning_rate, p.warmup_steps, p.steps, cosine=p.learning_rate_schedule == "cosine")
    optimizer = keras.optimizers.Adam(rate, beta_1=0.5, beta_2=0.999, use_ema=p.ema_momentum > 0,
                                      ema_momentum=p.ema_momentum)
    autoencoder.compile(optimizer=optimizer, loss=FaceLoss(p.ssim_weight, p.eye_weight, p.mouth_weight, p.pixel_loss))
    return autoencoder


def training_faces(p) -> dict:
    """Each side's aligned faces, maps and landmarks at the architecture's size; a side with none is a
    UserError."""
    if p.architecture not in ARCHITECTURES:
        raise cli.UserError(f"params.yaml: 'model.architecture' is {p.architecture!r}; "
                            f"choose one of {', '.join(ARCHITECTURES)}")
    data = {}
    for side in SIDES:
        data[side] = stream.TrainingFaces(paths.stage_output("alignments", side), ARCHITECTURES[p.architecture].size)
        if len(data[side]) == 0:
            raise cli.UserError(f"{paths.stage_output('alignments', side)}: no aligned face to train on; "
                                f"give {paths.raw(side)} videos with a visible face, or relax filtered.*")
    return data


def restore_or_build(p, attempt: dict, checkpoints: Checkpoints, statistics: dict | None):
    """The compiled model, from the attempt's last checkpoint when there is one to go on from, else from the
    weights ``model.init_from`` names, else from random weights; and the checkpoint's state (None: a new start).
    ``statistics``: each side's expression statistics, for a ``model.expression_input`` model."""
    with distribute.strategy_scope():  # the optimizer's variables too, which restoring creates
        autoencoder = build_compiled(p, statistics)
        state = checkpoints.restore(autoencoder, attempt)
        if state and state["step"] > p.steps:
            cli.log.info("model: the checkpoint is at step %d, past model.steps %d; starting fresh", state["step"],
                         p.steps)
            autoencoder, state = build_compiled(p, statistics), None
        if not state and attempt["init"]:
            warm_start.warm_start(autoencoder, attempt["init"])
            cli.log.info("model: starting from the weights of %s (%s)", attempt["init"]["file"], p.init_parts)
    return autoencoder, state


class Attempt:
    """One training attempt as it runs: the model, its checkpoints, its MLflow run, the loss curve and the last
    reported figures, and what happens after each stretch of steps."""

    def __init__(self, p, autoencoder, checkpoints: Checkpoints, identity: dict, state: dict | None, data: dict,
                 statistics: dict | None):
        self.p, self.autoencoder, self.checkpoints, self.identity = p, autoencoder, checkpoints, identity
        self.statistics = statistics
        self.first_step = state["step"] if state else 0
        self.curve = state["curve"] if state else ["step,loss_target,loss_source"]
        self.summary = dict(state.get("summary", {})) if state else {}  # a rerun with no step left keeps these
        self.samples = {}  # four faces of each side, spread over it, and their landmarks: the previews'
        for side, faces in data.items():
            images, _, landmarks = faces.read(np.arange(0, len(faces), max(1, len(faces) // 4))[:4])
            self.samples[side] = images, landmarks
        self.run_id = None

    def log_preview(self, step: int) -> None:
        grid = preview_grid(self.autoencoder, self.samples["target"], self.samples["source"])
        mlflow.log_image(grid, key="preview", step=step)

    def on_stretch(self, step: int, count: int, metrics: dict) -> None:
        p = self.p
        mlflow.log_metrics(metrics, step=step)
        self.curve.append(f"{step},{metrics['loss_target']:.6f},{metrics['loss_source']:.6f}")
        self.summary.update(metrics)
        cli.log.info("model: step %d/%d %s", step, p.steps, {k: round(v, 4) for k, v in metrics.items()})
        if crossed(step, count, p.preview_every) or step == p.steps:
            self.log_preview(step)
        if crossed(step, count, p.checkpoint_every) or step == p.steps:
            self.checkpoints.save(self.autoencoder, {"step": step, "attempt": self.identity, "run_id": self.run_id,
                                                     "curve": self.curve, "summary": self.summary})


def tag_run(run, state: dict | None, all_params: dict, data: dict, init: dict | None) -> None:
    """Params on a new run, ``resumed_at_steps`` on a resumed one, and the tags that say what it ran on and
    which weights it started from."""
    if state:
        cli.log.info("model: resuming from step %d (checkpoint %s, MLflow run %s)", state["step"], paths.CHECKPOINTS,
                     run.info.run_id)
        resumed = run.data.tags.get("resumed_at_steps")
        mlflow.set_tag("resumed_at_steps", f"{resumed},{state['step']}" if resumed else str(state["step"]))
        # params are written once per run: the cadence it went on with (all else is the attempt's) goes in a tag
        mlflow.set_tag(f"resumed_params_at_{state['step']}",
                       ", ".join(f"model.{key}={all_params['model'][key]}" for key in CADENCE))
    if not state or run.info.run_id != state["run_id"]:  # a new run, also when this store lacks the old one
        mlflow.log_params(tracking.flatten(all_params))
    mlflow.set_tags({**tracking.git_tags(), **tracking.dvc_input_tags("model"), "machine": tracking.machine(),
                     "keras_backend": keras.backend.backend(),
                     "faces_target": len(data["target"]), "faces_source": len(data["source"]),
                     **({f"init_{key}": value for key, value in init.items()} if init else {"init": "random"})})


def export(attempt: Attempt, run) -> None:
    """The trained autoencoder without optimizer state, computing in float32 wherever it is loaded; the run file.
    With ``model.ema_momentum`` the weights are their moving average (the checkpoints keep the raw ones)."""
    p = attempt.p
    attempt.autoencoder.optimizer.finalize_variable_values(attempt.autoencoder.trainable_variables)
    distribute.set_precision(False)
    exported = build_autoencoder(p.architecture, attempt.statistics)
    exported.set_weights(attempt.autoencoder.get_weights())
    with atomic_file(paths.MODEL_FILE) as tmp:
        exported.save(tmp)
    write_json(paths.RUN_FILE, {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                                "architecture": p.architecture, "size": ARCHITECTURES[p.architecture].size})


def stop_on_sigterm(signum, frame):
    """``kill`` (SIGTERM) ends training as Ctrl-C does, so that its MLflow run ends KILLED, not RUNNING."""
    raise KeyboardInterrupt


def run_attempt(attempt: Attempt, state: dict | None, all_params: dict, data: dict) -> None:
    """Train the attempt from where it stands, on its MLflow run (ended FAILED on an error, KILLED on a kill)."""
    p, autoencoder = attempt.p, attempt.autoencoder
    tracking.setup()
    tracking.end_killed_runs()
    with tracking.start_run(state and state["run_id"]) as run:
        tracking.mark_process()
        attempt.run_id = run.info.run_id
        tag_run(run, state, all_params, data, attempt.identity["init"])
        if not state:
            attempt.log_preview(0)  # the untrained model: where the MLflow UI's image slider starts
        with BatchFeeder(data, p.batch_size, p.seed, first_step=attempt.first_step,
                         warp_until=warp_until(p.steps, p.warp_off_share), expressions=p.expression_input) as batches:
            try:
                train(autoencoder, batches, attempt.first_step, p, attempt.on_stretch)
            except FloatingPointError as error:
                mlflow.set_tag("failed", str(error))
                raise cli.UserError(f"model: training diverged ({error}); the last good checkpoint is kept in "
                                    f"{paths.CHECKPOINTS}; lower model.learning_rate") from None
            except KeyboardInterrupt:
                mlflow.end_run("KILLED")
                raise
        export(attempt, run)
    write_json(paths.metrics("model"), {**attempt.summary, "steps": p.steps, "resumed_from_step": attempt.first_step})
    with atomic_file(paths.LOSS_CURVE) as tmp:
        tmp.write_text("\n".join(attempt.curve) + "\n")
    cli.log.info("model: saved %s (MLflow run %s)", paths.MODEL_FILE, run.info.run_id)


def main() -> None:
    all_params = params.load_all()
    p = params.load("model")
    data = training_faces(p)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    with output_lock(paths.CHECKPOINTS):  # a second training here would interleave its checkpoints
        keras.utils.set_random_seed(p.seed)
        distribute.set_precision(p.mixed_precision)
        identity = attempt_identity(p)
        checkpoints = Checkpoints(paths.CHECKPOINTS, run_file=paths.RUN_FILE)
        statistics = expression_statistics(
            {side: face_features(faces.landmarks, faces.size) for side, faces in data.items()}
        ) if p.expression_input else None
        autoencoder, state = restore_or_build(p, identity, checkpoints, statistics)
        attempt = Attempt(p, autoencoder, checkpoints, identity, state, data, statistics)
        run_attempt(attempt, state, all_params, data)


if __name__ == "__main__":
    cli.run(main)
