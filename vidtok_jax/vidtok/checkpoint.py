"""VidTok training workdirs as weights: for inference, for a new run, and as an official ``.safetensors`` file.

A VidTok run's checkpoint (``vidtok_jax.checkpoints.workdir.read_checkpoint``) holds the train state
of ``vidtok_jax.vidtok.state`` and a config document whose ``model`` entry is the official model
config. ``load_params_from_workdir`` gives ``(ModelConfig, params)`` for ``load_tokenizer``,
``load_training_checkpoint`` what a new run starts from, and ``export_vidtok_run`` writes the official
state dict with its config YAML beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from vidtok_jax.checkpoints.state_dict import save_safetensors, state_dict_from_params
from vidtok_jax.checkpoints.workdir import read_checkpoint
from vidtok_jax.vidtok.config import ModelConfig, model_config_from_dict
from vidtok_jax.vidtok.losses.discriminator import discriminator_state_dict


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


def export_vidtok_run(state: dict, document: dict, out: str | Path, use_ema: bool = False,
                      weights_only: bool = False, dtype=np.float32) -> Path:
    """Write a VidTok run's checkpoint (``state``, ``document``) as the official ``.safetensors`` state dict at
    ``out`` and ``<out>.yaml`` beside it (returned).

    The state dict holds the loss's discriminator and log-variance (``loss.*``) as official
    checkpoints do, unless ``weights_only``: then only the autoencoder, which is all inference needs.
    ``dtype=np.float16`` halves the file (the loaders read any float dtype back as float32).
    """
    disc = state["discriminator"]
    extras = None if weights_only else {**discriminator_state_dict(disc["params"], disc["batch_stats"]),
                                        "loss.logvar": np.asarray(state["generator"]["logvar"], np.float32)}
    out = Path(out)
    state_dict = state_dict_from_params(_autoencoder(state, use_ema), extras)
    save_safetensors(out, {key: value.astype(dtype) for key, value in state_dict.items()})
    config_path = out.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(document["model"], sort_keys=False))
    return config_path
