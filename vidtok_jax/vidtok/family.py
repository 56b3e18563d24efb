"""The VidTok training family: what the engine (``vidtok_jax.train.engine``) trains when ``family: vidtok``.

``VidTokFamily`` gives the engine the interface its docstring lists, built from this package's train
state (``state``) and step (``step``); checkpoints store the training config and the official model
config document (``model_yaml``), so an exported file loads in this package and in the official code.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.checkpoints.state_dict import params_from_state_dict, read_state_dict
from vidtok_jax.errors import CheckpointError
from vidtok_jax.metrics.lpips import load_lpips_params
from vidtok_jax.train.config import TrainConfig
from vidtok_jax.vidtok.checkpoint import load_training_checkpoint
from vidtok_jax.vidtok.default_model import weights_path
from vidtok_jax.vidtok.losses.discriminator import STATE_DICT_PREFIX, discriminator_from_state_dict
from vidtok_jax.vidtok.model_yaml import official_config_doc
from vidtok_jax.vidtok.state import discriminator_input_shape, init_state, make_discriminator
from vidtok_jax.vidtok.step import TrainStep
from vidtok_jax.vidtok.tokenizer import param_shapes, tree_size


def initial_weights(config: TrainConfig) -> dict | None:
    """Weights to start from (``init.checkpoint``): a training workdir, an official .ckpt/.safetensors, or
    ``vidtok_jax_default`` (the bundled model)."""
    if config.init.checkpoint is None:
        return None
    source = weights_path(config.init.checkpoint)
    template = param_shapes(config.model_config)
    if Path(source).is_dir():
        loaded = load_training_checkpoint(source)
        shapes = jax.tree_util.tree_map(np.shape, loaded["autoencoder"])
        if shapes != jax.tree_util.tree_map(lambda leaf: tuple(leaf.shape), template):
            raise CheckpointError(f"{source} holds another model than model.config / model.net describe")
        return {"autoencoder": loaded["autoencoder"], "discriminator": loaded["discriminator"],
                "logvar": loaded["logvar"]}
    params, extras = params_from_state_dict(template, read_state_dict(source), source=str(source))
    initial = {"autoencoder": params}
    if "loss.logvar" in extras:
        initial["logvar"] = np.asarray(extras["loss.logvar"], np.float32)
    if any(key.startswith(STATE_DICT_PREFIX) for key in extras):
        disc = jax.eval_shape(make_discriminator(config).init, jax.random.key(0),
                              jax.ShapeDtypeStruct(discriminator_input_shape(config), jnp.float32))
        params, stats = discriminator_from_state_dict(disc["params"], disc["batch_stats"], extras, str(source))
        initial["discriminator"] = {"params": params, "batch_stats": stats}
    return initial


class VidTokFamily:
    """VidTok: the paper's recipe (L1 + LPIPS, learned log-variance, PatchGAN, LeCAM, EMA, two stages)."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.steps = TrainStep(config)

    def initial_weights(self) -> dict | None:
        return initial_weights(self.config)

    def init_state(self, initial):
        return init_state(self.config, initial)

    def aux(self):
        return load_lpips_params("vgg") if self.config.loss.perceptual_weight > 0 else None

    def train_step(self, state, video, aux):
        return self.steps.train_step(state, video, aux)

    def eval_step(self, state, video, aux):
        del aux
        recon, psnr = self.steps.eval_step(state, video, False)
        metrics = {"eval_psnr": jnp.mean(psnr)}
        if state.ema:
            metrics["eval_ema_psnr"] = jnp.mean(self.steps.eval_step(state, video, True)[1])
        return metrics, recon

    def describe(self, state) -> str:
        return (f"{self.config.model_config.name}: {tree_size(state.generator['autoencoder'])} trained + "
                f"{tree_size(state.frozen)} frozen autoencoder parameters, stage {self.config.stage}")

    def config_document(self) -> dict:
        loss = {k: v for k, v in self.config.to_dict()["loss"].items() if k != "disc_channels"}
        return {"train": self.config.to_dict(), "model": official_config_doc(self.config.model_config, loss)}
