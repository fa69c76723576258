"""Starting an attempt from another attempt's weights (``model.init_from``), so that a second target video of the
same source person, or a longer run after the demo, does not start from nothing.

The weights come from a ``.keras`` file (an exported ``models/faceswap.keras``, e.g. one brought from another
commit with ``dvc get . models/faceswap.keras --rev <commit> -o models/init/<name>.keras``) or from an attempt's
checkpoint folder (``models/checkpoints/<attempt>``, its ``latest`` checkpoint). ``model.init_parts`` says what is
taken: every part, or the encoder and the source's decoder only (a new target: its decoder starts afresh).
"""

from pathlib import Path

import keras

from faceswap.core.cli import UserError
from faceswap.train.checkpoints import MODEL, files_digest
from faceswap.train.networks import takes_expressions

PARTS = {"all": ("encoder", "decoder_target", "decoder_source"), "encoder_and_source": ("encoder", "decoder_source")}
KEY = "params.yaml: 'model.init_from'"


def weights_file(init_from: str) -> Path:
    """The model file ``init_from`` names: the file itself, or a checkpoint folder's latest model."""
    path = Path(init_from)
    if path.is_dir():
        for candidate in (path / "latest" / MODEL, path / MODEL):
            if candidate.is_file():
                return candidate
        raise UserError(f"{KEY} is {init_from!r}, a folder without {MODEL} or latest/{MODEL}; give an attempt's "
                        "checkpoint folder (models/checkpoints/<attempt>) or a .keras file")
    if not path.is_file():
        raise UserError(f"{KEY} is {init_from!r}, which does not exist; give a .keras file or a checkpoint folder "
                        "(e.g. dvc get . models/faceswap.keras --rev <commit> -o models/init/<name>.keras)")
    return path


def describe(init_from: str, parts: str) -> dict | None:
    """What an attempt starts from, part of its identity: the file, a digest of its contents and the parts taken;
    None for random weights."""
    if not init_from:
        return None
    file = weights_file(init_from)
    return {"file": file.as_posix(), "digest": files_digest([file]), "parts": parts}


def architecture_name(model: keras.Model) -> str:
    """The architecture as params.yaml names it, and whether its decoders take expressions."""
    return model.name.removeprefix("autoencoder_") + (" with expression_input" if takes_expressions(model) else "")


def warm_start(autoencoder: keras.Model, init: dict) -> None:
    """Copy the weights of ``init``'s parts into ``autoencoder``; one that does not fit stops with one line
    naming both architectures."""
    file = Path(init["file"])
    try:
        donor = keras.saving.load_model(file, compile=False)
    except Exception as error:
        raise UserError(f"{file}: not a readable Keras model ({type(error).__name__}); {KEY} must name a model "
                        "this project saved") from None
    for part in PARTS[init["parts"]]:
        mine = autoencoder.get_layer(part)
        theirs = next((layer for layer in donor.layers if layer.name == part), None)
        if theirs is None or [w.shape for w in theirs.weights] != [w.shape for w in mine.weights]:
            raise UserError(f"{KEY}: {file} is a '{architecture_name(donor)}' model, which does not fit "
                            f"model.architecture '{architecture_name(autoencoder)}'; set model.architecture to "
                            f"'{architecture_name(donor)}' or model.init_from to \"\"")
        mine.set_weights(theirs.get_weights())
