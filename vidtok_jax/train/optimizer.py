"""Optimizers of a VidTok training run: Adam with gradient-norm clipping, a learning-rate schedule,
and the exponential moving average of the generator's parameters.

As the official training step: the generator (encoder, decoder, learned log-variance) and the
discriminator each have their own Adam, both clipping the global gradient norm to 20 first; the
generator's learning rate is ``lr_g_factor`` x the base rate. Schedules: ``constant``; ``warmup``
(linear from 0 over ``warmup_steps``, then constant); ``cosine`` (warmup, then cosine decay to
``end_factor`` x the rate at the last step). The EMA is the official ``LitEma``: its decay is
``min(decay, (1 + n) / (10 + n))`` at the n-th update.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vidtok_jax.train.config import TrainConfig


def learning_rate_schedule(config: TrainConfig, peak: float) -> optax.Schedule:
    opt = config.optimizer
    if opt.schedule == "constant":
        return optax.constant_schedule(peak)
    warmup = max(opt.warmup_steps, 0)
    if opt.schedule == "warmup":
        return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), optax.constant_schedule(peak)],
                                    [warmup]) if warmup else optax.constant_schedule(peak)
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, config.steps, end_value=peak * opt.end_factor)


def base_learning_rate(config: TrainConfig) -> float:
    rate = config.optimizer.learning_rate
    return float(config.model_config.base_learning_rate if rate is None else rate)


def _adam(config: TrainConfig, peak: float) -> optax.GradientTransformation:
    opt = config.optimizer
    return optax.chain(optax.clip_by_global_norm(opt.grad_clip),
                       optax.adam(learning_rate_schedule(config, peak), b1=opt.b1, b2=opt.b2, eps=opt.eps))


def generator_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return _adam(config, base_learning_rate(config) * config.optimizer.lr_g_factor)


def discriminator_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    rate = config.optimizer.disc_learning_rate
    return _adam(config, base_learning_rate(config) if rate is None else float(rate))


def ema_update(ema, params, decay: float, num_updates: jax.Array):
    """One ``LitEma`` update; ``num_updates`` counts this update (1 for the first)."""
    n = num_updates.astype(jnp.float32)
    rate = 1.0 - jnp.minimum(decay, (1.0 + n) / (10.0 + n))
    return jax.tree_util.tree_map(lambda e, p: e - rate * (e - p), ema, params)
