"""The loss pieces: discriminator layout and BatchNorm, GAN terms, reconstruction nll, adaptive weight."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidtok_jax.vidtok.losses.discriminator import (PatchDiscriminator, discriminator_from_state_dict,
                                                    discriminator_state_dict)
from vidtok_jax.vidtok.losses.gan import (adaptive_weight, generator_loss, hinge_d_loss, lecam_regularizer,
                                          update_lecam_ema)
from vidtok_jax.vidtok.losses.reconstruction import reconstruction_nll

REFERENCE_CKPT = Path(__file__).resolve().parents[1].parent / "shared" / "vidtok_reference" / "kl_causal_488_4chn" / "model.ckpt"


def _key(seed: int) -> jax.Array:
    return jax.random.key(seed, impl="rbg")  # compiles far faster than threefry on CPU


def _variables(module, shape, seed=0):
    return jax.jit(module.init)(_key(seed), jnp.zeros(shape))


def test_2d_discriminator_has_the_official_layers():
    variables = _variables(PatchDiscriminator(channels=64, num_layers=3), (1, 64, 64, 3))
    shapes = {k: v.shape for k, v in discriminator_state_dict(variables["params"], variables["batch_stats"]).items()}
    assert shapes["loss.discriminator.main.0.weight"] == (64, 3, 4, 4)
    assert shapes["loss.discriminator.main.2.weight"] == (128, 64, 4, 4)
    assert shapes["loss.discriminator.main.5.weight"] == (256, 128, 4, 4)
    assert shapes["loss.discriminator.main.8.weight"] == (512, 256, 4, 4)
    assert shapes["loss.discriminator.main.9.running_var"] == (512,)
    assert shapes["loss.discriminator.main.11.weight"] == (1, 512, 4, 4)
    assert "loss.discriminator.main.2.bias" not in shapes and "loss.discriminator.main.11.bias" in shapes
    kernel = np.asarray(variables["params"]["main.2"]["kernel"])
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002
    assert np.all(np.asarray(variables["params"]["main.3"]["bias"]) == 0)


@pytest.mark.skipif(not REFERENCE_CKPT.is_file(), reason="shared/vidtok_reference is missing")
def test_discriminator_round_trips_the_official_checkpoint_entries():
    from vidtok_jax.checkpoints.state_dict import read_state_dict

    official = {k: v for k, v in read_state_dict(REFERENCE_CKPT).items() if k.startswith("loss.discriminator.")}
    variables = jax.eval_shape(PatchDiscriminator(channels=8, num_layers=2).init, jax.random.key(0),
                               jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))
    params, stats = discriminator_from_state_dict(variables["params"], variables["batch_stats"], official, "ref")
    exported = discriminator_state_dict(params, stats)
    assert exported.keys() == official.keys()
    for key, value in official.items():
        if not key.endswith("num_batches_tracked"):
            np.testing.assert_array_equal(exported[key], value, err_msg=key)


def test_3d_discriminator_shapes_and_batch_statistics():
    module = PatchDiscriminator(channels=8, num_layers=3, three_d=True)
    variables = _variables(module, (1, 9, 32, 32, 3))
    assert variables["params"]["main.0"]["kernel"].shape == (3, 3, 3, 3, 8)
    video = jax.random.normal(_key(1), (2, 9, 32, 32, 3))
    logits, updated = module.apply(variables, video, mutable=["batch_stats"])
    assert logits.shape == (2, 3, 4, 4, 1)
    before, after = variables["batch_stats"]["main.3"]["mean"], updated["batch_stats"]["main.3"]["mean"]
    assert not np.allclose(before, after)


def test_gan_terms_match_their_definitions():
    real, fake = jnp.array([[2.0, -0.5], [0.3, 1.5]]), jnp.array([[-2.0, 0.5], [0.2, -1.0]])
    expected_hinge = 0.5 * (np.mean(np.maximum(0, 1 - np.asarray(real))) + np.mean(np.maximum(0, 1 + np.asarray(fake))))
    np.testing.assert_allclose(hinge_d_loss(real, fake), expected_hinge, rtol=1e-6)
    per_sample = np.asarray(fake).mean(axis=1)
    np.testing.assert_allclose(generator_loss(fake, True), np.mean(np.log1p(np.exp(-per_sample))), rtol=1e-6)
    np.testing.assert_allclose(generator_loss(fake, False), -np.mean(np.asarray(fake)), rtol=1e-6)
    ema = update_lecam_ema({"real": jnp.float32(0.0), "fake": jnp.float32(0.0)}, real, fake)
    np.testing.assert_allclose(ema["real"], 0.001 * np.mean(np.asarray(real)), rtol=1e-5)
    expected_lecam = (np.mean(np.maximum(0, np.asarray(real) - float(ema["fake"])) ** 2)
                      + np.mean(np.maximum(0, float(ema["real"]) - np.asarray(fake)) ** 2))
    np.testing.assert_allclose(lecam_regularizer(real, fake, ema), expected_lecam, rtol=1e-5)
    np.testing.assert_allclose(adaptive_weight(jnp.full((4,), 3.0), jnp.full((4,), 1.0), 0.2), 0.2 * 6 / (2 + 1e-4),
                               rtol=1e-5)
    assert float(adaptive_weight(jnp.ones(4), jnp.zeros(4), 1.0)) == pytest.approx(1e4)


def test_reconstruction_nll_is_the_official_sum():
    rng = np.random.default_rng(0)
    video = rng.uniform(-1, 1, (2, 3, 16, 16, 3)).astype(np.float32)
    recon = np.clip(video + rng.normal(0, 0.1, video.shape), -1, 1).astype(np.float32)
    logvar = np.float32(0.7)
    nll, logs = reconstruction_nll(jnp.asarray(video), jnp.asarray(recon), jnp.asarray(logvar), None, 0.0)
    expected = np.sum(np.abs(video - recon) / np.exp(logvar) + logvar) / 6
    np.testing.assert_allclose(nll, expected, rtol=1e-5)
    np.testing.assert_allclose(logs["rec_loss"], np.mean(np.abs(video - recon)), rtol=1e-5)


def test_reconstruction_nll_adds_lpips_to_every_pixel():
    from vidtok_jax.metrics.lpips import load_lpips_params, lpips

    rng = np.random.default_rng(1)
    video = rng.uniform(-1, 1, (1, 2, 64, 64, 3)).astype(np.float32)
    recon = np.clip(video + rng.normal(0, 0.2, video.shape), -1, 1).astype(np.float32)
    nll, logs = jax.jit(functools.partial(reconstruction_nll, perceptual_weight=1.0))(
        jnp.asarray(video), jnp.asarray(recon), jnp.float32(0.0), load_lpips_params("vgg"))
    per_frame = np.asarray(lpips(video, recon, net="vgg")).ravel()
    expected = (np.sum(np.abs(video - recon)) + 64 * 64 * 3 * per_frame.sum()) / 2
    np.testing.assert_allclose(nll, expected, rtol=1e-4)
    np.testing.assert_allclose(logs["p_loss"], per_frame.mean(), rtol=1e-4)


def test_adaptive_weight_gradients_come_from_the_decoders_last_kernel():
    """The pullback of the one forward pass gives the same last-layer gradient as a separate jax.grad."""
    from vidtok_jax.train.config import load_train_config
    from vidtok_jax.vidtok.step import TrainStep, decoder_last_kernel

    config = load_train_config("tiny_cpu", ["model.net.ch=8", "model.net.ch_mult=[1,2]",
                                            "model.net.time_downsample_factor=2", "data.num_frames=5",
                                            "data.height=16", "data.width=16"])
    steps = TrainStep(config)
    video = jax.random.uniform(_key(2), (1, 5, 16, 16, 3), minval=-1, maxval=1)
    params = steps.model.init(_key(3), video)["params"]
    key, step = _key(4), jnp.int32(0)

    def loss(recon):
        return jnp.sum(jnp.abs(recon - video) * jnp.linspace(0.5, 1.5, recon.shape[1])[None, :, None, None, None])

    @jax.jit
    def both():
        forward = functools.partial(steps.autoencode, frozen={}, video=video, key=key, step=step)
        (recon, _), pullback, _ = jax.vjp(forward, params, has_aux=True)
        via_pullback = decoder_last_kernel(pullback((jax.grad(loss)(recon), jnp.float32(0)))[0])
        direct = decoder_last_kernel(jax.grad(lambda p: loss(forward(p)[0][0]))(params))
        return via_pullback, direct

    via_pullback, direct = both()
    np.testing.assert_allclose(via_pullback, direct, rtol=1e-5, atol=1e-6)
    assert float(jnp.linalg.norm(direct)) > 0
