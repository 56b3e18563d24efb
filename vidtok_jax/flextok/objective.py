"""VideoFlexTok's training objective, which the official release does not include, as its modules imply.

For a batch of VidTok latents `[B, t, h, w, C]` and a PRNG key:
- the encoder's register values go through FSQ with straight-through rounding;
- nested dropout: each clip keeps its first k registers per latent frame, k drawn from the
  powers of two up to R (the decoder's `pow2` sampling mode) or uniformly from 1..R (`uniform`);
  `none` keeps all R (a model trained without nested dropout, the control of a coarse-to-fine study);
  `keep_all_fraction` (this port's, 0 by default) of the clips keep all R whatever was drawn: the decoder
  otherwise sees the last registers in few draws (1/R of them under `uniform`) and is slow to read them;
- null-condition dropout: with the null condition's `dropout_prob` a clip's registers are all
  replaced by the learned null condition (what classifier-free guidance needs at inference);
- rectified flow (the official `MinRFNoiseModule`): noise level sigma = sigmoid(N(m, 1))
  (logit-normal, `ln: true`; the official m = 0, `sigma_location` moves it towards pure noise,
  as the location of SD3's logit-normal sampling) or uniform, `x = sigma·noise + (1 - sigma)·latents`, the decoder
  called at t = sigma predicts the velocity `noise - latents`, and the loss is its mean squared
  error;
- `code_penalty` (this port's, 0 by default) adds that weight times the mean square of the encoder's
  values before FSQ, which keeps them in the range where FSQ's tanh bound still passes gradients
  (saturated values all round to the outermost level: every clip gets the same ids);
- `readout_weight` (this port's, 0 by default): a linear read-out (`params["readout"]`, trained beside the
  model and not part of it) predicts each clean latent frame from that frame's kept token codes (the
  registers >= k zeroed, as nested dropout drops them), and its mean squared error, times this weight,
  joins the loss. The encoder's tokens then carry the clip's content from the first steps, before the
  flow decoder has learned to read them (without it the encoder settles on the same ids for every clip);
- prefix conditioning (the official `PrefixMinRFNoiseModule`): a prefix length is drawn per clip
  from `prefix_len` with `keep_prefix_prob`; those latent frames are given clean (or, with
  `cond_noise_prob`, lightly noised with sigma from `cond_sigma_range`), their registers masked,
  and they are left out of the loss.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import ConfigError
from vidtok_jax.flextok.config import FlexTokConfig
from vidtok_jax.flextok.modules import FlexDecoder, FlexEncoder
from vidtok_jax.vidtok.quantizers import FSQ

KEEP_SAMPLING = ("pow2", "uniform", "none")


@dataclasses.dataclass(frozen=True)
class FlowObjective:
    """The random choices of one training step, read from the config's decoder and noise module."""

    keep_sampling: str = "pow2"
    null_prob: float = 0.0
    logit_normal: bool = True
    prefix_lengths: tuple[int, ...] = ()
    prefix_probs: tuple[float, ...] = ()
    cond_noise_prob: float = 0.0
    cond_sigma_range: tuple[float, float] = (0.0, 0.0)
    sigma_location: float = 0.0
    code_penalty: float = 0.0
    readout_weight: float = 0.0
    keep_all_fraction: float = 0.0

    @classmethod
    def from_config(cls, config: FlexTokConfig) -> "FlowObjective":
        noise: Mapping = config.noise_module or {}
        mode = config.decoder.keep_k_sampling
        if mode not in KEEP_SAMPLING:
            raise ConfigError(f"nested dropout size_sampling_mode {mode!r} is not supported for training "
                              f"({', '.join(KEEP_SAMPLING)})")
        if mode == "pow2" and config.num_registers & (config.num_registers - 1):
            raise ConfigError(f"pow2 nested dropout needs a power-of-two register count, not {config.num_registers}")
        if noise.get("stratisfied") or (not noise.get("ln", True) and noise.get("mode_scale", 0.0)):
            raise ConfigError("flow_matching_noise_module: stratified or mode-scaled noise sampling is not supported")
        lengths, probs = noise.get("prefix_len"), noise.get("keep_prefix_prob")
        if isinstance(lengths, int):  # the official single-length form
            lengths, probs = ([0, lengths], [1 - probs, probs]) if lengths else ([], [])
        lengths, probs = tuple(int(n) for n in lengths or ()), tuple(float(p) for p in probs or ())
        if len(lengths) != len(probs) or (probs and abs(sum(probs) - 1) > 1e-6):
            raise ConfigError("flow_matching_noise_module: prefix_len and keep_prefix_prob must pair up, "
                              "the probabilities summing to 1")
        sigma_range = tuple(float(s) for s in noise.get("cond_sigma_range", (0.0, 0.02)))
        return cls(keep_sampling=mode, null_prob=config.decoder.nullcond_dropout, logit_normal=bool(noise.get("ln", True)),
                   prefix_lengths=lengths, prefix_probs=probs, cond_noise_prob=float(noise.get("cond_noise_prob", 0.5)),
                   cond_sigma_range=sigma_range)


def sample_keep(key: jax.Array, batch: int, registers: int, mode: str) -> jax.Array:
    """k per clip: a power of two up to `registers` (`pow2`), uniform in 1..registers, or `registers` (`none`)."""
    if mode == "none":
        return jnp.full((batch,), registers, jnp.int32)
    if mode == "pow2":
        powers = 2 ** jnp.arange(int(np.log2(registers)) + 1)
        return jax.random.choice(key, powers, (batch,)).astype(jnp.int32)
    return jax.random.randint(key, (batch,), 1, registers + 1, jnp.int32)


def sample_prefix(key: jax.Array, batch: int, objective: FlowObjective) -> jax.Array:
    if not objective.prefix_lengths:
        return jnp.zeros((batch,), jnp.int32)
    return jax.random.choice(key, jnp.asarray(objective.prefix_lengths, jnp.int32), (batch,),
                             p=jnp.asarray(objective.prefix_probs, jnp.float32))


def flow_matching_loss(encoder: FlexEncoder, decoder: FlexDecoder, fsq: FSQ, params: Mapping, latents: jax.Array,
                       key: jax.Array, objective: FlowObjective, tokens_of: jax.Array | None = None
                       ) -> tuple[jax.Array, dict]:
    """`(loss, logs)` of one batch of VidTok latents `[B, t, h, w, C]` (see the module docstring).

    `tokens_of` (default: `latents`) are the latents the tokens are computed from: other clips'
    latents measure how much the decoder relies on the right tokens.
    """
    b, t = latents.shape[:2]
    k_keep, k_null, k_sigma, k_noise, k_prefix, k_cond, k_cond_sigma = jax.random.split(key, 7)
    values = encoder.apply({"params": params["encoder"]}, latents if tokens_of is None else tokens_of)
    codes = fsq.quantize(values)
    keep = sample_keep(k_keep, b, codes.shape[2], objective.keep_sampling)
    if objective.keep_all_fraction:
        keep = jnp.where(jax.random.bernoulli(jax.random.fold_in(k_keep, 1), objective.keep_all_fraction, (b,)),
                         codes.shape[2], keep)
    null = jax.random.bernoulli(k_null, objective.null_prob, (b,))
    normal = jax.random.normal(k_sigma, (b,))
    sigma = jax.nn.sigmoid(normal + objective.sigma_location) if objective.logit_normal else jax.random.uniform(k_sigma, (b,))
    noise = jax.random.normal(k_noise, latents.shape, jnp.float32)
    prefix = jnp.minimum(sample_prefix(k_prefix, b, objective), t)
    lo, hi = objective.cond_sigma_range
    cond_sigma = jnp.where(jax.random.bernoulli(k_cond, objective.cond_noise_prob, (b,)),
                           jax.random.uniform(k_cond_sigma, (b,), minval=lo, maxval=hi), 0.0)
    in_prefix = jnp.arange(t)[None, :] < prefix[:, None]  # [B, t]
    level = jnp.where(in_prefix, cond_sigma[:, None], sigma[:, None])[:, :, None, None, None]
    noisy = level * noise + (1.0 - level) * latents
    velocity = decoder.apply({"params": params["decoder"]}, codes, noisy, sigma, keep, prefix, null)
    error = jnp.mean(jnp.square(velocity - (noise - latents)), axis=(2, 3, 4))  # [B, t]
    weight = (~in_prefix).astype(jnp.float32)
    per_clip = jnp.sum(error * weight, axis=1) / jnp.maximum(jnp.sum(weight, axis=1), 1.0)
    flow_loss = jnp.mean(per_clip)
    code_square = jnp.mean(jnp.square(values))
    loss = flow_loss + objective.code_penalty * code_square
    readout = {}
    if objective.readout_weight:
        readout["readout_loss"] = readout_error(params["readout"], codes, keep, latents)
        loss = loss + objective.readout_weight * readout["readout_loss"]
    logs = {"flow_loss": flow_loss, "code_rms": jnp.sqrt(code_square), "mean_keep": jnp.mean(keep.astype(jnp.float32)),
            "null_fraction": jnp.mean(null),
            "mean_prefix": jnp.mean(prefix.astype(jnp.float32)), "mean_sigma": jnp.mean(sigma), **readout}
    return loss, logs


def init_readout(key: jax.Array, registers: int, code_dim: int, latent_frame_shape: tuple[int, int, int]) -> dict:
    """The linear read-out of one latent frame ``(h, w, C)`` from its ``registers`` token codes of ``code_dim``."""
    size = int(np.prod(latent_frame_shape))
    return {"kernel": jax.random.normal(key, (registers * code_dim, size), jnp.float32) / np.sqrt(registers * code_dim),
            "bias": jnp.zeros((size,), jnp.float32)}


def readout_error(readout: Mapping, codes: jax.Array, keep: jax.Array, latents: jax.Array) -> jax.Array:
    """Mean squared error of the latents `[B, t, h, w, C]` read linearly from each frame's first `keep` codes."""
    b, t, r, _ = codes.shape
    kept = codes * (jnp.arange(r)[None, :] < keep[:, None])[:, None, :, None]
    predicted = kept.reshape(b, t, -1) @ readout["kernel"] + readout["bias"]
    return jnp.mean(jnp.square(predicted.reshape(latents.shape) - latents))
