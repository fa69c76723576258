"""Stage model: train the per-pair autoencoder on the aligned faces of both sides, tracked in MLflow.

Writes ``models/faceswap.keras`` (the autoencoder), ``models/run.json`` (the MLflow run, which the output
stage logs onto), ``data/metrics/model.json`` and the loss curve ``data/metrics/model-loss.csv``.
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import mlflow  # noqa: E402

from stages.lib import cli, params, tracking  # noqa: E402
from stages.lib.atomic import atomic_file, write_json  # noqa: E402
from stages.lib.networks import ARCHITECTURES, SIDES, build_autoencoder  # noqa: E402
from stages.lib.training import load_faces, preview_grid, train  # noqa: E402

MODEL_FILE = Path("models/faceswap.keras")
LOSS_CURVE = Path("data/metrics/model-loss.csv")


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
    autoencoder = build_autoencoder(p.architecture)
    autoencoder.compile(optimizer=keras.optimizers.Adam(p.learning_rate, beta_1=0.5, beta_2=0.999), loss="mae")
    samples = {side: data[side][0][:: max(1, len(data[side][0]) // 4)][:4] for side in SIDES}

    tracking.setup()
    curve = ["step,loss_target,loss_source"]
    with mlflow.start_run() as run:
        mlflow.log_params(tracking.flatten(all_params))
        mlflow.set_tags({**tracking.git_tags(), "machine": tracking.machine(), "keras_backend": keras.backend.backend(),
                         "faces_target": len(data["target"][0]), "faces_source": len(data["source"][0])})

        def on_log(step, metrics):
            mlflow.log_metrics(metrics, step=step)
            curve.append(f"{step},{metrics['loss_target']:.6f},{metrics['loss_source']:.6f}")
            cli.log.info("model: step %d/%d %s", step, p.steps, {k: round(v, 4) for k, v in metrics.items()})

        def on_preview(step):
            mlflow.log_image(preview_grid(autoencoder, samples["target"], samples["source"]), key="preview", step=step)

        try:
            summary = train(autoencoder, data, p, on_log, on_preview)
        except FloatingPointError as error:
            raise cli.UserError(f"model: training diverged ({error}); lower model.learning_rate") from None
        with atomic_file(MODEL_FILE) as tmp:
            autoencoder.save(tmp)
        write_json(tracking.RUN_FILE, {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                                       "architecture": p.architecture, "size": size})
    write_json(Path("data/metrics/model.json"), summary)
    with atomic_file(LOSS_CURVE) as tmp:
        tmp.write_text("\n".join(curve) + "\n")
    cli.log.info("model: saved %s (MLflow run %s)", MODEL_FILE, run.info.run_id)


if __name__ == "__main__":
    cli.run(main)
