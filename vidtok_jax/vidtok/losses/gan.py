"""The adversarial terms of VidTok's loss, as pure functions of discriminator logits.

- ``hinge_d_loss`` / ``vanilla_d_loss``: discriminator losses on real and fake logits.
- ``generator_loss``: the non-saturating loss (sigmoid cross-entropy towards "real" of each
  sample's mean logit, official ``gen_loss_cross_entropy``) or ``-mean(logits)``.
- ``adaptive_weight``: ‖∇nll‖ / (‖∇g‖ + 1e-4) at the decoder's last layer, clamped to [0, 1e4]
  and scaled by ``disc_weight``; the caller supplies the two gradients.
- LeCAM regularisation (Tseng et al. 2021) with exponential moving averages of the mean real and
  fake logits (decay 0.999, starting at 0), updated before the regulariser is computed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LECAM_DECAY = 0.999
ADAPTIVE_WEIGHT_MAX = 1e4
ADAPTIVE_WEIGHT_EPS = 1e-4


def hinge_d_loss(logits_real: jax.Array, logits_fake: jax.Array) -> jax.Array:
    return 0.5 * (jnp.mean(jax.nn.relu(1.0 - logits_real)) + jnp.mean(jax.nn.relu(1.0 + logits_fake)))


def vanilla_d_loss(logits_real: jax.Array, logits_fake: jax.Array) -> jax.Array:
    return 0.5 * (jnp.mean(jax.nn.softplus(-logits_real)) + jnp.mean(jax.nn.softplus(logits_fake)))


D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}


def generator_loss(logits_fake: jax.Array, cross_entropy: bool) -> jax.Array:
    """Non-saturating loss on each sample's mean logit (``cross_entropy``), else ``-mean(logits)``."""
    if not cross_entropy:
        return -jnp.mean(logits_fake)
    per_sample = jnp.mean(logits_fake.reshape(logits_fake.shape[0], -1), axis=-1)
    return jnp.mean(jax.nn.softplus(-per_sample))


def adaptive_weight(nll_grad: jax.Array, gan_grad: jax.Array, disc_weight: float) -> jax.Array:
    ratio = jnp.linalg.norm(nll_grad.ravel()) / (jnp.linalg.norm(gan_grad.ravel()) + ADAPTIVE_WEIGHT_EPS)
    return jax.lax.stop_gradient(jnp.clip(ratio, 0.0, ADAPTIVE_WEIGHT_MAX) * disc_weight)


def update_lecam_ema(ema: dict, logits_real: jax.Array, logits_fake: jax.Array) -> dict:
    """New ``{"real", "fake"}`` averages of the mean logits (no gradient flows into them)."""
    real, fake = (jax.lax.stop_gradient(jnp.mean(x)) for x in (logits_real, logits_fake))
    return {"real": ema["real"] * LECAM_DECAY + real * (1 - LECAM_DECAY),
            "fake": ema["fake"] * LECAM_DECAY + fake * (1 - LECAM_DECAY)}


def lecam_regularizer(logits_real: jax.Array, logits_fake: jax.Array, ema: dict) -> jax.Array:
    return (jnp.mean(jnp.square(jax.nn.relu(logits_real - ema["fake"])))
            + jnp.mean(jnp.square(jax.nn.relu(ema["real"] - logits_fake))))
