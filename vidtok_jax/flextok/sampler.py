"""The rectified-flow Euler sampler of VideoFlexTok with classifier-free and adaptive projected guidance.

As the official `VideoMinRFPipeline`: start from noise at t = 1, take `steps` Euler steps
`x <- x - (1/steps) · v(x, t)` at t = i/steps for i = steps..1 (v points from data to noise).
With conditioning latents, the first P latent frames of x are overwritten by them before every
decoder call and once more at the end. Guidance: plain CFG `u + s·(c - u)`, or APG
(arXiv 2410.02416) where `diff = c - u` (optionally a momentum running average) is clipped to
L2 norm <= `norm_threshold` and split into parts parallel and orthogonal to `c`, both norms and
projections taken per (sample, channel) over (T, H, W); the result is
`c + (s - 1)·(orthogonal + eta·parallel)`. The conditional and unconditional passes run as one
batch. The official pipeline shares one momentum buffer across the samples of a batch (a quirk
that only matters for momentum != 0 and batch > 1); here every sample has its own.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

NORM_EPS = 1e-12  # torch.nn.functional.normalize


@dataclasses.dataclass(frozen=True)
class Guidance:
    """How the sampler guides: `scale` 1 runs no unconditional pass; `apg` selects APG over plain CFG."""

    scale: float = 1.0
    apg: bool = False
    eta: float = 0.0
    momentum: float = 0.0
    norm_threshold: float = 0.6

    @property
    def active(self) -> bool:
        return self.scale != 1.0


def _spatiotemporal_norm(x: jax.Array) -> jax.Array:
    """L2 norm per (sample, channel) over (T, H, W) of channels-last `[B, T, H, W, C]`."""
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=(1, 2, 3), keepdims=True))


def apg_update(cond: jax.Array, diff: jax.Array, guidance: Guidance) -> jax.Array:
    """The guided prediction from the conditional prediction and the (averaged) guidance difference."""
    if guidance.norm_threshold > 0:
        diff = diff * jnp.minimum(1.0, guidance.norm_threshold / _spatiotemporal_norm(diff))
    unit = cond / jnp.maximum(_spatiotemporal_norm(cond), NORM_EPS)
    parallel = jnp.sum(diff * unit, axis=(1, 2, 3), keepdims=True) * unit
    return cond + (guidance.scale - 1.0) * (diff - parallel + guidance.eta * parallel)


def with_prefix(x: jax.Array, cond: jax.Array | None) -> jax.Array:
    """x with its first P latent frames replaced by the conditioning latents `[B, P, H, W, C]`."""
    if cond is None:
        return x
    return x.at[:, :cond.shape[1]].set(cond.astype(x.dtype))


def sample(velocity: Callable[[jax.Array, jax.Array, jax.Array], jax.Array], noise: jax.Array, steps: int,
           guidance: Guidance, cond: jax.Array | None = None) -> jax.Array:
    """Integrate from `noise` (t = 1) to data (t = 0).

    `velocity(x, t, null)` is one decoder call on a batch: `t` `[B]`, `null` `[B]` bool.
    """
    batch = noise.shape[0]

    def step(carry, i):
        x, running = carry
        t = jnp.full((batch,), i, jnp.float32) / steps
        x = with_prefix(x, cond)
        if guidance.active:
            both = velocity(jnp.concatenate([x, x]), jnp.concatenate([t, t]),
                            jnp.concatenate([jnp.zeros(batch, bool), jnp.ones(batch, bool)]))
            v_cond, v_uncond = both[:batch], both[batch:]
            if guidance.apg:
                running = (v_cond - v_uncond) + guidance.momentum * running
                v = apg_update(v_cond, running, guidance)
            else:
                v = v_uncond + guidance.scale * (v_cond - v_uncond)
        else:
            v = velocity(x, t, jnp.zeros(batch, bool))
        return (x - jnp.float32(1.0 / steps) * v, running), None

    (x, _), _ = jax.lax.scan(step, (noise.astype(jnp.float32), jnp.zeros_like(noise, jnp.float32)),
                             jnp.arange(steps, 0, -1))
    return with_prefix(x, cond)
