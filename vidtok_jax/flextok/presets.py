"""Official-layout VideoFlexTok configs built in code: tiny CPU models and the released shapes.

`flextok_hydra_config(...)` writes the same Hydra tree (module names, read/write keys, module
order) that the official code instantiates, so a model made from it exports to a file the
official loader accepts. `RELEASED_SHAPES` are the sizes of the two releases as the paper names
them (dD: depth D, width 64·D): an assumption until the released configs are read.
"""

from __future__ import annotations

import copy
from typing import Any

from vidtok_jax.flextok.config import LINEAR_CODE_KEY

_M = "videoflextok.model."
LEVELS = (8, 8, 8, 5, 5, 5)
RELEASED_SHAPES = {
    "d18_d18_k600": dict(enc_dim=1152, enc_depth=18, dec_dim=1152, dec_depth=18, registers=256, patch=(1, 2, 2)),
    "d18_d28": dict(enc_dim=1152, enc_depth=18, dec_dim=1792, dec_depth=28, registers=256, patch=(1, 2, 2)),
}


def _channels(read: str, write: str, op: str) -> dict:
    return {"_target_": _M + "utils.dict_ops.PerSampleOp", "read_key": read, "write_key": write,
            "per_sample_op": {"_target_": _M + f"utils.dict_ops.{op}", "_partial_": True}}


def _patch_embedder(read: str, write: str, n_key: str, patch, channels: int, dim: int) -> dict:
    return {"_target_": _M + "preprocessors.patching.PatchEmbedder", "input_tensor_list_read_key": read,
            "patches_list_write_key": write, "n_patches_write_key": n_key, "patch_sizes": list(patch),
            "channels_in": channels, "dim": dim, "flatten_patches": False, "weight_init_style": "xavier"}


def _posemb(key: str, dim: int, max_sizes, kind: str = "learnable_sum") -> dict:
    return {"_target_": _M + "utils.posembs.PositionalEmbeddingAdder", "read_key": key, "write_key": key, "dim": dim,
            "max_sizes": list(max_sizes), "posemb_type": kind, "posemb_scaling": "absolute"}


def _packer(prefix: str, inputs: list[str], mask_mode: str, adaln: bool) -> dict:
    spec = {"_target_": _M + "preprocessors.flex_seq_packing.BlockWiseSequenceInterleavePacker",
            "input_list_read_keys": inputs, "packed_seq_write_key": f"{prefix}_packed_seq",
            "block_mask_write_key": f"{prefix}_block_mask", "inner_packed_shapes_write_key": f"{prefix}_ps_inner",
            "outer_packed_shapes_write_key": f"{prefix}_ps_outer", "mask_mode": mask_mode, "pad_to_multiple": 128,
            "compile_block_mask": False}
    if adaln:
        spec.update(emb_packing_fn_write_key=f"{prefix}_emb_packing_fn", per_subseq_embs=True)
    return spec


def _transformer(prefix: str, dim: int, depth: int, head_dim: int, adaln: bool) -> dict:
    spec = {"_target_": _M + "trunks.transformers.FlexTransformer", "input_seq_read_key": f"{prefix}_packed_seq",
            "output_seq_write_key": f"{prefix}_packed_seq", "depth": depth, "block_mask_read_key": f"{prefix}_block_mask",
            "dim": dim, "head_dim": head_dim, "mlp_ratio": 4.0, "qkv_bias": False, "proj_bias": False,
            "mlp_bias": False, "gated_mlp": True, "qk_norm": True, "weight_init_style": "xavier"}
    if adaln:
        spec.update(adaLN_emb_read_key="dec_temb", adaLN_packing_fn_read_key="dec_emb_packing_fn", adaLN_expansion=2)
    return spec


def _unpacker(prefix: str) -> dict:
    return {"_target_": _M + "postprocessors.seq_unpacking.SequenceInterleavedUnpacker",
            "packed_seq_read_key": f"{prefix}_packed_seq", "inner_seq_write_keys": [f"{prefix}_patches", f"{prefix}_registers"],
            "inner_packed_shapes_read_key": f"{prefix}_ps_inner", "outer_packed_shapes_read_key": f"{prefix}_ps_outer"}


def flextok_hydra_config(*, enc_dim: int, enc_depth: int, dec_dim: int, dec_depth: int, registers: int,
                         patch=(1, 2, 2), head_dim: int = 64, posemb_max: int = 32, t_max: int = 5,
                         latent_channels: int = 16, prefix_conditioning: bool = True,
                         register_posemb: bool = False, nullcond_dropout: float = 0.2,
                         keep_k_sampling: str = "pow2", token_head_init: str = "zero",
                         vidtok_id: str = "vidtok_kl_causal_488_16chn",
                         latent_scale: list[float] | None = None, code_norm: bool = False,
                         linear_code: tuple[int, int] | None = None) -> dict[str, Any]:
    """An official-layout VideoFlexTok config (the structure of the official code's Hydra tree).

    ``token_head_init`` initialises the encoder's head before FSQ: ``zero`` as the official configs
    (every token starts as the same code), or ``xavier`` (tokens differ between clips from step 0).
    ``vidtok_id`` names the VidTok stage (the official one, or the bundled ``vidtok_jax_default``);
    ``latent_scale`` (this port's extension) divides its latents per channel; ``code_norm`` (also this port's)
    RMS-normalises each token's values before FSQ; ``linear_code`` (also this port's) is the latent frame size
    ``(h, w)`` of the linear code maps on both heads (``config.LINEAR_CODE_KEY``).
    """
    code_map = {} if linear_code is None else {LINEAR_CODE_KEY: [int(n) for n in linear_code]}
    c = latent_channels
    encoder = {
        "enc_channels_last": _channels("vae_latents", "vae_latents_channels_last", "channels_first_to_last"),
        "enc_from_latents": _patch_embedder("vae_latents_channels_last", "enc_patches", "enc_n_patches", patch, c, enc_dim),
        "enc_posemb_module": _posemb("enc_patches", enc_dim, [posemb_max] * 3),
        "enc_register_module": {
            "_target_": _M + "preprocessors.registers.RegistersTemporal2D", "input_tensor_list_read_key": "enc_patches",
            "register_sizes_read_write_key": "enc_register_sizes", "registers_write_key": "enc_registers",
            "dim": enc_dim, "t_max": t_max, "n_min": registers, "n_max": registers, "size_sampling_mode": "uniform",
            "ordering_mode": "nested"},
        "enc_seq_packer": _packer("enc", ["enc_patches", "enc_registers"], "time_block_causal_last", adaln=False),
        "enc_transformer": _transformer("enc", enc_dim, enc_depth, head_dim, adaln=False),
        "enc_unpacker": _unpacker("enc"),
        "enc_to_latents": {"_target_": _M + "postprocessors.heads.LinearHead", "read_key": "enc_registers",
                           "write_key": "enc_registers_latents", "dim": enc_dim, "dim_out": len(LEVELS),
                           "use_mup_readout": False, "weight_init_style": token_head_init,
                           **({"code_norm": True} if code_norm else {}), **code_map},
    }
    decoder = {"dec_from_latents": {"_target_": _M + "preprocessors.linear.LinearLayer", "read_key": "quants",
                                    "write_key": "dec_registers", "dim_in": len(LEVELS), "dim": dec_dim,
                                    "weight_init_style": "xavier"}}
    if register_posemb:
        decoder["dec_registers_posemb_module"] = _posemb("dec_registers", dec_dim, [max(registers, t_max)] * 2)
    decoder["dec_nested_dropout"] = {
        "_target_": _M + "preprocessors.token_dropout.MaskedNestedDropout", "read_write_key": "dec_registers",
        "dim": dec_dim, "eval_keep_k_read_key": "eval_keep_k", "train_keep_k_write_key": "train_keep_k",
        "size_sampling_mode": keep_k_sampling}
    if prefix_conditioning:
        decoder["dec_prefix_masking"] = {
            "_target_": _M + "preprocessors.token_dropout.MaskedPrefixDropout", "read_write_key": "dec_registers",
            "dim": dec_dim, "prefix_len_read_key": "prefix_len", "eval_prefix_len_read_key": "eval_prefix_len"}
    decoder.update({
        "dec_nullcond": {"_target_": _M + "preprocessors.nullcond.LearnedNullCond", "read_write_key": "dec_registers",
                         "dim": dec_dim, "eval_drop_flag_read_key": "eval_dropout_mask", "dropout_prob": nullcond_dropout},
        "dec_noise_channels_last": _channels("vae_latents_noised", "vae_latents_noised_channels_last", "channels_first_to_last"),
        "dec_noise_patch_emb": _patch_embedder("vae_latents_noised_channels_last", "dec_patches", "dec_n_patches", patch, c,
                                               dec_dim),
        "dec_noise_posemb_module": _posemb("dec_patches", dec_dim, [posemb_max] * 3),
        "dec_time_embedder": {"_target_": _M + "preprocessors.time_embedding.TimestepEmbedder",
                              "timesteps_read_key": "timesteps", "time_embedding_write_key": "dec_temb", "dim": dec_dim,
                              "frequency_embedding_size": 256, "weight_init_style": "xavier", "max_timestep": 1.0,
                              "temb_as_tokens": False},
        "dec_seq_packer": _packer("dec", ["dec_patches", "dec_registers"], "time_block_causal", adaln=True),
        "dec_transformer": _transformer("dec", dec_dim, dec_depth, head_dim, adaln=True),
        "dec_unpacker": _unpacker("dec"),
        "dec_to_patches": {"_target_": _M + "postprocessors.heads.ToPatchesLinearHead", "read_key": "dec_patches",
                           "write_key": "vae_latents_reconst_channels_last", "dim": dec_dim, "channels_out": c,
                           "patch_sizes": list(patch), "use_mup_readout": False, "weight_init_style": "zero",
                           "adaLN_emb_read_key": "dec_temb", **code_map},
        "dec_channels_first": _channels("vae_latents_reconst_channels_last", "vae_latents_reconst", "channels_last_to_first"),
    })
    noise = {"_target_": "videoflextok.flow_matching.noise_modules.MinRFNoiseModule", "clean_images_read_key": "vae_latents",
             "noised_images_write_key": "vae_latents_noised", "timesteps_write_key": "timesteps",
             "sigmas_write_key": "sigmas", "ln": True, "noise_write_key": "flow_noise"}
    if prefix_conditioning:
        noise.update({"_target_": "videoflextok.flow_matching.noise_modules.PrefixMinRFNoiseModule",
                      "prefix_len": [0, 1], "keep_prefix_prob": [0.5, 0.5], "loss_mask_write_key": "loss_mask",
                      "prefix_len_write_key": "prefix_len", "cond_sigma_range": [0.0, 0.02], "cond_noise_prob": 0.5})
    return copy.deepcopy({
        "_target_": "videoflextok.resamplers.video_wrappers.VideoFlowMatchingResampler",
        "vae": {"_target_": "videoflextok.compressors.vidtok.VidTokVAE", "images_read_key": "rgb",
                "vae_latents_read_key": "vae_latents_reconst", "vae_latents_write_key": "vae_latents",
                "images_reconst_write_key": "rgb_reconst", "tokenizer_id": vidtok_id,
                "compile": False, "force_vae_encode": False,
                **({} if latent_scale is None else {"latent_scale": [float(v) for v in latent_scale]})},
        "encoder": {"_target_": _M + "utils.wrappers.SequentialModuleDictWrapper", "module_dict": encoder},
        "decoder": {"_target_": _M + "utils.wrappers.SequentialModuleDictWrapper", "module_dict": decoder},
        "regularizer": {"_target_": "videoflextok.regularizers.quantize_fsq.FSQ", "latents_read_key": "enc_registers_latents",
                        "quants_write_key": "quants", "tokens_write_key": "tokens", "levels": list(LEVELS)},
        "flow_matching_noise_module": noise,
        "pipeline": {"_target_": "videoflextok.flow_matching.pipelines.VideoMinRFPipeline", "_partial_": True,
                     "target_sizes_read_key": "vae_video_sizes", "latents_read_key": "quants",
                     "timesteps_read_key": "timesteps", "noised_videos_read_key": "vae_latents_noised",
                     "reconst_write_key": "vae_latents_reconst", "out_channels": c, "zero_noise": False,
                     "cond_vae_latents_key": "cond_vae_latents"},
    })
