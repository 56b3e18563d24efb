"""Chunked (streaming) encode/decode equals the full pass for causal models; tiling behaves."""

from __future__ import annotations

import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.vidtok.tiling import TileGrid
from tests.conftest import channels_last, reference_dir, rel_l2

TOL = 1e-5


def _load(case):
    folder = reference_dir(case)
    tok = vt.load_tokenizer(folder / "config.yaml", folder / "model.ckpt")
    return tok, dict(np.load(folder / "reference.npz"))


@pytest.fixture(scope="module")
def v11():
    return _load("v11_kl_causal_488_4chn")


@pytest.fixture(scope="module")
def v10():
    return _load("kl_causal_488_4chn")


@pytest.mark.parametrize("chunk_frames", [4, 12])  # 1 latent per chunk; 3 latents, not dividing 9
def test_v11_chunked_encode_equals_full(v11, chunk_frames):
    tok, ref = v11
    video = channels_last(ref["input"])
    z = tok.encode(video, chunk_frames=chunk_frames)
    assert rel_l2(z, channels_last(ref["latent"])) < TOL


@pytest.mark.parametrize("chunk_latents", [1, 4])
def test_v11_chunked_decode_equals_full_unlike_official_tiling(v11, chunk_latents):
    tok, ref = v11
    y = tok.decode(channels_last(ref["latent"]), chunk_latents=chunk_latents)
    full = channels_last(ref["decoded"])
    assert y.shape == full.shape
    assert rel_l2(y, full) < TOL
    # the official chunked decode is only an approximation of its own full decode
    assert rel_l2(channels_last(ref["tiled_decoded"]), full) > 10 * TOL


def test_v11_stream_from_uneven_pieces_equals_reconstruct(v11):
    tok, ref = v11
    video = channels_last(ref["input"])
    pieces = [video[:, a:b] for a, b in ((0, 5), (5, 6), (6, 20), (20, 33))]
    out = np.concatenate([np.asarray(c) for c in tok.reconstruct_stream(pieces, 33, 12)], axis=1)
    assert out.shape == video.shape
    assert rel_l2(out, channels_last(ref["decoded"])[:, -33:]) < TOL


def test_v10_chunked_encode_and_decode(v10):
    tok, ref = v10
    video = channels_last(ref["input"])
    assert rel_l2(tok.encode(video, chunk_frames=8), channels_last(ref["latent"])) < TOL
    y = tok.decode(channels_last(ref["latent"]), chunk_latents=2)
    assert rel_l2(y, channels_last(ref["decoded"])) < TOL


def test_fsq_chunked_tokens_are_identical():
    tok, ref = _load("fsq_causal_488_32768")
    video = channels_last(ref["input"])
    np.testing.assert_array_equal(np.asarray(tok.tokenize(video, chunk_frames=4)), ref["indices"])
    assert rel_l2(tok.detokenize(ref["indices"], chunk_latents=1), channels_last(ref["decoded"])) < TOL


def test_fsq_token_streams_equal_the_official_ids_and_decoding():
    tok, ref = _load("fsq_causal_488_32768")
    video = channels_last(ref["input"])
    pieces = [video[:, :3], video[:, 3:7], video[:, 7:]]
    ids = list(tok.tokenize_stream(pieces, video.shape[1], 4))
    np.testing.assert_array_equal(np.concatenate([np.asarray(i) for i in ids], axis=1), ref["indices"])
    id_pieces = [ref["indices"][:, :2], ref["indices"][:, 2:]]
    frames = np.concatenate([np.asarray(f) for f in tok.detokenize_stream(id_pieces, 1)], axis=1)
    assert rel_l2(frames, channels_last(ref["decoded"])) < TOL
    kl, _ = _load("kl_causal_488_4chn")
    with pytest.raises(vt.InputError, match="KL model"):
        next(kl.tokenize_stream(pieces, video.shape[1], 4))


def test_noncausal_chunks_are_independent_clips():
    tok, ref = _load("fsq_noncausal_488_262144")
    video = channels_last(ref["input"])
    chunked = np.asarray(tok.tokenize(video, chunk_frames=4))
    separately = np.concatenate([np.asarray(tok.tokenize(video[:, :4])), np.asarray(tok.tokenize(video[:, 4:]))], axis=1)
    np.testing.assert_array_equal(chunked, separately)


def test_bad_chunk_sizes(v11):
    tok, ref = v11
    video = channels_last(ref["input"])
    with pytest.raises(vt.InputError, match="multiple of the temporal factor 4"):
        tok.encode(video, chunk_frames=6)
    with pytest.raises(vt.InputError, match="positive integer"):
        tok.decode(channels_last(ref["latent"]), chunk_latents=0)
    with pytest.raises(vt.InputError, match="multiple of the spatial factor 8"):
        tok.encode(video, tile=(12, 16))
    with pytest.raises(vt.InputError, match="announced"):
        list(tok.encode_stream([video[:, :9]], 33, 8))


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or Inf"), (255.0, "pixel values span")])
def test_a_bad_chunk_stops_the_stream_before_any_output_built_on_it(v11, bad, message):
    """Streamed value checks stay on the device and are fetched one output behind: the stream still fails on
    the bad chunk and hands out nothing built on it. Of the 3 latents of the good frames (1 + 4 + 4) at most 2
    leave (each waits for the next chunk's check), equal to those of a stream of the good chunks alone."""
    tok, ref = v11
    video = channels_last(ref["input"])[:, :17].copy()
    video[:, 9:13] = bad
    pieces = [video[:, :1], video[:, 1:5], video[:, 5:9], video[:, 9:13], video[:, 13:17]]
    handed_out = []
    with pytest.raises(vt.InputError, match=message):
        for latent in tok.encode_stream(pieces, 17, 4):
            handed_out.append(latent)
    assert sum(z.shape[1] for z in handed_out) <= 2
    good = [np.asarray(z) for z in tok.encode_stream(pieces[:3], 9, 4)]
    for z, expected in zip(handed_out, good):
        np.testing.assert_allclose(np.asarray(z), expected, atol=1e-6)


def test_single_tile_is_exact(v11):
    tok, ref = v11
    video = channels_last(ref["input"])
    assert rel_l2(tok.encode(video, tile=(32, 32)), channels_last(ref["latent"])) < TOL


def test_tile_blend_reassembles_an_image():
    grid = TileGrid.for_pixels(64, 48, (32, 32), 16, 8)
    assert grid.rows == ((0, 32), (16, 48), (32, 64)) and grid.cols == ((0, 32), (16, 48))
    x = np.random.default_rng(0).uniform(size=(1, 2, 64, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(grid.blend([grid.crop(x, t) for t in grid.tiles])), x, atol=1e-6)
