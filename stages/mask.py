"""Stage mask: train the occlusion-aware mask, a segmentation network of the visible face, on the target's aligned
faces and the mask labels drawn on the review page (DeepFaceLab's XSeg, per project).

Writes ``models/mask/``: ``settings.json`` (enabled, size, the frames it learnt from) and, when ``mask.enabled``,
``segmenter.keras``; and ``data/metrics/mask.json``: the intersection over union of its masks with the labels on
held-out labelled frames, next to the landmark hull's (what the output used before). With ``mask.enabled:
false`` only the settings and metrics say so, and the output stage keeps the hull.
"""

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from faceswap.core import cli, params, paths
from faceswap.core.atomic import atomic_dir, write_json
from faceswap.faces.mask_labels import read_mask_labels
from faceswap.mask.examples import MaskExamples, held_out_frames, iou, load_examples
from faceswap.mask.network import build_segmenter, predict_visible
from faceswap.mask.training import train_segmenter


def training_examples(p) -> tuple[MaskExamples, dict]:
    """The target's aligned faces with their targets, and the labels; labelled frames without a face warn."""
    if p.size % 8:
        raise cli.UserError(f"params.yaml: 'mask.size' is {p.size}; give a multiple of 8 (the network halves it "
                            "three times)")
    labels = read_mask_labels(paths.MASK_LABELS)
    folder = paths.stage_output("alignments", "target")
    examples = load_examples(folder, labels, p.size)
    if not len(examples.frames):
        raise cli.UserError(f"{folder}: no aligned target face to train the mask on; set mask.enabled: false or "
                            "give the target video a visible face")
    unused = sorted(set(labels) - set(examples.frames))
    if unused:
        cli.log.warning("mask: %d labelled frames have no aligned face and teach nothing: %s", len(unused),
                        ", ".join(unused[:10]))
    if not examples.labelled.any():
        cli.log.warning("mask: no labelled frame (%s): the mask learns the landmark hull alone; label the frames "
                        "where something covers the face on the review page (python -m review)", paths.MASK_LABELS)
    return examples, labels


def measure(model, examples: MaskExamples, held_out: list[str]) -> dict:
    """The held-out frames' IoU with their labels, the segmenter's and the landmark hull's."""
    chosen = examples.where(set(held_out))
    if not len(chosen):
        return {"held_out_frames": [], "iou_held_out": None, "iou_hull_held_out": None}
    predicted = predict_visible(model, examples.faces[chosen])
    return {"held_out_frames": held_out,
            "iou_held_out": round(iou(predicted, examples.targets[chosen]), 4),
            "iou_hull_held_out": round(iou(examples.hulls[chosen], examples.targets[chosen]), 4)}


def main() -> None:
    p = params.load("mask")
    with atomic_dir(paths.MASK_MODEL) as folder:
        if not p.enabled:
            write_json(folder / paths.MASK_SETTINGS_FILE, {"enabled": False})
            write_json(paths.metrics("mask"), {"enabled": False})
            cli.log.info("mask: mask.enabled is false; the output's mask is the landmark hull")
            return
        started = time.monotonic()
        examples, labels = training_examples(p)
        held_out = held_out_frames(labels, p.holdout)
        training = examples.where(set(examples.frames) - set(held_out))
        keras.utils.set_random_seed(p.seed)
        model = build_segmenter(p.size)
        loss = train_segmenter(model, examples, training, p, lambda steps: cli.progress(steps, "mask", p.steps))
        model.save(folder / paths.SEGMENTER_FILE)
        labelled = sorted(set(labels) & set(examples.frames))
        write_json(folder / paths.MASK_SETTINGS_FILE, {"enabled": True, "size": p.size, "labelled_frames": labelled})
        metrics = {"enabled": True, "faces": len(examples.frames), "labelled_frames": len(labelled),
                   "training_faces": len(training), "loss": round(loss, 4), **measure(model, examples, held_out),
                   "seconds": round(time.monotonic() - started, 1)}
        write_json(paths.metrics("mask"), metrics)
        cli.log.info("mask: %s", metrics)


if __name__ == "__main__":
    cli.run(main)
