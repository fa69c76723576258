"""Stage model: train the per-pair autoencoder on the aligned faces of both sides, tracked in MLflow.

Writes ``models/faceswap.keras`` (the autoencoder, without optimizer state), ``models/run.json`` (the MLflow
run, which the output stage logs onto), ``data/metrics/model.json`` and the loss curve
``data/metrics/model-loss.csv``. Checkpoints go to ``models/checkpoints`` (kept by DVC between runs): a run
that finds one of the same attempt (the same model params, other than how long and how often, and the
same aligned faces) resumes from it, step count and MLflow run included.
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import mlflow

from faceswap.core import cli, params
from faceswap.core.atomic import atomic_file, write_json
from faceswap.train import distribute, tracking
from faceswap.train.checkpoints import Checkpoints
from faceswap.train.feeder import BatchFeeder
from faceswap.train.loop import faces_fingerprint, load_faces, preview_grid, train
from faceswap.train.losses import FaceLoss
from faceswap.train.networks import ARCHITECTURES, SIDES, build_autoencoder

MODEL_FILE = Path("models/faceswap.keras")
CHECKPOINTS = Path("models/checkpoints")
LOSS_CURVE = Path("data/metrics/model-loss.csv")
# Params that only say how long to train and how often to report: changing them continues the same attempt.
CADENCE = ("steps", "log_every", "preview_every", "checkpoint_every")


def crossed(step: int, count: int, every: int) -> bool:
    """Whether the stretch of ``count`` steps ending at ``step`` passed a multiple of ``every``."""
    return step // every > (step - count) // every


def build_compiled(p) -> keras.Model:
    autoencoder = build_autoencoder(p.architecture)
    autoencoder.compile(optimizer=keras.optimizers.Adam(p.learning_rate, beta_1=0.5, beta_2=0.999),
                        loss=FaceLoss(p.ssim_weight, p.eye_weight, p.mouth_weight))
    return autoencoder


def main() -> None:
    all_params = params.load_all()
    p = params.load("model")
    if p.architecture not in ARCHITECTURES:
        raise cli.UserError(f"params.yaml: 'model.architecture' is {p.architecture!r}; "
                            f"choose one of {', '.join(ARCHITECTURES)}")
    size = ARCHITECTURES[p.architecture].size
    data = {}
    for side in SIDES:
        data[side] = load_faces(Path("data/alignments") / side, size)
        if len(data[side][0]) == 0:
            raise cli.UserError(f"data/alignments/{side}: no aligned face to train on; "
                                f"give data/raw/{side} videos with a visible face, or relax filtered.*")
    keras.utils.set_random_seed(p.seed)
    distribute.set_precision(p.mixed_precision)
    attempt = {**{key: value for key, value in vars(p).items() if key not in CADENCE},
               "faces": faces_fingerprint([Path("data/alignments") / side for side in SIDES])}
    checkpoints = Checkpoints(CHECKPOINTS)
    with distribute.strategy_scope():  # the optimizer's variables too, which restoring creates
        autoencoder = build_compiled(p)
        state = checkpoints.restore(autoencoder, attempt)
        if state and state["step"] > p.steps:
            cli.log.info("model: the checkpoint is at step %d, past model.steps %d; starting fresh", state["step"],
                         p.steps)
            autoencoder, state = build_compiled(p), None
    first_step = state["step"] if state else 0
    curve = state["curve"] if state else ["step,loss_target,loss_source"]
    samples = {side: data[side][0][:: max(1, len(data[side][0]) // 4)][:4] for side in SIDES}

    tracking.setup()
    with tracking.start_run(state and state["run_id"]) as run:
        if state:
            cli.log.info("model: resuming from step %d (checkpoint %s, MLflow run %s)", first_step,
                         CHECKPOINTS, run.info.run_id)
            resumed = run.data.tags.get("resumed_at_steps")
            mlflow.set_tag("resumed_at_steps", f"{resumed},{first_step}" if resumed else str(first_step))
        if not state or run.info.run_id != state["run_id"]:  # a new run, also when this store lacks the old one
            mlflow.log_params(tracking.flatten(all_params))
        mlflow.set_tags({**tracking.git_tags(), **tracking.dvc_input_tags("model"), "machine": tracking.machine(),
                         "keras_backend": keras.backend.backend(),
                         "faces_target": len(data["target"][0]), "faces_source": len(data["source"][0])})
        summary = dict(state.get("summary", {})) if state else {}  # a rerun with no step left keeps its figures

        def log_preview(step):
            mlflow.log_image(preview_grid(autoencoder, samples["target"], samples["source"]), key="preview", step=step)

        def on_stretch(step, count, metrics):
            mlflow.log_metrics(metrics, step=step)
            curve.append(f"{step},{metrics['loss_target']:.6f},{metrics['loss_source']:.6f}")
            summary.update(metrics)
            cli.log.info("model: step %d/%d %s", step, p.steps, {k: round(v, 4) for k, v in metrics.items()})
            if crossed(step, count, p.preview_every) or step == p.steps:
                log_preview(step)
            if crossed(step, count, p.checkpoint_every) or step == p.steps:
                checkpoints.save(autoencoder, {"step": step, "attempt": attempt, "run_id": run.info.run_id,
                                               "curve": curve, "summary": summary})

        if not state:
            log_preview(0)  # the untrained model: where the MLflow UI's image slider starts
        with BatchFeeder(data, p.batch_size, [p.seed, first_step]) as feeder:
            try:
                train(autoencoder, feeder, first_step, p, on_stretch)
            except FloatingPointError as error:
                mlflow.set_tag("failed", str(error))
                raise cli.UserError(f"model: training diverged ({error}); the last good checkpoint is kept in "
                                    f"{CHECKPOINTS}; lower model.learning_rate") from None
        distribute.set_precision(False)  # the saved model computes in float32 wherever it is loaded
        exported = build_autoencoder(p.architecture)
        exported.set_weights(autoencoder.get_weights())
        with atomic_file(MODEL_FILE) as tmp:
            exported.save(tmp)
        write_json(tracking.RUN_FILE, {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                                       "architecture": p.architecture, "size": size})
    write_json(Path("data/metrics/model.json"), {**summary, "steps": p.steps, "resumed_from_step": first_step})
    with atomic_file(LOSS_CURVE) as tmp:
        tmp.write_text("\n".join(curve) + "\n")
    cli.log.info("model: saved %s (MLflow run %s)", MODEL_FILE, run.info.run_id)


if __name__ == "__main__":
    cli.run(main)
