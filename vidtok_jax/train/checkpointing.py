"""Training checkpoints with orbax: save, resume, and read them back as tokenizer weights.

A workdir holds ``checkpoints/<step>/`` with three items: ``state`` (the whole `TrainState`:
parameters, optimizer states, EMA, discriminator with its batch statistics, LeCAM averages, step
and RNG, each array saved in its sharding), ``data`` (the input iterator's position, JSON) and
``config`` (the training config and the official model config document, JSON). Saves are
asynchronous; orbax writes each step to a temporary folder and renames it when complete, so a
run killed at any moment leaves only whole checkpoints (unfinished ones are removed on restart).
The last ``checkpoint.keep`` steps are kept, plus the one with the best evaluation PSNR.

``load_params_from_workdir`` gives ``(ModelConfig, params)`` for ``load_tokenizer``;
``export_workdir`` writes the official ``.safetensors`` layout with a config YAML beside it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import yaml
from absl import logging as absl_logging
from flax import serialization
from orbax.checkpoint import checkpoint_managers

from vidtok_jax.checkpoints.state_dict import save_safetensors, state_dict_from_params
from vidtok_jax.config import ModelConfig, model_config_from_dict
from vidtok_jax.errors import CheckpointError
from vidtok_jax.flextok.checkpoint import write_flextok_file
from vidtok_jax.losses.discriminator import discriminator_state_dict
from vidtok_jax.train.config import TrainConfig
from vidtok_jax.train.model_yaml import official_config_doc

ITEMS = ("state", "data", "config")
FLEXTOK_DOCUMENT = "videoflextok"  # the config document of a VideoFlexTok run holds its official config here
BEST_METRIC = "eval_psnr"


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir).resolve() / "checkpoints"


def config_document(config: TrainConfig) -> dict:
    loss = {k: v for k, v in config.to_dict()["loss"].items() if k != "disc_channels"}
    return {"train": config.to_dict(), "model": official_config_doc(config.model_config, loss)}


def make_manager(workdir: str | Path, config: TrainConfig) -> ocp.CheckpointManager:
    ckpt = config.checkpoint
    policies = [checkpoint_managers.LatestN(ckpt.keep)]
    if ckpt.keep_best:
        policies.append(checkpoint_managers.BestN(get_metric_fn=lambda metrics: metrics[BEST_METRIC], reverse=False,
                                                  n=1, keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        enable_async_checkpointing=bool(config.raw["checkpoint"]["async"]),
        preservation_policy=checkpoint_managers.AnyPreservationPolicy(policies),
        cleanup_tmp_directories=True)
    return ocp.CheckpointManager(checkpoint_dir(workdir), item_names=ITEMS, options=options)


def save(manager: ocp.CheckpointManager, state, data_state: dict, document: dict, metrics: dict | None = None) -> None:
    """Save a step: the train state, the input position and the config ``document`` (``family.config_document()``)."""
    step = int(jax.device_get(state.step))
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(serialization.to_state_dict(state)),
        data=ocp.args.JsonSave(data_state), config=ocp.args.JsonSave(document)),
        metrics=metrics)


def restore(manager: ocp.CheckpointManager, abstract_state, shardings, step: int | None = None) -> tuple[object, dict]:
    """The state (placed with ``shardings``) and the data iterator state of a step (default: the latest)."""
    step = manager.latest_step() if step is None else step
    target = jax.tree_util.tree_map(lambda leaf, sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding),
                                    abstract_state, shardings)
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(serialization.to_state_dict(target)), data=ocp.args.JsonRestore()))
    return serialization.from_state_dict(abstract_state, restored["state"]), restored["data"]


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


def export_workdir(workdir: str | Path, out: str | Path, step: int | None = None, use_ema: bool = False,
                   weights_only: bool = False, dtype=np.float32) -> Path:
    """Write the official ``.safetensors`` state dict and ``<out>.yaml`` beside it (returned).

    A VideoFlexTok workdir is written as an official VideoFlexTok file (its config in the metadata;
    the frozen VidTok stage is not included) and the file itself is returned.

    The state dict holds the loss's discriminator and log-variance (``loss.*``) as official
    checkpoints do, unless ``weights_only``: then only the autoencoder, which is all inference needs.
    ``dtype=np.float16`` halves the file (the loaders read any float dtype back as float32).
    """
    step, state, document = read_checkpoint(workdir, step)
    if FLEXTOK_DOCUMENT in document:  # a VideoFlexTok run: the official VideoFlexTok format, config in the metadata
        params = state["ema"] if use_ema and state.get("ema") else state["params"]
        write_flextok_file(out, document[FLEXTOK_DOCUMENT], params, dtype=dtype)
        return Path(out)
    disc = state["discriminator"]
    extras = None if weights_only else {**discriminator_state_dict(disc["params"], disc["batch_stats"]),
                                        "loss.logvar": np.asarray(state["generator"]["logvar"], np.float32)}
    out = Path(out)
    state_dict = state_dict_from_params(_autoencoder(state, use_ema), extras)
    save_safetensors(out, {key: value.astype(dtype) for key, value in state_dict.items()})
    config_path = out.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(document["model"], sort_keys=False))
    return config_path
