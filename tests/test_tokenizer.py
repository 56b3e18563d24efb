"""The public Tokenizer: input checks, pure functions under jit/vmap, images, bfloat16."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import vidtok_jax as vt
from tests.conftest import channels_last, reference_dir, rel_l2


@pytest.fixture(scope="module")
def kl_tok():
    folder = reference_dir("kl_causal_488_4chn")
    return vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt")


@pytest.fixture(scope="module")
def fsq_tok():
    folder = reference_dir("fsq_causal_488_32768")
    return vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt")


@pytest.fixture(scope="module")
def noncausal_tok():
    folder = reference_dir("kl_noncausal_488_16chn")
    return vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt")


def _video(t=5, h=16, w=16, b=1, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (b, t, h, w, 3)).astype(np.float32)


@pytest.mark.parametrize("shape, message", [
    ((5, 16, 16, 3), r"add a batch axis"),
    ((1, 3, 5, 16, 16), r"channels-first input"),
    ((1, 5, 12, 16, 3), r"multiples of 8"),
])
def test_bad_shapes(kl_tok, shape, message):
    with pytest.raises(vt.InputError, match=message):
        kl_tok.encode(np.zeros(shape, np.float32))


def test_pixel_range_and_dtype(kl_tok):
    with pytest.raises(vt.InputError, match=r"video / 127.5 - 1"):
        kl_tok.encode(_video() * 127.5 + 127.5)
    with pytest.raises(vt.InputError, match=r"dtype uint8"):
        kl_tok.encode(np.zeros((1, 5, 16, 16, 3), np.uint8))
    with pytest.raises(vt.InputError, match="NaN"):
        kl_tok.encode(np.full((1, 5, 16, 16, 3), np.nan, np.float32))


def test_noncausal_frame_count(noncausal_tok):
    with pytest.raises(vt.InputError, match="divisible by 4"):
        noncausal_tok.encode(_video(t=6))


def test_v10_reconstruct_needs_1_plus_4k_frames(kl_tok):
    with pytest.raises(vt.InputError, match=r"use 5 or 9 frames"):
        kl_tok.reconstruct(_video(t=8))


def test_token_ids_checked(fsq_tok):
    ids = np.zeros((1, 2, 2, 2), np.int32)
    ids[0, 0, 0, 0] = 32768
    with pytest.raises(vt.InputError, match=r"\[0, 32767\]"):
        fsq_tok.detokenize(ids)
    with pytest.raises(vt.InputError, match="integer token ids"):
        fsq_tok.detokenize(ids.astype(np.float32))


def test_kl_model_has_no_tokens(kl_tok):
    with pytest.raises(vt.InputError, match="KL model"):
        kl_tok.tokenize(_video())


def test_latent_shape_checked(kl_tok):
    with pytest.raises(vt.InputError, match=r"\[B, t, h, w, 4\]"):
        kl_tok.decode(np.zeros((1, 2, 2, 2, 8), np.float32))


def test_single_frame_is_an_image(fsq_tok):
    image = _video(t=1)
    ids = fsq_tok.tokenize(image)
    assert ids.shape == (1, 1, 2, 2)
    assert fsq_tok.detokenize(ids).shape == image.shape
    assert fsq_tok.reconstruct(image).shape == image.shape


def test_kl_sample_needs_key_and_differs_from_mode(kl_tok):
    video = _video()
    mode = kl_tok.encode(video)
    a = kl_tok.encode(video, key=jax.random.key(1))
    b = kl_tok.encode(video, key=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert rel_l2(a, mode) > 1e-3


def test_pure_functions_under_jit_and_vmap(fsq_tok):
    videos = np.stack([_video(seed=s) for s in range(2)])  # [2, 1, T, H, W, 3]

    @jax.jit
    def ids_of(params, v):
        return jax.vmap(lambda x: fsq_tok.model.apply({"params": params}, x, method="tokenize"))(v)

    batched = np.asarray(ids_of(fsq_tok.params, videos))
    one_by_one = np.stack([np.asarray(fsq_tok.tokenize(v)) for v in videos])
    np.testing.assert_array_equal(batched, one_by_one)


def test_bfloat16_close_to_float32():
    folder = reference_dir("kl_causal_488_4chn")
    ref = np.load(folder / "reference.npz")
    tok16 = vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt", dtype=jnp.bfloat16)
    video = channels_last(ref["input"])
    latent = tok16.encode(video)
    assert latent.dtype == jnp.float32
    assert jax.tree_util.tree_leaves(tok16.params)[0].dtype == jnp.float32
    latent_err = rel_l2(latent, channels_last(ref["latent"]))
    decode_err = rel_l2(tok16.decode(channels_last(ref["latent"])), channels_last(ref["decoded"]))
    assert 1e-5 < latent_err < 5e-2 and 1e-5 < decode_err < 5e-2
