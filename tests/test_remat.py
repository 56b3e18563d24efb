"""Per-block rematerialisation (``model.remat: blocks``): same parameters, same gradients, really recomputed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidtok_jax.train.config import load_train_config
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder

TINY = ["model.net.ch=8", "model.net.ch_mult=[1,2]", "model.net.time_downsample_factor=2", "data.num_frames=5",
        "data.height=16", "data.width=16", "loss.perceptual_weight=0"]


def _loss_and_grads(remat_blocks: bool, params, video):
    model = Autoencoder(load_train_config("tiny_cpu", TINY).model_config, remat_blocks=remat_blocks)

    def loss(p):
        return jnp.mean(jnp.abs(model.apply({"params": p}, video)[:, -video.shape[1]:] - video))

    return jax.value_and_grad(loss), jax.jit(jax.value_and_grad(loss))(params)


@pytest.mark.integration  # compiles a training step three times: about a minute
def test_remat_blocks_gives_the_same_params_and_gradients():
    config = load_train_config("tiny_cpu", TINY).model_config
    video = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, 5, 16, 16, 3)), jnp.float32)
    params = Autoencoder(config).init(jax.random.key(0), video)["params"]
    remat_params = Autoencoder(config, remat_blocks=True).init(jax.random.key(0), video)["params"]
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(remat_params)

    plain_fn, (plain_loss, plain_grads) = _loss_and_grads(False, params, video)
    remat_fn, (remat_loss, remat_grads) = _loss_and_grads(True, params, video)
    np.testing.assert_allclose(remat_loss, plain_loss, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(remat_grads), jax.tree_util.tree_leaves(plain_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    assert "remat" in str(jax.make_jaxpr(remat_fn)(params))
    assert "remat" not in str(jax.make_jaxpr(plain_fn)(params))
