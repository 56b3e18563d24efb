"""Parity with the official VideoFlexTok code on every case of ../shared/videoflextok_reference.

Each case is loaded through `vt.load_videoflextok` from its official `.safetensors` file (config
in the metadata). Token ids must be identical; encoder values, FSQ values and every decoder
velocity within relative L2 1e-5; whole sampler runs (fixed noise, with and without CFG/APG,
masked and truncated tokens, per-sample keep, prefix conditioning) within 1e-4.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import safetensors
import yaml

import vidtok_jax as vt
from vidtok_jax.flextok.masks import attention_mask
from tests.conftest import SHARED, channels_last, rel_l2

REFERENCE = SHARED / "videoflextok_reference"
CASES = ["s1_t1_b1_p2_r16", "s2_t3_b2_p2_r16_cond1", "s3_t2_b1_p1_r8"]
TOL, PIPE_TOL = 1e-5, 1e-4


@pytest.fixture(scope="module", params=CASES)
def case(request):
    folder = REFERENCE / request.param
    if not (folder / "reference.npz").is_file():
        pytest.skip(f"VideoFlexTok reference outputs missing: {folder} (the shared/videoflextok_reference folder "
                    "beside the repo)")
    ref = dict(np.load(folder / "reference.npz"))
    meta = json.loads(str(ref.pop("meta")))
    return vt.load_videoflextok(folder / "model.safetensors"), ref, meta, folder


def test_encoder_fsq_and_token_ids(case):
    flex, ref, _, _ = case
    latents = ref["latents_channels_last"]
    values = flex.encode_latents(latents)
    assert rel_l2(values, ref["enc_registers_prefsq"]) < TOL
    assert rel_l2(flex.fsq.bound(values), ref["fsq_bounded"]) < TOL
    codes, ids = flex.quantize(values)
    assert rel_l2(codes, ref["fsq_quant"]) < TOL
    np.testing.assert_array_equal(np.asarray(flex.tokenize_latents(latents)), ref["tokens"])
    np.testing.assert_array_equal(np.asarray(ids), ref["tokens"])
    assert rel_l2(flex.codes(ref["tokens"].astype(np.int32)), ref["indices_to_embedding"]) < TOL


def test_attention_masks_match_the_official_block_masks(case):
    flex, ref, meta, _ = case
    t, h, w = meta["T_latent"], meta["H_latent"], meta["W_latent"]
    pt, ph, pw = meta["patch_sizes_thw"]
    patches, registers = (h // ph) * (w // pw), meta["registers_per_frame"]
    n = (t // pt) * (patches + registers)
    for key, mode in (("enc_attn_mask", meta["enc_mask_mode"]), ("dec_attn_mask", meta["dec_mask_mode"])):
        official = ref[key]
        for b in range(meta["B"]):  # samples are packed one after another; nothing crosses them
            block = official[b * n:(b + 1) * n]
            np.testing.assert_array_equal(block[:, b * n:(b + 1) * n], attention_mask(mode, t // pt, patches, registers))
            assert not np.delete(block, np.s_[b * n:(b + 1) * n], axis=1).any()


def test_every_decoder_velocity(case):
    flex, ref, meta, _ = case
    tokens, cond_frames = ref["tokens"].astype(np.int32), meta["cond_frames"]
    checked = 0
    for key in sorted(k for k in ref if k.startswith("dec_out_")):
        _, _, which, time, kind, *rest = key.split("_")
        noisy, t, null = channels_last(ref[f"dec_in_{time}"]), int(time[1:]) / 100, kind == "null"
        prefix = 0 if rest == ["noprefix"] else cond_frames
        if which.startswith("trunc"):
            out = flex.velocity(tokens[..., :int(which[5:])], noisy, t, null=null, prefix=prefix)
        else:
            out = flex.velocity(tokens, noisy, t, keep=int(which[1:]), null=null, prefix=prefix)
        assert rel_l2(out, channels_last(ref[key])) < TOL, key
        checked += 1
    assert checked >= 20


def test_every_sampler_run(case):
    flex, ref, meta, _ = case
    tokens = ref["tokens"].astype(np.int32)
    cond = channels_last(ref["pipe_cond_latents"]) if meta["cond_frames"] else None
    for run, args in meta["pipe_runs"].items():
        ids = tokens if args["truncate_tokens_to"] is None else tokens[..., :args["truncate_tokens_to"]]
        apg = ({k: args[k] for k in ("eta", "momentum", "norm_threshold")}
               if args.get("perform_norm_guidance") else None)
        out = flex.detokenize_latents(ids, noise=channels_last(ref["pipe_noise"]), steps=meta["pipe_steps"],
                                      keep=args["num_keep_tokens_list"], guidance_scale=args["guidance_scale"],
                                      apg=apg, cond_latents=cond)
        assert rel_l2(out, channels_last(ref[f"pipe_out_{run}"])) < PIPE_TOL, run
        if cond is not None:
            np.testing.assert_array_equal(np.asarray(out)[:, :cond.shape[1]], cond)


def test_export_keeps_the_official_format(case, tmp_path):
    flex, ref, _, folder = case
    path = tmp_path / "exported.safetensors"
    vt.export_videoflextok(flex, path)
    with safetensors.safe_open(str(path), "numpy") as exported, \
            safetensors.safe_open(str(folder / "model.safetensors"), "numpy") as source:
        assert sorted(exported.keys()) == sorted(source.keys())
        for key in source.keys():
            np.testing.assert_array_equal(exported.get_tensor(key), source.get_tensor(key))
        assert exported.metadata().keys() == source.metadata().keys()
        metadata = exported.metadata()
    assert metadata.keys() == json.loads((folder / "config.json").read_text()).keys()
    # The official loader: YAML safe_load of each entry after None -> null gives back the config.
    assert {k: yaml.safe_load(v.replace("None", "null")) for k, v in metadata.items()} == flex.config.raw
    again = vt.load_videoflextok(path)
    np.testing.assert_array_equal(np.asarray(again.tokenize_latents(ref["latents_channels_last"])), ref["tokens"])
