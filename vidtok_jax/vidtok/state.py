"""The train state and how it is created: parameters, optimizer states, EMA, discriminator, LeCAM, RNG.

``generator`` holds what the generator optimizer trains: the autoencoder parameters (both
networks in stage 1, only the decoder in stage 2) and the learned log-variance. In stage 2 the
encoder sits in ``frozen``: it gets no gradient, no optimizer state and no EMA. Everything is
float32 whatever the compute dtype; ``rng`` is the raw data of the run's base key, from which each step folds in its number.
The state is created under ``jax.jit`` with the shardings of
``mesh.state_shardings``, so no device ever holds more than its shard.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from vidtok_jax.train.config import TrainConfig
from vidtok_jax.train.mesh import PRNG_IMPL
from vidtok_jax.train.optimizer import discriminator_optimizer, generator_optimizer
from vidtok_jax.vidtok.losses.discriminator import PatchDiscriminator
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder


@struct.dataclass
class TrainState:
    step: jax.Array
    generator: dict
    frozen: dict
    generator_opt: object
    ema: dict
    discriminator: dict
    discriminator_opt: object
    lecam: dict
    rng: jax.Array


def split_trainable(params: dict, stage: int) -> tuple[dict, dict]:
    """``(trainable, frozen)`` autoencoder parameters of a stage."""
    if stage == 1:
        return dict(params), {}
    return {"decoder": params["decoder"]}, {"encoder": params["encoder"]}


def autoencoder_params(state: TrainState, use_ema: bool = False) -> dict:
    trained = state.ema if use_ema and state.ema else state.generator["autoencoder"]
    return {**state.frozen, **trained}


def make_discriminator(config: TrainConfig, dtype=jnp.float32) -> PatchDiscriminator:
    loss = config.loss
    return PatchDiscriminator(channels=loss.disc_channels, num_layers=loss.disc_num_layers,
                              three_d=loss.disc_type == "3d", dtype=dtype)


def discriminator_input_shape(config: TrainConfig) -> tuple[int, ...]:
    data = config.data
    frame = (data.height, data.width, 3)
    return (1, data.num_frames) + frame if config.loss.disc_type == "3d" else (1,) + frame


def with_posterior_logvar(params: dict, logvar: float, z_channels: int) -> dict:
    """``params`` with the encoder's last bias set to ``logvar`` on its log-variance channels.

    A fresh KL model samples latents with unit variance, which hides them from the decoder until the
    encoder learns to shrink it; starting from a small variance makes a short training run useful.
    """
    conv_out = params["encoder"]["conv_out"]
    layer = conv_out.get("conv", conv_out)  # causal models wrap the conv in "conv"
    layer = {**layer, "bias": layer["bias"].at[z_channels:].set(logvar)}
    conv_out = {**conv_out, "conv": layer} if "conv" in conv_out else layer
    return {**params, "encoder": {**params["encoder"], "conv_out": conv_out}}


def init_state(config: TrainConfig, initial: dict | None = None) -> TrainState:
    """A fresh state (jit this); ``initial`` may hold ``autoencoder``, ``discriminator`` and ``logvar`` to start from."""
    initial = initial or {}
    model_key, disc_key, rng_key = jax.random.split(jax.random.key(config.seed, impl=PRNG_IMPL), 3)
    model_cfg = config.model_config
    if "autoencoder" in initial:
        params = initial["autoencoder"]
    else:
        frames = 1 if model_cfg.causal else model_cfg.temporal_factor
        example = jnp.zeros((1, frames, model_cfg.spatial_factor, model_cfg.spatial_factor, 3), jnp.float32)
        params = Autoencoder(model_cfg).init(model_key, example)["params"]
        if config.init.posterior_logvar is not None:
            params = with_posterior_logvar(params, config.init.posterior_logvar, model_cfg.encoder.z_channels)
    if "discriminator" in initial:
        discriminator = initial["discriminator"]
    else:
        variables = make_discriminator(config).init(disc_key, jnp.zeros(discriminator_input_shape(config)))
        discriminator = {"params": variables["params"], "batch_stats": variables["batch_stats"]}
    logvar = jnp.asarray(initial.get("logvar", config.loss.logvar_init), jnp.float32)
    trainable, frozen = split_trainable(params, config.stage)
    generator = {"autoencoder": trainable, "logvar": logvar}
    ema = jax.tree_util.tree_map(jnp.copy, trainable) if config.optimizer.ema_decay else {}
    return TrainState(
        step=jnp.zeros((), jnp.int32), generator=generator, frozen=frozen,
        generator_opt=generator_optimizer(config).init(generator), ema=ema,
        discriminator=discriminator, discriminator_opt=discriminator_optimizer(config).init(discriminator["params"]),
        lecam={"real": jnp.zeros((), jnp.float32), "fake": jnp.zeros((), jnp.float32)},
        rng=jax.random.key_data(rng_key))
