"""Parity with the official PyTorch VidTok on every case of ../shared/vidtok_reference."""

from __future__ import annotations

import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.vidtok.quantizers import FSQ, gaussian_kl, split_moments
from tests.conftest import REFERENCE_CASES, channels_last, reference_dir, rel_l2

TOL = 1e-5


@pytest.fixture(scope="module", params=REFERENCE_CASES)
def case(request):
    folder = reference_dir(request.param)
    tok = vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt")
    ref = dict(np.load(folder / "reference.npz"))
    return request.param, tok, ref


def test_encoder_output_latent_and_kl(case):
    name, tok, ref = case
    video = channels_last(ref["input"])
    moments = tok.encode_moments(video)
    assert rel_l2(moments, channels_last(ref["encoder_out"])) < TOL
    latent = tok.encode(video)
    assert rel_l2(latent, channels_last(ref["latent"])) < TOL
    if not tok.config.is_fsq:
        mean, logvar = split_moments(moments)
        assert rel_l2(mean, channels_last(ref["posterior_mean"])) < TOL
        assert rel_l2(logvar, channels_last(ref["posterior_logvar"])) < TOL
        assert float(gaussian_kl(moments)) == pytest.approx(float(ref["kl_loss"]), rel=TOL)


def test_fsq_indices_and_auxiliary_losses(case):
    name, tok, ref = case
    if not tok.config.is_fsq:
        pytest.skip(f"{name} is a KL model")
    video = channels_last(ref["input"])
    ids = np.asarray(tok.tokenize(video))
    np.testing.assert_array_equal(ids, ref["indices"])
    quantizer = FSQ(tok.config.regularizer)
    np.testing.assert_array_equal(np.asarray(quantizer.indices_to_codes(ids)),
                                  channels_last(ref["latent_from_indices"]))
    moments = tok.encode_moments(video)
    codes = quantizer.quantize(moments)
    annealed_step = tok.config.regularizer.entropy_loss_annealing_steps
    assert float(quantizer.aux_loss(moments, codes, step=0)) == pytest.approx(float(ref["aux_loss_step0"]), rel=TOL)
    assert float(quantizer.aux_loss(moments, codes, step=annealed_step)) == pytest.approx(
        float(ref["aux_loss_annealed"]), rel=TOL)


def test_decode_and_decode_from_indices(case):
    name, tok, ref = case
    decoded = tok.decode(channels_last(ref["latent"]))
    assert decoded.shape == channels_last(ref["decoded"]).shape
    assert rel_l2(decoded, channels_last(ref["decoded"])) < TOL
    if tok.config.is_fsq:
        assert rel_l2(tok.detokenize(ref["indices"]), channels_last(ref["decoded"])) < TOL


def test_reconstruct_keeps_the_input_length(case):
    name, tok, ref = case
    video = channels_last(ref["input"])
    out = tok.reconstruct(video)
    assert out.shape == video.shape
    expected = channels_last(ref["decoded"])[:, -video.shape[1]:]
    assert rel_l2(out, expected) < TOL
