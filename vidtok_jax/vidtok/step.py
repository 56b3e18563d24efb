"""One training step of VidTok: a single autoencoder forward pass, generator and discriminator updates.

The autoencoder runs once, under ``jax.vjp``. Its pullback is then used three times: with the
cotangent of the reconstruction nll and with that of the generator's GAN loss, keeping only the
gradient at the decoder's last kernel (the compiler drops the rest of those two backward passes),
which gives the official adaptive weight; and with the weighted sum of both plus the
regularization loss, which gives the generator gradients. The discriminator sees the same
reconstruction, detached. GAN terms follow the official step counting (see ``train.config``):
the discriminator trains from global step ``2·step + 1 >= disc_start``, the generator's GAN term
counts from ``2·step >= disc_start``; before that the discriminator's forward passes are skipped
(``lax.cond``) and its Adam sees zero gradients, as in the official run (where ``disc_factor`` is 0
then), except that its BatchNorm running statistics and the LeCAM averages only move once it trains.

The autoencoder computes in ``model.dtype`` (bfloat16 by default) with float32 parameters; the
losses, gradients and optimizer states are float32. ``model.remat``: ``blocks`` recomputes each
residual block in the backward pass (``nn.remat``); the other policies wrap the encoder and the
decoder each in ``jax.checkpoint`` with that policy (``train.config.CHECKPOINT_POLICIES``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from vidtok_jax.metrics.psnr import psnr_per_frame
from vidtok_jax.train.config import CHECKPOINT_POLICIES, TrainConfig
from vidtok_jax.train.mesh import PRNG_IMPL
from vidtok_jax.train.optimizer import discriminator_optimizer, ema_update, generator_optimizer
from vidtok_jax.vidtok import tokenizer
from vidtok_jax.vidtok.losses.gan import (D_LOSSES, adaptive_weight, generator_loss, lecam_regularizer,
                                          update_lecam_ema)
from vidtok_jax.vidtok.losses.reconstruction import reconstruction_nll, video_frames
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder
from vidtok_jax.vidtok.quantizers import FSQ, gaussian_kl, gaussian_sample
from vidtok_jax.vidtok.state import TrainState, autoencoder_params, make_discriminator


def compute_dtype(config: TrainConfig) -> jnp.dtype:
    """The dtype a run's models compute in: its ``model.dtype``, by the tokenizer's rule."""
    return tokenizer.compute_dtype(config.model.dtype)


def decoder_last_kernel(tree: dict) -> jax.Array:
    """The decoder's last conv kernel (causal models wrap it in ``conv``)."""
    conv_out = tree["decoder"]["conv_out"]
    return conv_out["conv"]["kernel"] if "conv" in conv_out else conv_out["kernel"]


def _with_remat(fn, policy: str):
    return jax.checkpoint(fn, policy=CHECKPOINT_POLICIES[policy]) if policy in CHECKPOINT_POLICIES else fn


class TrainStep:
    """The pure functions of a run (``train_step``, ``eval_step``), built from its config."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.loss = config.loss
        dtype = compute_dtype(config)
        self.dtype = dtype
        policy = config.model.remat
        self.model = Autoencoder(config.model_config, dtype, remat_blocks=policy == "blocks")
        self.discriminator = make_discriminator(config, dtype)
        self.generator_optimizer = generator_optimizer(config)
        self.discriminator_optimizer = discriminator_optimizer(config)
        self.fsq = FSQ(config.model_config.regularizer) if config.model_config.is_fsq else None
        self._encode = _with_remat(
            lambda params, video: self.model.apply({"params": params}, video, method="encode_moments"), policy)
        self._decode = _with_remat(lambda params, z: self.model.apply({"params": params}, z, method="decode"), policy)

    def autoencode(self, trainable: dict, frozen: dict, video, key, step):
        """``((reconstruction, weighted regularization loss), regularization logs)``."""
        params = {**frozen, **trainable}
        moments = self._encode(params, video)
        if frozen:
            moments = jax.lax.stop_gradient(moments)
        if self.fsq is not None:
            z = self.fsq.quantize(moments)
            logs = {"aux_loss": self.fsq.aux_loss(moments, z, step)}
        else:
            z = gaussian_sample(moments, key)
            logs = {"kl_loss": gaussian_kl(moments)}
        recon = self._decode(params, z)[:, -video.shape[1]:]
        weights = self.loss.regularization_weights
        regularization = sum((weights[k] * v for k, v in logs.items() if k in weights), jnp.zeros((), jnp.float32))
        return (recon, regularization), logs

    def _discriminate(self, params, batch_stats, video):
        frames = video if self.loss.disc_type == "3d" else video_frames(video)
        logits, updated = self.discriminator.apply({"params": params, "batch_stats": batch_stats}, frames,
                                                   mutable=["batch_stats"])
        return logits, updated["batch_stats"]

    def _gan(self, state: TrainState, video, recon, pullback, nll_cotangent):
        """GAN terms when the discriminator trains: generator cotangent, adaptive weight, discriminator grads."""
        loss = self.loss
        disc = state.discriminator

        def gan_generator_loss(r):
            logits, stats = self._discriminate(disc["params"], disc["batch_stats"], r)
            return generator_loss(logits, loss.gen_loss_cross_entropy), stats

        (g_loss, stats), g_cotangent = jax.value_and_grad(gan_generator_loss, has_aux=True)(recon)
        if loss.disc_factor > 0:
            zero = jnp.zeros((), jnp.float32)
            nll_grad = decoder_last_kernel(pullback((nll_cotangent, zero))[0])
            gan_grad = decoder_last_kernel(pullback((g_cotangent, zero))[0])
            d_weight = adaptive_weight(nll_grad, gan_grad, loss.disc_weight)
        else:
            d_weight = jnp.zeros((), jnp.float32)

        def discriminator_loss(params):
            logits_real, stats_real = self._discriminate(params, stats, video)
            logits_fake, stats_fake = self._discriminate(params, stats_real, jax.lax.stop_gradient(recon))
            lecam = update_lecam_ema(state.lecam, logits_real, logits_fake)
            d_loss = D_LOSSES[loss.disc_loss](logits_real, logits_fake)
            lecam_loss = lecam_regularizer(logits_real, logits_fake, lecam)
            total = loss.disc_factor * (loss.lecam_loss_weight * lecam_loss + d_loss)
            logs = {"non_saturated_d_loss": d_loss, "lecam_loss": lecam_loss, "logits_real": jnp.mean(logits_real),
                    "logits_fake": jnp.mean(logits_fake)}
            return total, (stats_fake, lecam, logs)

        (d_total, (stats, lecam, logs)), d_grads = jax.value_and_grad(discriminator_loss, has_aux=True)(disc["params"])
        logs = {**logs, "g_loss": g_loss, "d_weight": d_weight, "disc_loss": d_total}
        return g_cotangent, d_weight, d_grads, {"params": disc["params"], "batch_stats": stats}, lecam, logs

    def _no_gan(self, state: TrainState, video, recon, pullback, nll_cotangent):
        zero = jnp.zeros((), jnp.float32)
        logs = {k: zero for k in ("non_saturated_d_loss", "lecam_loss", "logits_real", "logits_fake", "g_loss",
                                  "d_weight", "disc_loss")}
        d_grads = jax.tree_util.tree_map(jnp.zeros_like, state.discriminator["params"])
        return jnp.zeros_like(recon), zero, d_grads, state.discriminator, state.lecam, logs

    def train_step(self, state: TrainState, video: jax.Array, lpips_params) -> tuple[TrainState, dict]:
        loss, step = self.loss, state.step
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng, impl=PRNG_IMPL), step)
        trainable, logvar = state.generator["autoencoder"], state.generator["logvar"]
        forward = functools.partial(self.autoencode, frozen=state.frozen, video=video, key=key, step=step)
        (recon, regularization), pullback, reg_logs = jax.vjp(forward, trainable, has_aux=True)

        nll_fn = functools.partial(reconstruction_nll, video, lpips_params=lpips_params,
                                   perceptual_weight=loss.perceptual_weight, lpips_dtype=self.dtype)
        (nll, rec_logs), (nll_cotangent, logvar_grad) = jax.value_and_grad(nll_fn, argnums=(0, 1), has_aux=True)(
            recon, logvar)

        discriminator_trains = 2 * step + 1 >= loss.disc_start
        g_factor = jnp.where(2 * step >= loss.disc_start, loss.disc_factor, 0.0)
        g_cotangent, d_weight, d_grads, discriminator, lecam, gan_logs = jax.lax.cond(
            discriminator_trains, self._gan, self._no_gan, state, video, recon, pullback, nll_cotangent)
        gan_scale = d_weight * g_factor
        (ae_grads,) = pullback((nll_cotangent + gan_scale * g_cotangent, jnp.ones((), jnp.float32)))
        grads = {"autoencoder": ae_grads, "logvar": logvar_grad if loss.learn_logvar else jnp.zeros_like(logvar_grad)}

        updates, generator_opt = self.generator_optimizer.update(grads, state.generator_opt, state.generator)
        generator = optax.apply_updates(state.generator, updates)
        d_updates, discriminator_opt = self.discriminator_optimizer.update(
            d_grads, state.discriminator_opt, discriminator["params"])
        discriminator = {"params": optax.apply_updates(discriminator["params"], d_updates),
                         "batch_stats": discriminator["batch_stats"]}
        ema = state.ema
        if ema:
            ema = ema_update(ema, generator["autoencoder"], self.config.optimizer.ema_decay, step + 1)

        total = nll + gan_scale * gan_logs["g_loss"] + regularization
        grad_norm, d_grad_norm = optax.tree.norm(grads), optax.tree.norm(d_grads)
        finite = jnp.all(jnp.isfinite(jnp.stack([total, gan_logs["disc_loss"], grad_norm, d_grad_norm,
                                                 optax.tree.norm(generator), optax.tree.norm(discriminator)])))
        metrics = {"total_loss": total, **rec_logs, **reg_logs, **gan_logs, "disc_factor": g_factor,
                   "grad_norm": grad_norm, "disc_grad_norm": d_grad_norm, "finite": finite,
                   "psnr": jnp.mean(psnr_per_frame(jnp.clip(recon, -1, 1), video))}
        new_state = state.replace(step=step + 1, generator=generator, generator_opt=generator_opt, ema=ema,
                                  discriminator=discriminator, discriminator_opt=discriminator_opt, lecam=lecam)
        return new_state, metrics

    def eval_step(self, state: TrainState, video: jax.Array, use_ema: bool = False) -> tuple[jax.Array, jax.Array]:
        """``(reconstruction, PSNR per clip)`` with the posterior mode / FSQ codes."""
        recon = self.model.apply({"params": autoencoder_params(state, use_ema)}, video)[:, -video.shape[1]:]
        recon = jnp.clip(recon, -1.0, 1.0)
        return recon, jnp.mean(psnr_per_frame(recon, video), axis=1)
