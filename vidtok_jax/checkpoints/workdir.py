"""Reading training workdirs: their checkpoints as weights for inference, export to official files.

A workdir (written by ``train.py``, see ``vidtok_jax.train.checkpointing``) holds
``checkpoints/<step>/`` with the items ``state``, ``data`` and ``config``. ``read_checkpoint`` gives
a step's state as numpy arrays and its config document; ``load_params_from_workdir`` gives
``(ModelConfig, params)`` for ``load_tokenizer``; ``export_workdir`` writes the official
``.safetensors`` layout (a VidTok state dict with its config YAML beside it, or an official
VideoFlexTok file). Nothing here imports the training engine.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import yaml
from absl import logging as absl_logging

from vidtok_jax.checkpoints.state_dict import save_safetensors, state_dict_from_params
from vidtok_jax.config import ModelConfig, load_model_config, model_config_from_dict
from vidtok_jax.errors import CheckpointError, ConfigError
from vidtok_jax.flextok.checkpoint import CHUNK_FRAMES, OVERLAP_FRAMES, write_flextok_file, write_flextok_hub_folder
from vidtok_jax.losses.discriminator import discriminator_state_dict

FLEXTOK_DOCUMENT = "videoflextok"  # the config document of a VideoFlexTok run holds its official config here


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir).resolve() / "checkpoints"


@contextlib.contextmanager
def _absl_errors_only():
    """Silence orbax's warnings about a read-only manager (it is read-only because we only read)."""
    previous = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(previous)


def read_checkpoint(workdir: str | Path, step: int | None) -> tuple[int, dict, dict]:
    """``(step, state as nested dicts of numpy arrays, config document)`` of a workdir's checkpoint."""
    directory = checkpoint_dir(workdir)
    if not directory.is_dir():
        raise CheckpointError(f"{workdir} is not a training workdir (no checkpoints/ folder)")
    handlers = {"state": ocp.PyTreeCheckpointHandler(), "data": ocp.JsonCheckpointHandler(),
                "config": ocp.JsonCheckpointHandler()}
    with _absl_errors_only(), ocp.CheckpointManager(directory, item_handlers=handlers,
                                                    options=ocp.CheckpointManagerOptions(read_only=True)) as manager:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"{workdir} has no finished checkpoint")
        metadata = manager.item_metadata(step)["state"]
        restore_args = jax.tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), metadata)
        restored = manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.PyTreeRestore(restore_args=restore_args), config=ocp.args.JsonRestore()))
    return step, restored["state"], restored["config"]


def _model_config(document: dict, workdir) -> ModelConfig:
    return model_config_from_dict(document["model"], name=Path(workdir).resolve().name)


def _autoencoder(state: dict, use_ema: bool) -> dict:
    trained = state["ema"] if use_ema and state.get("ema") else state["generator"]["autoencoder"]
    return {**(state.get("frozen") or {}), **trained}


def load_params_from_workdir(workdir: str | Path, step: int | None = None,
                             use_ema: bool = False) -> tuple[ModelConfig, dict]:
    """``(ModelConfig, params)`` of a training workdir (latest step by default; ``use_ema`` for the EMA weights)."""
    _, state, document = read_checkpoint(workdir, step)
    return _model_config(document, workdir), _autoencoder(state, use_ema)


def load_training_checkpoint(workdir: str | Path, step: int | None = None) -> dict:
    """What a new run can start from: ``autoencoder``, ``discriminator``, ``logvar`` and ``model_config``."""
    _, state, document = read_checkpoint(workdir, step)
    return {"autoencoder": _autoencoder(state, False), "discriminator": state["discriminator"],
            "logvar": np.asarray(state["generator"]["logvar"]), "model_config": _model_config(document, workdir)}


def _flextok_hub_settings(document: dict, sampler_steps: int | None) -> dict:
    """The Hub settings of a VideoFlexTok run: the official chunking, the latent size of its training clips and, if
    given, the sampler steps that ``detokenize`` takes by default."""
    vidtok = load_model_config(document["vidtok"]["config"])
    data = document["train"]["data"]
    sizes = [vidtok.latent_frames(CHUNK_FRAMES), data["height"] // vidtok.spatial_factor,
             data["width"] // vidtok.spatial_factor]
    hub = {"chunk_size": CHUNK_FRAMES, "overlap_size_frames": OVERLAP_FRAMES, "vae_video_sizes": sizes}
    return hub if sampler_steps is None else {**hub, "sampler_steps": sampler_steps}


def export_workdir(workdir: str | Path, out: str | Path, step: int | None = None, use_ema: bool = False,
                   weights_only: bool = False, dtype=np.float32, sampler_steps: int | None = None) -> Path:
    """Write the official ``.safetensors`` state dict and ``<out>.yaml`` beside it (returned).

    A VideoFlexTok workdir is written as an official VideoFlexTok file (its config in the metadata;
    the frozen VidTok stage is not included) and the file itself is returned; an ``out`` that does not
    end in ``.safetensors`` becomes a Hub folder whose ``config.json`` also says the chunking and the
    training clips' latent size (``model.safetensors`` in it is returned).

    The state dict holds the loss's discriminator and log-variance (``loss.*``) as official
    checkpoints do, unless ``weights_only``: then only the autoencoder, which is all inference needs.
    ``dtype=np.float16`` halves the file (the loaders read any float dtype back as float32).
    ``sampler_steps`` (a VideoFlexTok Hub folder only) is written in its ``config.json``: the Euler steps that
    ``detokenize`` takes by default (the official 30 otherwise).
    """
    step, state, document = read_checkpoint(workdir, step)
    if sampler_steps is not None and (FLEXTOK_DOCUMENT not in document or str(out).endswith(".safetensors")):
        raise ConfigError("sampler steps are a setting of a VideoFlexTok Hub folder: export a VideoFlexTok run to a "
                          "folder (an --out that does not end in .safetensors)")
    if FLEXTOK_DOCUMENT in document:  # a VideoFlexTok run: the official VideoFlexTok format, config in the metadata
        params = state["ema"] if use_ema and state.get("ema") else state["params"]
        params = {part: params[part] for part in ("encoder", "decoder")}  # a training-only read-out stays behind
        if str(out).endswith(".safetensors"):
            write_flextok_file(out, document[FLEXTOK_DOCUMENT], params, dtype=dtype)
            return Path(out)
        return write_flextok_hub_folder(out, document[FLEXTOK_DOCUMENT], params, _flextok_hub_settings(document, sampler_steps),
                                        dtype=dtype)
    disc = state["discriminator"]
    extras = None if weights_only else {**discriminator_state_dict(disc["params"], disc["batch_stats"]),
                                        "loss.logvar": np.asarray(state["generator"]["logvar"], np.float32)}
    out = Path(out)
    state_dict = state_dict_from_params(_autoencoder(state, use_ema), extras)
    save_safetensors(out, {key: value.astype(dtype) for key, value in state_dict.items()})
    config_path = out.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(document["model"], sort_keys=False))
    return config_path
