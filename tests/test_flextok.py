"""VideoFlexTok beyond the fixtures: other configs, the nested-token semantics, one program for every k,
the official 17-frame chunking with a real VidTok stage, and refusals of bad input."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.flextok.checkpoint import write_flextok_file
from vidtok_jax.flextok.model import sampler_for
from vidtok_jax.flextok.presets import flextok_hydra_config
from tests.helpers import R, SMALL, latents, perturbed, small


@pytest.fixture(scope="module")
def flex():
    return small()


def test_every_keep_runs_one_compiled_program(flex):
    ids = flex.tokenize_latents(latents())
    noise = latents(seed=5)
    run = sampler_for(flex.decoder)
    before = run._cache_size()
    outs = [flex.detokenize_latents(ids, noise=noise, steps=2, keep=k, guidance_scale=3.0, apg={})
            for k in range(1, R + 1)]
    assert run._cache_size() == before + 1
    mixed = flex.detokenize_latents(ids, noise=noise, steps=2, keep=[1, R], guidance_scale=3.0, apg={})
    assert run._cache_size() == before + 1
    np.testing.assert_allclose(mixed[0], outs[0][0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], outs[-1][1], atol=1e-5)
    assert float(jnp.abs(outs[0] - outs[-1]).max()) > 1e-3


def test_masked_tokens_do_not_matter_and_kept_ones_do(flex):
    ids = np.asarray(flex.tokenize_latents(latents()))
    noisy = latents(seed=3)
    k = 3
    changed_late, changed_early = ids.copy(), ids.copy()
    changed_late[..., k:] = (changed_late[..., k:] + 1234) % flex.codebook_size
    changed_early[..., k - 1] = (changed_early[..., k - 1] + 1234) % flex.codebook_size
    base = flex.velocity(ids, noisy, 0.5, keep=k)
    np.testing.assert_array_equal(base, flex.velocity(changed_late, noisy, 0.5, keep=k))
    assert float(jnp.abs(base - flex.velocity(changed_early, noisy, 0.5, keep=k)).max()) > 1e-4
    np.testing.assert_array_equal(flex.velocity(ids, noisy, 0.5, keep=R), flex.velocity(ids, noisy, 0.5))
    # the unconditional pass replaces every register by the null condition: tokens are irrelevant
    np.testing.assert_array_equal(flex.velocity(ids, noisy, 0.5, null=True),
                                  flex.velocity(changed_early, noisy, 0.5, null=True))
    # truncation is a different computation from masking (fewer registers in the sequence)
    assert float(jnp.abs(flex.velocity(ids[..., :k], noisy, 0.5) - base).max()) > 1e-4


def test_encoder_is_causal_in_time_and_nested_over_registers(flex):
    z = np.asarray(latents())
    ids = np.asarray(flex.tokenize_latents(z))
    later = z.copy()
    later[:, 1:] += 1.0
    np.testing.assert_array_equal(np.asarray(flex.tokenize_latents(later))[:, 0], ids[:, 0])
    assert (np.asarray(flex.tokenize_latents(later))[:, 1:] != ids[:, 1:]).any()
    params = copy.deepcopy(jax.device_get(flex.params))
    table = params["encoder"]["module_dict.enc_register_module.registers"]
    table[2, 5:] += np.random.default_rng(0).normal(size=table[2, 5:].shape)  # last frame's registers >= 5
    moved = vt.VideoFlexTok(flex.config, params)
    values, moved_values = flex.encode_latents(z), moved.encode_latents(z)
    np.testing.assert_allclose(moved_values[:, :, :5], values[:, :, :5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moved_values[:, :2], values[:, :2], rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(moved_values[:, 2, 5:] - values[:, 2, 5:]).max()) > 1e-4


@pytest.mark.parametrize("variant", [
    dict(patch=(1, 1, 1)), dict(register_posemb=True), dict(prefix_conditioning=False),
    dict(patch=(1, 2, 2), head_dim=8, enc_depth=2, dec_depth=1)])
def test_other_configs_round_trip_through_the_official_format(variant, tmp_path):
    model = small(**variant)
    z, noisy = latents(), latents(seed=4)
    path = tmp_path / "model.safetensors"
    vt.export_videoflextok(model, path)
    loaded = vt.load_videoflextok(path)
    ids = model.tokenize_latents(z)
    np.testing.assert_array_equal(loaded.tokenize_latents(z), ids)
    np.testing.assert_array_equal(loaded.velocity(ids, noisy, 0.3, keep=2, prefix=1),
                                  model.velocity(ids, noisy, 0.3, keep=2, prefix=1))


@pytest.mark.parametrize("edit, kind", [
    (lambda m: m.update(posemb_type="learnable_prod"), "learnable_prod"),
    (lambda m: m.update(posemb_type="sincos", max_sizes=[16, 16]), "sincos"),
])
def test_register_posemb_kinds(edit, kind, tmp_path):
    config = flextok_hydra_config(**SMALL, register_posemb=True)
    edit(config["decoder"]["module_dict"]["dec_registers_posemb_module"])
    model = perturbed(vt.random_videoflextok(config))
    assert model.config.decoder.register_posemb.kind == kind
    path = tmp_path / "model.safetensors"
    vt.export_videoflextok(model, path)
    ids = model.tokenize_latents(latents())
    np.testing.assert_array_equal(vt.load_videoflextok(path).velocity(ids, latents(seed=2), 0.7),
                                  model.velocity(ids, latents(seed=2), 0.7))


@pytest.fixture(scope="module")
def with_vidtok():
    """A VideoFlexTok on the bundled VidTok (causal, 4x temporal, 16 latent channels)."""
    return small(vidtok=vt.load_tokenizer())


def test_a_file_with_its_vidtok_stage_loads_it_into_our_vidtok(with_vidtok, tmp_path, monkeypatch):
    """The released files carry `vae.vidtok.*`: they go to this package's VidTok (here the official id is
    pointed at the bundled 16-channel model, to keep the file small)."""
    from vidtok_jax.flextok import config as flex_config
    monkeypatch.setitem(flex_config.VIDTOK_IDS, "vidtok_kl_causal_488_16chn", "vidtok_jax_default")
    path = tmp_path / "with_vae.safetensors"
    vt.export_videoflextok(with_vidtok, path)
    loaded = vt.load_videoflextok(path)
    assert loaded.vidtok is not None and loaded.vidtok.config.name == "vidtok_jax_default"
    leaves = zip(jax.tree_util.tree_leaves(loaded.vidtok.params), jax.tree_util.tree_leaves(with_vidtok.vidtok.params))
    assert all(np.array_equal(a, b) for a, b in leaves)
    video = jax.random.uniform(jax.random.key(2), (1, 17, 32, 32, 3), minval=-1, maxval=1)
    np.testing.assert_array_equal(loaded.tokenize(video), with_vidtok.tokenize(video))


def test_tokenize_follows_the_official_chunking(with_vidtok):
    flex, vidtok = with_vidtok, with_vidtok.vidtok
    video = jax.random.uniform(jax.random.key(0), (1, 33, 32, 32, 3), minval=-1, maxval=1)
    ids = flex.tokenize(video)
    first = flex.tokenize_latents(vidtok.encode(video[:, :17]))
    second = flex.tokenize_latents(vidtok.encode(video[:, 16:33]))
    assert ids.shape == (1, 9, R)
    np.testing.assert_array_equal(ids, jnp.concatenate([first, second[:, 1:]], axis=1))
    with pytest.raises(vt.InputError, match="use 17 or 33 frames"):
        flex.tokenize(video[:, :20])
    with pytest.raises(vt.InputError, match="at least 17 frames"):
        flex.tokenize(video[:, :9])



def test_frames_too_large_for_the_position_tables_are_refused_before_the_vidtok_pass(with_vidtok, monkeypatch):
    flex = with_vidtok
    top = flex.max_video_size(flex.vidtok.config.spatial_factor)
    assert top == (8 * 2 * flex.vidtok.config.spatial_factor,) * 2  # posemb_max=8 patches of 2x2 latent pixels
    monkeypatch.setattr(flex.vidtok, "encode", lambda *a, **k: pytest.fail("the VidTok stage ran"))
    video = jnp.zeros((1, 17, top[0] + 8, top[1], 3))
    with pytest.raises(vt.InputError, match=rf"frames of {top[0] + 8}x{top[1]} pixels .*at most {top[0]}x{top[1]}"):
        flex.tokenize(video)


def test_detokenize_decodes_chunks_conditioned_on_the_previous_one(with_vidtok):
    flex = with_vidtok
    ids = jax.random.randint(jax.random.key(1), (1, 9, R), 0, flex.codebook_size)
    video = flex.detokenize(ids, key=jax.random.key(0), size=(32, 32), steps=2, keep=4)
    assert video.shape == (1, 33, 32, 32, 3)
    assert bool(jnp.all(jnp.isfinite(video)))
    with pytest.raises(vt.InputError, match=r"5 \+ 4k"):
        flex.detokenize(ids[:, :7], key=jax.random.key(0), size=(32, 32), steps=2)


@pytest.mark.parametrize("frames", [33, 49])
def test_truncated_ids_decode_videos_of_any_length(with_vidtok, frames):
    """Ids cut to their first k tokens (what a user stores) decode over several chunks: each chunk after the
    first is conditioned on the previous chunk's tail, tokenized and cut to the same k; the first chunk is
    exactly the one-chunk decode of the same ids."""
    flex, k = with_vidtok, 3
    video = jax.random.uniform(jax.random.key(3), (1, frames, 32, 32, 3), minval=-1, maxval=1)
    ids = flex.tokenize(video)[..., :k]
    key = jax.random.key(4)
    decoded = flex.detokenize(ids, key=key, size=(32, 32), steps=2)
    assert decoded.shape == (1, frames, 32, 32, 3) and bool(jnp.all(jnp.isfinite(decoded)))
    first_key = jax.random.split(key, 1 + (frames - 17) // 16)[0]
    first_chunk = flex.vidtok.decode(flex.detokenize_latents(ids[:, :5], key=first_key, latent_size=(8, 8), steps=2),
                                     num_frames=17)
    np.testing.assert_allclose(decoded[:, :17], first_chunk, atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda f, ids: f.velocity(ids.at[0, 0, 0].set(64000), latents(), 0.5), r"\[0, 63999\]"),
    (lambda f, ids: f.velocity(ids.at[0, 0, 0].set(-1), latents(), 0.5), r"\[0, 63999\]"),
    (lambda f, ids: f.velocity(ids.astype(jnp.float32), latents(), 0.5), "token ids must be integers"),
    (lambda f, ids: f.velocity(ids, latents(), 0.5, keep=0), r"keep must be in \[1, 8\]"),
    (lambda f, ids: f.velocity(ids, latents(), 0.5, keep=R + 1), r"keep must be in \[1, 8\]"),
    (lambda f, ids: f.velocity(ids, latents(), 1.5), r"flow times must lie in \[0, 1\]"),
    (lambda f, ids: f.velocity(ids, latents((2, 2, 8, 8, 16)), 0.5), "latents have 2 frames"),
    (lambda f, ids: f.tokenize_latents(latents((2, 3, 8, 8, 4))), r"\[B, t, h, w, 16\]"),
    (lambda f, ids: f.tokenize_latents(latents((2, 6, 8, 8, 16))), "split long clips"),
    (lambda f, ids: f.tokenize_latents(latents().at[0, 0, 0, 0, 0].set(jnp.nan)), "NaN"),
    (lambda f, ids: f.detokenize_latents(ids, steps=2), "noise=.* or key="),
    (lambda f, ids: f.detokenize_latents(ids, key=jax.random.key(0)), "latent_size"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), apg=dict(scale=2)), "unknown apg option"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), steps=0), "steps must be a whole number >= 1"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), steps=2.7), "steps must be a whole number"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), steps="2"), "steps must be a whole number"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), guidance_scale=float("nan")),
     "guidance_scale must be a finite number"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), guidance_scale=float("inf")),
     "guidance_scale must be a finite number"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), guidance_scale=2.0, apg=dict(norm_threshold=float("nan"))),
     "norm_threshold'\\] must be a finite number"),
    (lambda f, ids: f.detokenize_latents(ids, noise=latents(), guidance_scale=2.0, apg=dict(momentum=1.5)),
     r"momentum in \[0, 1\)"),
    (lambda f, ids: f.tokenize(jnp.zeros((1, 17, 32, 32, 3))), "no VidTok stage"),
])
def test_bad_input_is_refused_clearly(flex, call, message):
    ids = flex.tokenize_latents(latents())
    with pytest.raises(vt.InputError, match=message):
        call(flex, ids)


def _write(tmp_path, config, params):
    path = tmp_path / "edited.safetensors"
    write_flextok_file(path, config, params)
    return path


def test_bad_checkpoints_are_refused_clearly(flex, tmp_path):
    params = jax.device_get(flex.params)
    config = copy.deepcopy(flex.config.raw)
    config["decoder"]["module_dict"]["dec_nullcond"]["_target_"] = "os.system"
    with pytest.raises(vt.ConfigError, match="dec_nullcond._target_ = 'os.system'"):
        vt.load_videoflextok(_write(tmp_path, config, params))
    config = copy.deepcopy(flex.config.raw)
    config["encoder"]["module_dict"]["enc_transformer"]["depth_typo"] = 3
    with pytest.raises(vt.ConfigError, match="unknown key.*depth_typo"):
        vt.load_videoflextok(_write(tmp_path, config, params))
    config = copy.deepcopy(flex.config.raw)
    config["encoder"]["module_dict"]["enc_seq_packer"]["mask_mode"] = "flexible_time_block_causal_last"
    with pytest.raises(vt.ConfigError, match="mask_mode"):
        vt.load_videoflextok(_write(tmp_path, config, params))
    short = copy.deepcopy(params)
    del short["decoder"]["module_dict.dec_nullcond.nullcond"]
    with pytest.raises(vt.CheckpointError, match="1 missing: decoder.module_dict.dec_nullcond.nullcond"):
        vt.load_videoflextok(_write(tmp_path, flex.config.raw, short))
    good = tmp_path / "good.safetensors"
    vt.export_videoflextok(flex, good)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(vt.CheckpointError, match="truncated"):
        vt.load_videoflextok(truncated)
    vidtok_file = tmp_path / "vidtok.safetensors"
    vt.export_safetensors(vt.load_tokenizer(), vidtok_file)
    with pytest.raises(vt.CheckpointError, match="holds no VideoFlexTok config"):
        vt.load_videoflextok(vidtok_file)
    with pytest.raises(vt.CheckpointError, match="not found"):
        vt.load_videoflextok(tmp_path / "missing.safetensors")


def test_token_head_init_follows_the_config():
    zero = vt.random_videoflextok(flextok_hydra_config(**SMALL), seed=0)
    xavier = vt.random_videoflextok(flextok_hydra_config(**SMALL, token_head_init="xavier"), seed=0)
    a, b = latents(seed=1), latents(seed=2)
    same = [np.asarray(zero.tokenize_latents(z)) for z in (a, b)]
    assert np.array_equal(same[0], same[1])  # the official zero init: every clip gets the same tokens
    differ = [np.asarray(xavier.tokenize_latents(z)) for z in (a, b)]
    assert (differ[0] != differ[1]).mean() > 0.5
    with pytest.raises(vt.ConfigError, match="weight_init_style"):
        vt.random_videoflextok(flextok_hydra_config(**SMALL, token_head_init="orthogonal"))


def test_a_keep_mask_of_the_first_k_equals_keep_k_and_any_subset_runs(flex):
    ids = flex.tokenize_latents(latents())
    noise = latents(seed=5)
    first_two = np.zeros((2, R), bool)
    first_two[:, :2] = True
    by_count = flex.detokenize_latents(ids, noise=noise, steps=2, keep=2)
    np.testing.assert_allclose(flex.detokenize_latents(ids, noise=noise, steps=2, keep=first_two), by_count, atol=1e-6)
    for shared in (first_two[0], first_two[:1]):  # one mask for the whole batch (B = 2 here)
        np.testing.assert_allclose(flex.detokenize_latents(ids, noise=noise, steps=2, keep=shared), by_count, atol=1e-6)
    last_two = first_two[:, ::-1].copy()
    assert float(jnp.abs(flex.detokenize_latents(ids, noise=noise, steps=2, keep=last_two) - by_count).max()) > 1e-4
    for bad in (np.zeros((2, R), bool), np.ones((2, R + 1), bool)):
        with pytest.raises(vt.InputError, match="keep mask"):
            flex.detokenize_latents(ids, noise=noise, steps=2, keep=bad)
