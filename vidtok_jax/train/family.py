"""What a model family gives the training engine, and the VidTok family.

The engine (``vidtok_jax.train.engine``: mesh, input, sharding, jitted update, checkpoints, signals, logging)
knows a model only through this interface, so VidTok and VideoFlexTok share one loop:

- ``initial_weights()``: what a new run starts from (``init.checkpoint``), or None;
- ``init_state(initial)``: a fresh train state, a pytree of arrays (jitted with the state's shardings);
- ``aux()``: constants every step reads, replicated (LPIPS weights, a frozen VidTok stage);
- ``train_step(state, inputs, aux)`` -> ``(state, metrics)``, metrics holding ``finite``; the inputs are
  clips ``[B, T, H, W, 3]``, or latents ``[B, t, h, w, C]`` when ``data.source`` is ``latents``;
- ``eval_step(state, video, aux)`` -> ``(metrics, sample)``: ``eval_psnr`` (the checkpoint kept as
  best has the highest) and a reconstruction of the clips for the pictures;
- ``describe(state)``: one line on the model; ``config_document()``: what checkpoints store.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.checkpoints.state_dict import params_from_state_dict, read_state_dict
from vidtok_jax.checkpoints.workdir import load_training_checkpoint
from vidtok_jax.default_model import weights_path
from vidtok_jax.errors import CheckpointError
from vidtok_jax.losses.discriminator import STATE_DICT_PREFIX, discriminator_from_state_dict
from vidtok_jax.metrics.lpips import load_lpips_params
from vidtok_jax.tokenizer import param_shapes
from vidtok_jax.train import checkpointing
from vidtok_jax.train.config import TrainConfig
from vidtok_jax.train.state import count_params, discriminator_input_shape, init_state, make_discriminator
from vidtok_jax.train.step import TrainStep


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
        return (f"{self.config.model_config.name}: {count_params(state.generator['autoencoder'])} trained + "
                f"{count_params(state.frozen)} frozen autoencoder parameters, stage {self.config.stage}")

    def config_document(self) -> dict:
        return checkpointing.config_document(self.config)


def make_family(config: TrainConfig):
    """The model family a training config trains (``family: vidtok | videoflextok``)."""
    if config.family == "videoflextok":
        from vidtok_jax.flextok.training import FlexTokFamily  # the flextok package imports the tokenizer
        return FlexTokFamily(config)
    return VidTokFamily(config)
