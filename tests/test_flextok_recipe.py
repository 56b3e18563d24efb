"""What makes a small VideoFlexTok read its tokens, each part checked for what it computes: noise levels drawn
nearer pure noise (`flextok.sigma_location`), VidTok latents divided by their per-channel standard deviation
(`latent_scale`, kept in the model's config and applied by the public API), the linear code and the model
extension that starts from it (`linear_code`), and a model over the bundled VidTok that exports, names that
VidTok and its clip size, and loads back."""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.flextok.config import flextok_config_from_dict
from vidtok_jax.flextok.model import init_flextok_params
from vidtok_jax.flextok.linear_code import fit_linear_code, latent_frame_crops, linear_code_maps
from vidtok_jax.flextok.objective import FlowObjective, flow_matching_loss, init_readout, readout_error
from vidtok_jax.flextok.presets import flextok_hydra_config
from vidtok_jax.flextok.training import with_decoder_depth, latent_channel_scale, with_identity_blocks
from vidtok_jax.train.config import load_train_config
from vidtok_jax.vidtok.config import RegularizerConfig
from vidtok_jax.vidtok.quantizers import FSQ
from tests.helpers import R, SMALL, latents, perturbed, small

SCALE = [0.5 + 0.25 * i for i in range(16)]


def scaled_model(scale=SCALE, vidtok_id="vidtok_kl_causal_488_16chn", vidtok=None) -> vt.VideoFlexTok:
    config = flextok_hydra_config(**SMALL, latent_scale=scale, vidtok_id=vidtok_id)
    return perturbed(vt.random_videoflextok(config, seed=0, vidtok=vidtok))


def unscaled_twin(flex: vt.VideoFlexTok) -> vt.VideoFlexTok:
    """The same parameters without a latent scale."""
    config = flextok_hydra_config(**SMALL)
    return vt.VideoFlexTok(vt.random_videoflextok(config).config, flex.params, vidtok=flex.vidtok)


@functools.cache
def small_perturbed() -> vt.VideoFlexTok:
    return perturbed(vt.random_videoflextok(flextok_hydra_config(**SMALL)))


def loss_logs(objective: FlowObjective, z: jax.Array) -> dict:
    """The logs of one jitted training loss of a small model (compiled once: op by op it takes tens of seconds)."""
    flex = small_perturbed()
    loss = jax.jit(lambda z: flow_matching_loss(flex.encoder, flex.decoder, flex.fsq, flex.params, z,
                                                jax.random.key(0), objective)[1])
    return loss(z)


@pytest.mark.parametrize("location, expected", [(0.0, 0.5), (1.0, 0.697), (2.0, 0.846)])
def test_sigma_location_moves_the_noise_levels_towards_pure_noise(location, expected):
    """sigma = sigmoid(N(location, 1)): its mean is 0.5 for the official 0 and E[sigmoid(N(m, 1))] otherwise."""
    logs = loss_logs(FlowObjective(sigma_location=location), latents((256, 1, 4, 4, 16)))
    assert float(logs["mean_sigma"]) == pytest.approx(expected, abs=0.03)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_keep_all_fraction_makes_that_fraction_of_clips_keep_every_token(fraction):
    """k uniform in 1..R for the others: mean k = f * R + (1 - f) * (R + 1) / 2."""
    r = SMALL["registers"]
    logs = loss_logs(FlowObjective(keep_sampling="uniform", keep_all_fraction=fraction), latents((1024, 1, 4, 4, 16)))
    assert float(logs["mean_keep"]) == pytest.approx(fraction * r + (1 - fraction) * (r + 1) / 2, abs=0.25)


def test_latent_scale_auto_is_the_standard_deviation_of_each_channel():
    rng = np.random.default_rng(0)
    std = np.array([0.5, 2.0, 7.0])
    videos = [rng.normal(3.0, std, (n, 4, 4, 3)).astype(np.float32) for n in (5, 9, 13)]
    assert np.allclose(latent_channel_scale(videos), std, rtol=0.05)


def test_a_scaled_model_reads_latents_divided_by_its_scale_and_samples_them_back():
    flex = scaled_model()
    twin = unscaled_twin(flex)
    scale = jnp.asarray(SCALE)
    z = latents() * scale
    ids = flex.tokenize_latents(z)
    np.testing.assert_array_equal(ids, twin.tokenize_latents(z / scale))
    assert not np.array_equal(ids, twin.tokenize_latents(z))  # the scale is applied, not ignored
    noise = latents(seed=3)
    out = flex.detokenize_latents(ids, noise=noise, steps=2, keep=4)
    np.testing.assert_allclose(out, twin.detokenize_latents(ids, noise=noise, steps=2, keep=4) * scale, rtol=1e-5, atol=1e-5)
    cond = z[:, :1]
    fixed = flex.detokenize_latents(ids, noise=noise, steps=2, cond_latents=cond)
    np.testing.assert_allclose(fixed[:, :1], cond, rtol=1e-6, atol=1e-6)  # conditioning frames come back as given


@pytest.mark.parametrize("bad", [[1.0] * 15, [1.0] * 15 + [0.0], [1.0] * 15 + [float("nan")], "auto", [True] * 16])
def test_a_bad_latent_scale_in_a_file_is_refused(bad):
    config = flextok_hydra_config(**SMALL)
    config["vae"]["latent_scale"] = bad
    with pytest.raises(vt.ConfigError, match="latent_scale"):
        vt.random_videoflextok(config)


@pytest.mark.parametrize("setting, message", [("flextok.latent_scale=[1, -2]", "latent_scale"),
                                              ("flextok.latent_scale=yes", "latent_scale"),
                                              ("flextok.sigma_location=9", "sigma_location"),
                                              ("flextok.sigma_location=.nan", "sigma_location"),
                                              ("flextok.keep_all_fraction=1.5", "keep_all_fraction"),
                                              ("flextok.readout=linear", "readout must be learned or pca"),
                                              ("flextok.readout=pca", "readout: pca fits the linear code"),
                                              ("flextok.linear_code=true", "linear_code fits the linear code"),
                                              ("flextok.linear_code=1", "linear_code' must be bool"),
                                              ("data.data_dir=[a, b]", "a list of folders is for data.source=latents")])
def test_bad_recipe_settings_are_refused(setting, message):
    with pytest.raises(vt.ConfigError, match=message):
        load_train_config("flex_tiny_cpu", [setting])


def test_latent_scale_auto_needs_latent_shards():
    from vidtok_jax.flextok.training import FlexTokFamily

    with pytest.raises(vt.ConfigError, match="auto"):
        FlexTokFamily(load_train_config("flex_tiny_cpu", ["flextok.latent_scale=auto"]))


def test_a_model_over_the_bundled_vidtok_exports_a_hub_folder_that_loads_back(tmp_path):
    vidtok = vt.load_tokenizer()
    flex = scaled_model(vidtok_id="vidtok_jax_default", vidtok=vidtok)
    flex.latent_size = (8, 8)
    written = vt.export_videoflextok(flex, tmp_path / "flex", dtype=np.float16)
    assert written == tmp_path / "flex" / "model.safetensors"
    assert not any(key.startswith("video_tokenizer.vae.") for key in _keys(written))  # names the VidTok, holds no copy
    loaded = vt.load_videoflextok(tmp_path / "flex")
    assert loaded.config.vidtok_id == "vidtok_jax_default" and loaded.config.latent_scale == tuple(SCALE)
    assert loaded.video_size == (8 * vidtok.config.spatial_factor,) * 2
    assert loaded.chunk_frames == 17 and loaded.overlap_frames == 1
    for a, b in zip(jax.tree_util.tree_leaves(flex.params), jax.tree_util.tree_leaves(loaded.params)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)  # float16 storage
    jax.tree_util.tree_map(np.testing.assert_array_equal, loaded.vidtok.params, vidtok.params)
    single = vt.load_videoflextok(vt.export_videoflextok(flex, tmp_path / "flex.safetensors"))
    assert single.config.vidtok_id == "vidtok_jax_default" and single.vidtok is not None
    assert loaded.sampler_steps == 30 and "sampler_steps" not in json.loads((tmp_path / "flex" / "config.json").read_text())


def test_a_hub_folder_sets_the_sampler_steps_that_detokenize_takes_by_default(tmp_path):
    flex = scaled_model(vidtok_id="vidtok_jax_default", vidtok=vt.load_tokenizer())
    flex.latent_size = (8, 8)
    flex.sampler_steps = 1
    loaded = vt.load_videoflextok(vt.export_videoflextok(flex, tmp_path / "flex").parent)
    assert loaded.sampler_steps == 1
    ids = loaded.tokenize_latents(latents() * jnp.asarray(SCALE))
    noise = latents(seed=4)
    default = loaded.detokenize_latents(ids, noise=noise)
    np.testing.assert_array_equal(default, loaded.detokenize_latents(ids, noise=noise, steps=1))
    assert not np.allclose(default, loaded.detokenize_latents(ids, noise=noise, steps=3), atol=1e-4)


def _keys(path) -> list[str]:
    import safetensors

    with safetensors.safe_open(str(path), framework="numpy") as handle:
        return list(handle.keys())


def test_code_norm_gives_every_token_values_of_rms_one():
    flex = perturbed(vt.random_videoflextok(flextok_hydra_config(**SMALL, token_head_init="xavier", code_norm=True)))
    values = flex.encode_latents(latents())
    np.testing.assert_allclose(jnp.sqrt(jnp.mean(jnp.square(values), axis=-1)), 1.0, rtol=1e-4)
    plain = perturbed(vt.random_videoflextok(flextok_hydra_config(**SMALL, token_head_init="xavier")))
    assert not np.allclose(jnp.sqrt(jnp.mean(jnp.square(plain.encode_latents(latents())), axis=-1)), 1.0, rtol=1e-2)


def test_the_readout_sees_only_the_kept_codes_and_is_exact_for_a_linear_truth():

    readout = init_readout(jax.random.key(0), 4, 6, (2, 2, 3))
    codes = jax.random.uniform(jax.random.key(1), (2, 3, 4, 6), minval=-1, maxval=1)
    keep = jnp.array([1, 4])
    kept = codes * (jnp.arange(4)[None, :] < keep[:, None])[:, None, :, None]
    truth = (kept.reshape(2, 3, -1) @ readout["kernel"] + readout["bias"]).reshape(2, 3, 2, 2, 3)
    assert float(readout_error(readout, codes, keep, truth)) < 1e-10
    changed = codes.at[0, :, 1:].set(0.5)  # registers the first clip does not keep
    assert float(readout_error(readout, changed, keep, truth)) < 1e-10
    assert float(readout_error(readout, codes.at[0, :, 0].set(0.5), keep, truth)) > 1e-4


def test_a_decoder_grown_from_a_checkpoint_computes_what_the_checkpoint_did():
    flex = small()
    document = flextok_hydra_config(**SMALL)
    grown_document = with_decoder_depth(document, SMALL["dec_depth"] + 2)
    assert grown_document == flextok_hydra_config(**{**SMALL, "dec_depth": SMALL["dec_depth"] + 2})
    config = flextok_config_from_dict(grown_document)
    grown = vt.VideoFlexTok(config, with_identity_blocks(flex.params, init_flextok_params(config, jax.random.key(5))))
    assert len(jax.tree_util.tree_leaves(grown.params)) > len(jax.tree_util.tree_leaves(flex.params))
    ids = flex.tokenize_latents(latents())
    noise = jax.random.normal(jax.random.key(1), latents().shape)
    np.testing.assert_allclose(grown.detokenize_latents(ids, noise=noise, steps=2),
                               flex.detokenize_latents(ids, noise=noise, steps=2), atol=1e-5)
    with pytest.raises(vt.ConfigError, match="grow, not shrink"):
        with_decoder_depth(document, 1)
    wider = flextok_config_from_dict(flextok_hydra_config(**{**SMALL, "dec_dim": 64}))
    with pytest.raises(vt.ConfigError, match="only the decoder's depth may change"):
        with_identity_blocks(flex.params, init_flextok_params(wider, jax.random.key(5)))


def test_growing_the_decoder_needs_a_videoflextok_checkpoint():
    with pytest.raises(vt.ConfigError, match="init.decoder_depth"):
        load_train_config("flex_tiny_cpu", ["init.decoder_depth=6"])


def test_the_linear_code_orders_principal_components_and_its_readout_decodes_the_fsq_codes():
    """Component j in FSQ value j (token j // 6): the read-out the training loss uses decodes the code's FSQ codes to
    exactly the code's own reconstruction, and keeping more tokens reconstructs better."""
    frames = latent_frame_crops(low_rank_latents(), 2, 2)  # 4 crops of 2x2x3 per latent frame
    assert frames.shape == (40 * 9 * 4, 12)
    levels, registers = (8, 5), 6
    code = fit_linear_code(frames, levels, registers)
    assert np.all(np.diff(code.std) <= 0) and np.allclose(code.basis.T @ code.basis, np.eye(12), atol=1e-8)
    components = code.components(frames[:64])
    rounded = code.rounded(components)
    fsq = FSQ(RegularizerConfig(kind="fsq", levels=levels))
    codes = rounded / code.spans  # FSQ's codes of those levels: (i - L // 2) / (L // 2)
    assert np.allclose(np.asarray(fsq.indices_to_codes(fsq.codes_to_indices(jnp.asarray(codes.reshape(64, 6, 2))))),
                       codes.reshape(64, 6, 2))
    readout = {name: jnp.asarray(value) for name, value in code.readout().items()}
    error = readout_error(readout, jnp.asarray(codes.reshape(64, 1, registers, 2), jnp.float32), jnp.full((64,), registers),
                          jnp.asarray(code.frames(rounded).reshape(64, 1, 2, 2, 3), jnp.float32))
    assert float(error) < 1e-9
    errors = [np.mean(np.square(code.frames(rounded[:, :2 * k]) - frames[:64])) for k in range(1, registers + 1)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    with pytest.raises(ValueError, match="components"):
        fit_linear_code(frames, levels, 7)


def low_rank_latents(seed: int = 0, count: int = 40, rank: int = 40) -> list[np.ndarray]:
    """Latents ``[9, 4, 4, 3]`` of ``rank`` random patterns with geometrically falling weights."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(99).normal(size=(rank, 4, 4, 3))
    return [np.einsum("tk,khwc->thwc", rng.normal(size=(9, rank)) * np.geomspace(4, 0.05, rank), patterns)
            for _ in range(count)]


def test_the_linear_code_maps_tokenize_through_fsq_and_decode_coarse_to_fine():
    """The encoder map, FSQ itself and the decoder map reconstruct the frames about as well as the linear code on
    FSQ's uniform grid, better with every kept token."""
    frames = latent_frame_crops(low_rank_latents(), 2, 2)
    levels, registers = (8, 5), 6
    maps = linear_code_maps(frames, levels, registers)
    assert maps["encoder"]["kernel"].shape == (12, 12) and maps["decoder"]["kernel"].shape == (12, 12)
    fsq = FSQ(RegularizerConfig(kind="fsq", levels=levels))
    values = frames @ maps["encoder"]["kernel"] + maps["encoder"]["bias"]
    codes = np.asarray(fsq.quantize(jnp.asarray(values.reshape(-1, registers, 2), jnp.float32))).reshape(len(frames), -1)
    variance = np.mean(np.var(frames, axis=0))
    errors = [np.mean(np.square(np.where(np.arange(12) < 2 * k, codes, 0.0) @ maps["decoder"]["kernel"]
                                + maps["decoder"]["bias"] - frames)) / variance for k in range(1, registers + 1)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    code = fit_linear_code(frames, levels, registers)
    uniform = np.mean(np.square(code.frames(code.rounded(code.components(frames))) - frames)) / variance
    assert errors[-1] < 0.1 and errors[-1] < 1.3 * uniform, (errors[-1], uniform)

    scale = np.linspace(0.5, 2.0, 12)  # maps in a model's space (latents divided by its scale) compute the same
    scaled = linear_code_maps(frames, levels, registers, scale)
    np.testing.assert_allclose((frames / scale) @ scaled["encoder"]["kernel"] + scaled["encoder"]["bias"], values,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose((codes @ scaled["decoder"]["kernel"] + scaled["decoder"]["bias"]) * scale,
                               codes @ maps["decoder"]["kernel"] + maps["decoder"]["bias"], rtol=1e-4, atol=1e-4)


def linear_code_model(seed: int = 0) -> vt.VideoFlexTok:
    """A small model with the linear code extension over 8x8 latent frames, every parameter off its init except
    the two heads (zero): the encoder's values are then its linear map's alone, the decoder's clean latents its
    read-out's alone."""
    flex = small(seed, linear_code=(8, 8))
    zeroed = {part: {name: (jax.tree_util.tree_map(jnp.zeros_like, tree) if name.endswith(".proj") and "to_" in name
                            else tree) for name, tree in flex.params[part].items()} for part in ("encoder", "decoder")}
    return vt.VideoFlexTok(flex.config, zeroed)


def test_a_linear_code_model_tokenizes_with_its_map_and_decodes_its_read_out():
    flex = linear_code_model()
    z = latents((2, 3, 8, 8, 16))
    encoder = flex.params["encoder"]["module_dict.enc_to_latents.linear_code"]
    values = np.asarray(z).reshape(2, 3, -1) @ np.asarray(encoder["kernel"]) + np.asarray(encoder["bias"])
    np.testing.assert_allclose(np.asarray(flex.encode_latents(z)), values.reshape(2, 3, R, 6), atol=1e-4, rtol=1e-5)

    ids = flex.tokenize_latents(z)
    decoder = flex.params["decoder"]["module_dict.dec_to_patches.linear_code"]
    for keep in (1, 3, R):
        kept = np.where(np.arange(R)[None, None, :, None] < keep, np.asarray(flex.codes(ids)), 0.0)
        read_out = (kept.reshape(2, 3, -1) @ np.asarray(decoder["kernel"]) + np.asarray(decoder["bias"])).reshape(z.shape)
        noisy = latents(z.shape, seed=5)
        np.testing.assert_allclose(np.asarray(flex.velocity(ids, noisy, 0.5, keep=keep)), (np.asarray(noisy) - read_out) / 0.5,
                                   atol=1e-4, rtol=1e-4)
        one_step = flex.detokenize_latents(ids, noise=noisy, steps=1, keep=keep)
        np.testing.assert_allclose(np.asarray(one_step), read_out, atol=1e-4, rtol=1e-4)
    null = np.asarray(flex.velocity(ids, z, 1.0, null=True))
    np.testing.assert_allclose(null, np.asarray(z) - np.asarray(decoder["bias"]).reshape(8, 8, 16), atol=1e-4, rtol=1e-4)

    with pytest.raises(vt.InputError, match="exactly 8x8"):
        flex.encode_latents(latents((1, 3, 4, 4, 16)))
    document = flextok_hydra_config(**SMALL, linear_code=(8, 8))
    document["decoder"]["module_dict"]["dec_to_patches"]["linear_code"] = [4, 4]
    with pytest.raises(vt.ConfigError, match="same linear_code"):
        flextok_config_from_dict(document)
    document["decoder"]["module_dict"]["dec_to_patches"]["linear_code"] = [4, 4, 1]
    with pytest.raises(vt.ConfigError, match=r"latent frame size \[h, w\]"):
        flextok_config_from_dict(document)
