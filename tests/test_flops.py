"""Analytic FLOPs: exact on single layers, the paper's multiply-adds at full size, XLA's CPU count at small size."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import pytest

import vidtok_jax as vt
from vidtok_jax.runtime import flops
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder
from vidtok_jax.vidtok.tokenizer import param_shapes


def _conv(x, w, stride=1):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def test_single_layers_are_counted_exactly():
    x, w = jax.ShapeDtypeStruct((2, 8, 8, 4), jnp.float32), jax.ShapeDtypeStruct((3, 3, 4, 16), jnp.float32)
    assert flops.count(_conv, x, w).macs == 2 * 8 * 8 * 16 * 3 * 3 * 4
    a, b = jax.ShapeDtypeStruct((5, 7, 3), jnp.float32), jax.ShapeDtypeStruct((3, 11), jnp.float32)
    assert flops.count(jnp.matmul, a, b).macs == 5 * 7 * 11 * 3
    # the input gradient of a stride-2 convolution is a transposed convolution: its inserted zeros cost nothing
    grads = flops.count(jax.grad(lambda x, w: jnp.sum(jnp.square(_conv(x, w, 2))), argnums=(0, 1)), x, w)
    assert grads.macs == pytest.approx(3 * flops.count(lambda x, w: _conv(x, w, 2), x, w).macs)


def test_paper_multiply_adds_at_full_size():
    """The paper: 10.35 T multiply-adds for vidtok_kl_causal_488_4chn on a 17x256x256 clip (encode + decode)."""
    config = vt.load_model_config("vidtok_kl_causal_488_4chn")
    model = Autoencoder(config)
    video = jax.ShapeDtypeStruct((1, 17, 256, 256, 3), jnp.float32)
    counted = flops.count(lambda p, v: model.apply({"params": p}, v), param_shapes(config), video)
    assert counted.macs == pytest.approx(10.35e12, rel=2e-3)


def test_xla_cpu_count_agrees_within_a_few_percent():
    config = vt.load_model_config("vidtok_kl_causal_488_4chn")
    config = dataclasses.replace(config, encoder=dataclasses.replace(config.encoder, ch=16),
                                 decoder=dataclasses.replace(config.decoder, ch=16))
    model, shapes = Autoencoder(config), param_shapes(config)
    video = jax.ShapeDtypeStruct((1, 9 if config.causal else 8, 32, 32, 3), jnp.float32)
    loss = lambda p, v: jnp.mean(jnp.abs(model.apply({"params": p}, v)[:, -v.shape[1]:] - v))  # noqa: E731
    for fn in (lambda p, v: model.apply({"params": p}, v), jax.grad(loss)):
        ours = flops.count(fn, shapes, video).total
        analysis = jax.jit(fn).lower(shapes, video).compile().cost_analysis()
        xla = (analysis[0] if isinstance(analysis, list) else analysis)["flops"]
        assert ours == pytest.approx(xla, rel=0.07)
