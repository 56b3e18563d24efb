"""The two VidTok bottlenecks, channels-last and always computed in float32.

- Diagonal Gaussian (KL models): the encoder output holds mean and log-variance; `mode` is the
  mean, `sample` needs an explicit PRNG key, `kl` is the official KL term (sum / batch size).
- FSQ (finite scalar quantization) as VidTok implements it: each channel is bounded with
  `tanh(z + atanh(offset / half_l)) · half_l − offset`, `half_l = (L − 1)(1 + 1e-3) / 2`, rounded
  with a straight-through gradient and scaled by `1 / (L // 2)`. Token ids are mixed-radix
  numbers of the per-channel levels. The auxiliary loss is the entropy loss (per-sample entropy
  minus codebook entropy of a softmax over the implicit codebook, inverse temperature 100),
  annealed from `factor × weight` down to `weight`, plus the commitment loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.vidtok.config import RegularizerConfig

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
FSQ_EPS = 1e-3


def split_moments(moments: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean and clamped log-variance from the encoder's `[..., 2C]` output."""
    moments = moments.astype(jnp.float32)
    mean, logvar = jnp.split(moments, 2, axis=-1)
    return mean, jnp.clip(logvar, LOGVAR_MIN, LOGVAR_MAX)


def gaussian_sample(moments: jax.Array, key: jax.Array) -> jax.Array:
    """A sample of the posterior: mean + std · N(0, 1)."""
    mean, logvar = split_moments(moments)
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, jnp.float32)


def gaussian_kl(moments: jax.Array) -> jax.Array:
    """KL to N(0, 1), summed over all but the batch axis and divided by the batch size."""
    mean, logvar = split_moments(moments)
    kl = 0.5 * (jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar)
    return jnp.sum(kl) / moments.shape[0]


class FSQ:
    """VidTok's finite scalar quantizer for one codebook without projections."""

    def __init__(self, config: RegularizerConfig):
        self.config = config
        self.levels = np.asarray(config.levels, dtype=np.int32)
        self.basis = np.cumprod(np.concatenate([[1], self.levels[:-1]])).astype(np.int32)
        self.half_width = (self.levels // 2).astype(np.float32)
        self.codebook_size = int(np.prod(self.levels))

    @property
    def dim(self) -> int:
        return len(self.levels)

    def bound(self, z: jax.Array) -> jax.Array:
        levels = self.levels.astype(np.float32)
        half_l = (levels - 1) * (1 + FSQ_EPS) / 2
        offset = np.where(self.levels % 2 == 0, 0.5, 0.0).astype(np.float32)
        shift = np.arctanh(offset / half_l).astype(np.float32)
        return jnp.tanh(z + shift) * half_l - offset

    def quantize(self, z: jax.Array) -> jax.Array:
        """Codes in [-1, 1] with straight-through gradients; same shape as `z` (`[..., dim]`)."""
        z = z.astype(jnp.float32)
        bounded = self.bound(z)
        rounded = bounded + jax.lax.stop_gradient(jnp.round(bounded) - bounded)
        return rounded / self.half_width

    def codes_to_indices(self, codes: jax.Array) -> jax.Array:
        digits = jnp.round(codes * self.half_width + self.half_width)
        return jnp.sum(digits * self.basis, axis=-1).astype(jnp.int32)

    def indices_to_codes(self, indices: jax.Array) -> jax.Array:
        digits = (indices[..., None] // self.basis) % self.levels
        return (digits.astype(jnp.float32) - self.half_width) / self.half_width

    def implicit_codebook(self) -> jax.Array:
        return self.indices_to_codes(jnp.arange(self.codebook_size, dtype=jnp.int32))

    def entropy_weight(self, step) -> jax.Array:
        """Entropy-loss weight at `step`: linear from factor × weight to weight, then constant."""
        cfg = self.config
        weight = cfg.entropy_loss_weight
        if cfg.entropy_loss_annealing_steps <= 0:
            return jnp.asarray(weight, jnp.float32)
        start = cfg.entropy_loss_annealing_factor * weight
        frac = jnp.asarray(step, jnp.float32) / cfg.entropy_loss_annealing_steps
        return jnp.where(frac >= 1.0, weight, start - frac * (start - weight))

    def aux_loss(self, z: jax.Array, codes: jax.Array, step=0, inv_temperature: float = 100.0) -> jax.Array:
        """Entropy loss × annealed weight + commitment loss × its weight (official formula)."""
        cfg = self.config
        z = z.astype(jnp.float32).reshape(-1, self.dim)
        total = jnp.zeros((), jnp.float32)
        if cfg.entropy_loss_weight > 0:
            logits = 2.0 * inv_temperature * (z @ self.implicit_codebook().T)
            prob = jax.nn.softmax(logits, axis=-1)
            per_sample = jnp.mean(_entropy(prob))
            codebook = _entropy(jnp.mean(prob, axis=0))
            total = total + (per_sample - cfg.diversity_gamma * codebook) * self.entropy_weight(step)
        if cfg.commitment_loss_weight > 0:
            commit = jnp.mean(jnp.square(z - jax.lax.stop_gradient(codes.reshape(-1, self.dim))))
            total = total + commit * cfg.commitment_loss_weight
        return total


def _entropy(prob: jax.Array) -> jax.Array:
    return -jnp.sum(prob * jnp.log(jnp.maximum(prob, 1e-5)), axis=-1)
