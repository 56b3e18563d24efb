"""Training checkpoints with orbax: save and resume (reading them back: ``vidtok_jax.checkpoints.workdir``).

A workdir holds ``checkpoints/<step>/`` with three items: ``state`` (the family's whole train state; VidTok's:
parameters, optimizer states, EMA, discriminator with its batch statistics, LeCAM averages, step
and RNG, each array saved in its sharding), ``data`` (the input iterator's position, JSON) and
``config`` (the family's config document, JSON: the training config and the model's official config). Saves are
asynchronous; orbax writes each step to a temporary folder and renames it when complete, so a
run killed at any moment leaves only whole checkpoints (unfinished ones are removed on restart).
The last ``checkpoint.keep`` steps are kept, plus the one with the best evaluation PSNR.
"""

from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp
from flax import serialization
from orbax.checkpoint import checkpoint_managers

from vidtok_jax.checkpoints.workdir import checkpoint_dir
from vidtok_jax.train.config import TrainConfig

ITEMS = ("state", "data", "config")
BEST_METRIC = "eval_psnr"


def make_manager(workdir: str | Path, config: TrainConfig) -> ocp.CheckpointManager:
    ckpt = config.checkpoint
    policies = [checkpoint_managers.LatestN(ckpt.keep)]
    if ckpt.keep_best:
        policies.append(checkpoint_managers.BestN(get_metric_fn=lambda metrics: metrics[BEST_METRIC], reverse=False,
                                                  n=1, keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        enable_async_checkpointing=config.checkpoint.async_,
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
