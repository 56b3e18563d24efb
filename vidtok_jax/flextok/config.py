"""VideoFlexTok configs: the official Hydra config read as data into typed dataclasses.

An official VideoFlexTok file carries its config as a Hydra tree of `_target_` entries naming the
official modules (`videoflextok.model...PatchEmbedder` and so on). Nothing in it is executed:
`flextok_config_from_dict` walks the tree, accepts only the official module names that this
port implements, checks every argument name against the official constructor, and refuses
anything else with a `ConfigError` naming the key. The names of the modules in the official
`module_dict`s are kept: they are the parameter names, so a released state dict maps onto our
Flax parameters one to one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from vidtok_jax.errors import ConfigError
from vidtok_jax.runtime.checked_values import finite_number, whole_number
from vidtok_jax.runtime.config_files import check_keys, required_value

_PREFIX = "videoflextok."
TOP_TARGETS = ("videoflextok.wrappers.VideoFlexTok", "videoflextok.resamplers.video_wrappers.VideoFlowMatchingResampler")
# VidTok stage id -> bundled config: the official one, and this package's bundled model (a file over it is ours)
VIDTOK_IDS = {"vidtok_kl_causal_488_16chn": "vidtok_kl_causal_488_16chn", "vidtok_jax_default": "vidtok_jax_default"}
# `vae.latent_scale` (this port's extension): the per-channel scale the VidTok latents are divided by
# before the VideoFlexTok reads them (and multiplied by after it samples); official files have none.
LATENT_SCALE_KEY = "latent_scale"
# `code_norm` on the encoder's head (this port's extension): its outputs are divided by their RMS over the
# code dims of each token, so the values FSQ bounds can neither shrink to one code nor saturate.
CODE_NORM_KEY = "code_norm"
# `linear_code: [h, w]` on both heads (this port's extension, for models of one latent frame size h x w): the
# encoder adds a linear map of each whole latent frame to its register values before FSQ, and the decoder
# predicts the clean latents as a linear read-out of the kept codes plus its head's output (its velocity
# follows from that prediction); `flextok/linear_code.py` initialises both maps to a linear code of the data.
LINEAR_CODE_KEY = "linear_code"

# Official constructor arguments of every module this port reads (keys other than `_target_`).
_ARGS = {
    "model.utils.wrappers.SequentialModuleDictWrapper": {"module_dict"},
    "model.utils.dict_ops.PerSampleOp": {"read_key", "write_key", "per_sample_op"},
    "model.preprocessors.patching.PatchEmbedder": {
        "input_tensor_list_read_key", "patches_list_write_key", "n_patches_write_key", "patch_sizes",
        "channels_in", "dim", "flatten_patches", "weight_init_style"},
    "model.utils.posembs.PositionalEmbeddingAdder": {
        "read_key", "write_key", "dim", "max_sizes", "posemb_type", "posemb_scaling", "posemb_write_key"},
    "model.preprocessors.registers.RegistersTemporal2D": {
        "input_tensor_list_read_key", "register_sizes_read_write_key", "registers_write_key", "dim", "t_max",
        "n_min", "n_max", "n_eval", "size_sampling_mode", "ordering_mode", "extra_registers_write_key",
        "extra_registers_dim"},
    "model.preprocessors.flex_seq_packing.BlockWiseSequenceInterleavePacker": {
        "input_list_read_keys", "packed_seq_write_key", "block_mask_write_key", "inner_packed_shapes_write_key",
        "outer_packed_shapes_write_key", "mask_mode", "max_seq_len", "pad_to_multiple", "emb_packing_fn_write_key",
        "per_subseq_embs", "compile_block_mask", "cross_timestep_attention_config", "repa_block_mask_write_key",
        "repa_mask_mode", "repa_patch_index"},
    "model.trunks.transformers.FlexTransformer": {
        "input_seq_read_key", "output_seq_write_key", "dim", "depth", "head_dim", "mlp_ratio", "qkv_bias",
        "proj_bias", "mlp_bias", "drop", "drop_path_rate", "act_layer", "norm_layer", "gated_mlp", "qk_norm",
        "use_act_checkpoint", "weight_init_style", "zero_init_query_proj", "block_mask_read_key",
        "score_mod_read_key", "adaLN_emb_read_key", "adaLN_packing_fn_read_key", "adaLN_expansion",
        "rope_forward_read_key", "intermediate_layer_write_key", "intermediate_layers"},
    "model.postprocessors.seq_unpacking.SequenceInterleavedUnpacker": {
        "packed_seq_read_key", "inner_seq_write_keys", "inner_packed_shapes_read_key", "outer_packed_shapes_read_key"},
    "model.postprocessors.heads.LinearHead": {
        "read_key", "write_key", "dim", "dim_out", "use_mup_readout", "weight_init_style", "norm_layer",
        "dtype_override", "adaLN_emb_read_key", "adaLN_packing_fn_read_key", "adaLN_bias", "proj_bias", CODE_NORM_KEY,
        LINEAR_CODE_KEY},
    "model.postprocessors.heads.ToPatchesLinearHead": {
        "read_key", "write_key", "dim", "channels_out", "patch_sizes", "use_mup_readout", "weight_init_style",
        "norm_layer", "dtype_override", "adaLN_emb_read_key", "adaLN_packing_fn_read_key", "adaLN_bias", "proj_bias",
        LINEAR_CODE_KEY},
    "model.preprocessors.linear.LinearLayer": {
        "read_key", "write_key", "dim_in", "dim", "weight_init_style", "dtype_override", "proj_bias"},
    "model.preprocessors.token_dropout.MaskedNestedDropout": {
        "read_write_key", "dim", "eval_keep_k_read_key", "train_keep_k_write_key", "size_sampling_mode", "zipf_a"},
    "model.preprocessors.token_dropout.MaskedPrefixDropout": {
        "read_write_key", "dim", "prefix_len_read_key", "eval_prefix_len_read_key"},
    "model.preprocessors.nullcond.LearnedNullCond": {
        "read_write_key", "dim", "eval_drop_flag_read_key", "dropout_prob", "replace_with_single_token"},
    "model.preprocessors.time_embedding.TimestepEmbedder": {
        "timesteps_read_key", "time_embedding_write_key", "dim", "frequency_embedding_size", "weight_init_style",
        "max_timestep", "temb_as_tokens"},
    "regularizers.quantize_fsq.FSQ": {
        "latents_read_key", "quants_write_key", "tokens_write_key", "levels", "drop_quant_p", "corrupt_tokens_p",
        "min_corrupt_tokens_p", "apply_corrupt_tokens_p", "packed_call"},
    "compressors.vidtok.VidTokVAE": {
        "images_read_key", "vae_latents_read_key", "vae_latents_write_key", "images_reconst_write_key",
        "tokenizer_id", "compile", "chunk_size", "force_vae_encode", LATENT_SCALE_KEY},
    "flow_matching.pipelines.VideoMinRFPipeline": {
        "_partial_", "noise_read_key", "target_sizes_read_key", "latents_read_key", "timesteps_read_key",
        "noised_videos_read_key", "reconst_write_key", "out_channels", "zero_noise", "cond_vae_latents_key"},
    "flow_matching.noise_modules.MinRFNoiseModule": {
        "clean_images_read_key", "noised_images_write_key", "timesteps_write_key", "sigmas_write_key", "ln",
        "stratisfied", "mode_scale", "noise_write_key", "noise_read_key"},
    "flow_matching.noise_modules.PrefixMinRFNoiseModule": {
        "clean_images_read_key", "noised_images_write_key", "timesteps_write_key", "sigmas_write_key", "ln",
        "stratisfied", "mode_scale", "noise_write_key", "noise_read_key", "prefix_len", "keep_prefix_prob",
        "loss_mask_write_key", "prefix_len_write_key", "cond_sigma_range", "cond_noise_prob"},
}
_TOP_KEYS = {"_target_", "vae", "encoder", "decoder", "regularizer", "flow_matching_noise_module", "pipeline"}
_POSEMB_TYPES = ("learnable_sum", "learnable_prod", "sincos")
MASK_MODES = ("full", "causal", "time_block_causal", "time_block_causal_last")
_CHANNEL_OPS = ("videoflextok.model.utils.dict_ops.channels_first_to_last",
                "videoflextok.model.utils.dict_ops.channels_last_to_first")


@dataclasses.dataclass(frozen=True)
class PosembConfig:
    """A positional-embedding adder: the sum (or product) of one learned table per axis, or 2-D sin-cos."""

    name: str
    kind: str
    max_sizes: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class TrunkConfig:
    """A pre-norm transformer trunk (optionally adaLN-modulated) and its attention mask mode."""

    name: str
    dim: int
    depth: int
    head_dim: int
    mlp_hidden: int
    gated_mlp: bool
    qk_norm: bool
    qkv_bias: bool
    proj_bias: bool
    mlp_bias: bool
    mask_mode: str
    adaln_expansion: int = 0  # 0: no adaLN (encoder); else one modulation per packed sub-sequence

    @property
    def num_heads(self) -> int:
        return self.dim // self.head_dim


@dataclasses.dataclass(frozen=True)
class PatchConfig:
    name: str
    patch_sizes: tuple[int, int, int]
    channels_in: int
    dim: int


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    patch: PatchConfig
    posemb: PosembConfig
    registers_name: str
    t_max: int
    num_registers: int        # registers per latent frame at inference (n_eval, default n_max)
    max_registers: int        # n_max: size of the learned register table
    trunk: TrunkConfig
    head_name: str
    head_bias: bool
    code_dim: int
    head_init: str = "zero"   # the head's weight_init_style: "zero" (official) or "xavier" (tokens vary from the start)
    code_norm: bool = False   # this port's extension: RMS-normalise each token's values before FSQ
    linear_code: tuple[int, int] | None = None  # this port's extension: the latent frame size of the linear map


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    from_codes_name: str
    from_codes_bias: bool
    register_posemb: PosembConfig | None
    nested_dropout_name: str
    keep_k_sampling: str
    prefix_masking_name: str | None
    nullcond_name: str
    nullcond_dropout: float
    patch: PatchConfig
    posemb: PosembConfig
    time_embedder_name: str
    frequency_size: int
    max_timestep: float
    trunk: TrunkConfig
    head_name: str
    head_adaln: bool
    head_adaln_bias: bool
    head_bias: bool
    linear_code: tuple[int, int] | None = None  # this port's extension: clean latents read linearly from the codes
    code_registers: int = 0  # the encoder's registers per latent frame (the linear read-out's input, R x code_dim)


@dataclasses.dataclass(frozen=True)
class FlexTokConfig:
    """A whole VideoFlexTok: VidTok stage, encoder, FSQ, flow decoder, sampler and training knobs."""

    vidtok_id: str
    encoder: EncoderConfig
    decoder: DecoderConfig
    levels: tuple[int, ...]
    zero_noise: bool
    noise_module: Mapping[str, Any] | None
    raw: Mapping[str, Any]
    latent_scale: tuple[float, ...] | None = None

    @property
    def latent_channels(self) -> int:
        return self.encoder.patch.channels_in

    @property
    def num_registers(self) -> int:
        return self.encoder.num_registers

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)


MAX_SIZE = 1 << 16  # any single size (width, depth, registers, table length) far beyond the releases
MAX_PARAMETERS = 20_000_000_000  # the parameter budget a config may imply (the largest release has about 1e9)


def _whole(value: Any, where: str, key: str, low: int = 1, high: int = MAX_SIZE) -> int:
    return whole_number(value, f"{where}.{key}", low, high)


def _sizes(value: Any, where: str, key: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}.{key} must be a list of whole numbers, got {value!r}")
    return tuple(_whole(v, where, f"{key}[{i}]") for i, v in enumerate(value))


def _number(value: Any, where: str, key: str, low: float, high: float) -> float:
    return finite_number(value, f"{where}.{key}", low, high)


def _short(target: Any, where: str) -> str:
    if not isinstance(target, str) or not target.startswith(_PREFIX) or target[len(_PREFIX):] not in _ARGS:
        raise ConfigError(f"{where}._target_ = {target!r} is not an official VideoFlexTok module this port "
                          f"implements (refused: configs are data, nothing is executed)")
    return target[len(_PREFIX):]


def _module(spec: Any, where: str, expected: str | tuple[str, ...]) -> dict:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a mapping with a _target_, got {type(spec).__name__}")
    short = _short(spec.get("_target_"), where)
    wanted = (expected,) if isinstance(expected, str) else expected
    if not any(short.endswith(e) for e in wanted):
        raise ConfigError(f"{where} is a {short.rsplit('.', 1)[-1]}; this position needs a "
                          f"{' or '.join(wanted)}")
    check_keys(where, spec, _ARGS[short] | {"_target_"})
    return dict(spec)


def _unsupported(where: str, key: str, value: Any, supported: str) -> ConfigError:
    return ConfigError(f"{where}.{key} = {value!r} is not supported by this port ({supported})")


def _check_default(spec: Mapping, where: str, defaults: Mapping[str, Any]) -> None:
    for key, default in defaults.items():
        if key in spec and spec[key] != default:
            raise _unsupported(where, key, spec[key], f"only {default!r}, the official default")


def _posemb(name: str, spec: Mapping, where: str, n_dim: int) -> PosembConfig:
    kind = spec.get("posemb_type", "sincos")
    if kind not in _POSEMB_TYPES:
        raise _unsupported(where, "posemb_type", kind, ", ".join(_POSEMB_TYPES))
    if spec.get("posemb_scaling", "absolute") != "absolute":
        raise _unsupported(where, "posemb_scaling", spec["posemb_scaling"], "only 'absolute' cropping")
    sizes = _sizes(required_value(spec, "max_sizes", where), where, "max_sizes")
    if len(sizes) != n_dim:
        raise ConfigError(f"{where}.max_sizes has {len(sizes)} entries; this position has {n_dim} axes")
    if kind != "sincos" and len(set(sizes)) != 1:
        raise ConfigError(f"{where}.max_sizes must all be equal for learnable posembs (official rule)")
    if kind == "sincos" and n_dim != 2:
        raise ConfigError(f"{where}: sin-cos posembs are 2-D only (official rule)")
    return PosembConfig(name, kind, sizes)


def _patch(name: str, spec: Mapping, where: str) -> PatchConfig:
    sizes = _sizes(required_value(spec, "patch_sizes", where), where, "patch_sizes")
    if len(sizes) != 3:
        raise ConfigError(f"{where}.patch_sizes must be [t, h, w]")
    if spec.get("flatten_patches", True):
        raise _unsupported(where, "flatten_patches", spec.get("flatten_patches", True), "patches stay [t, h, w]")
    return PatchConfig(name, sizes, _whole(required_value(spec, "channels_in", where), where, "channels_in"),
                       _whole(required_value(spec, "dim", where), where, "dim"))


def _trunk(name: str, spec: Mapping, packer: Mapping, where: str, packer_where: str, adaln: bool) -> TrunkConfig:
    _check_default(spec, where, {"act_layer": None, "norm_layer": None, "rope_forward_read_key": None,
                                 "score_mod_read_key": None})
    mode = packer.get("mask_mode", "full")
    if mode not in MASK_MODES:
        raise _unsupported(packer_where, "mask_mode", mode, ", ".join(MASK_MODES))
    dim, head_dim = _whole(required_value(spec, "dim", where), where, "dim"), _whole(spec.get("head_dim", 64), where, "head_dim")
    if dim % head_dim:
        raise ConfigError(f"{where}: dim {dim} is not a multiple of head_dim {head_dim}")
    gated = bool(spec.get("gated_mlp", True))
    hidden = max(1, int(dim * _number(spec.get("mlp_ratio", 4.0), where, "mlp_ratio", 0.0, 64.0)))
    expansion = 0
    if adaln:
        if not spec.get("adaLN_emb_read_key"):
            raise ConfigError(f"{where}.adaLN_emb_read_key is missing: the flow decoder needs the timestep")
        if not packer.get("per_subseq_embs") or not packer.get("emb_packing_fn_write_key"):
            raise _unsupported(packer_where, "per_subseq_embs", packer.get("per_subseq_embs"),
                               "the decoder packs one adaLN embedding per sub-sequence (official: True)")
        expansion = _whole(spec.get("adaLN_expansion", 1), where, "adaLN_expansion")
        if expansion != len(packer["input_list_read_keys"]):
            raise ConfigError(f"{where}.adaLN_expansion = {expansion} must equal the number of packed "
                              f"sub-sequences ({len(packer['input_list_read_keys'])})")
    elif spec.get("adaLN_emb_read_key"):
        raise _unsupported(where, "adaLN_emb_read_key", spec["adaLN_emb_read_key"], "the encoder has no adaLN")
    return TrunkConfig(
        name=name, dim=dim, depth=_whole(spec.get("depth", 12), where, "depth", high=4096), head_dim=head_dim,
        mlp_hidden=int(2 * hidden / 3) if gated else hidden, gated_mlp=gated, qk_norm=bool(spec.get("qk_norm", True)),
        qkv_bias=bool(spec.get("qkv_bias", False)), proj_bias=bool(spec.get("proj_bias", False)),
        mlp_bias=bool(spec.get("mlp_bias", False)), mask_mode=mode, adaln_expansion=expansion)


def _steps(module_dict: Any, where: str, plan: list[tuple[str, str | tuple[str, ...], bool]]) -> dict[str, tuple[str, dict]]:
    """Match an official `module_dict` against the order this port implements.

    `plan` lists (role, official class name(s), required); returns role -> (module name, spec).
    """
    if not isinstance(module_dict, Mapping) or not module_dict:
        raise ConfigError(f"{where}.module_dict must be a non-empty mapping of modules")
    items = list(module_dict.items())
    for name, spec in items:
        _short(spec.get("_target_") if isinstance(spec, Mapping) else None, f"{where}.module_dict.{name}")
    found, i = {}, 0
    for role, expected, required in plan:
        names = (expected,) if isinstance(expected, str) else expected
        if i < len(items) and isinstance(items[i][1], Mapping):
            target = str(items[i][1].get("_target_", ""))
            if any(target.endswith("." + n) for n in names):
                name, spec = items[i]
                found[role] = (name, _module(spec, f"{where}.module_dict.{name}", names))
                i += 1
                continue
        if required:
            got = f"'{items[i][0]}'" if i < len(items) else "the end of the module list"
            raise ConfigError(f"{where}.module_dict: expected a {' or '.join(names)} ({role}) at position {i + 1}, "
                              f"found {got}; this port implements the official module order only")
    if i < len(items):
        name = items[i][0]
        raise ConfigError(f"{where}.module_dict.{name} is not expected at position {i + 1} "
                          "(this port implements the official module order only)")
    return found


def _channel_op(spec: Mapping, where: str) -> None:
    op = spec.get("per_sample_op")
    if not isinstance(op, Mapping) or op.get("_target_") not in _CHANNEL_OPS:
        raise _unsupported(where, "per_sample_op", op, "only the official channel moves")


def _wrapped_steps(spec: Mapping, where: str, plan: list) -> tuple[dict, Any, Any]:
    """The steps of an official `SequentialModuleDictWrapper`, with the name and the config path of each role."""
    steps = _steps(_module(spec, where, "SequentialModuleDictWrapper").get("module_dict"), where, plan)
    return steps, (lambda role: steps[role][0]), (lambda role: f"{where}.module_dict.{steps[role][0]}")


def _encoder(spec: Mapping) -> EncoderConfig:
    steps, name, w = _wrapped_steps(spec, "encoder", [
        ("channels_last", "PerSampleOp", False), ("patch", "PatchEmbedder", True),
        ("posemb", "PositionalEmbeddingAdder", True), ("registers", "RegistersTemporal2D", True),
        ("packer", "BlockWiseSequenceInterleavePacker", True), ("trunk", "FlexTransformer", True),
        ("unpacker", "SequenceInterleavedUnpacker", True), ("head", "LinearHead", True)])
    if "channels_last" in steps:
        _channel_op(steps["channels_last"][1], w("channels_last"))
    regs = steps["registers"][1]
    if regs.get("ordering_mode", "nested") != "nested":
        raise _unsupported(w("registers"), "ordering_mode", regs["ordering_mode"], "only 'nested'")
    if regs.get("extra_registers_write_key"):
        raise _unsupported(w("registers"), "extra_registers_write_key", regs["extra_registers_write_key"], "none")
    n_max = _whole(required_value(regs, "n_max", w("registers")), w("registers"), "n_max")
    head = steps["head"][1]
    _check_default(head, w("head"), {"use_mup_readout": False, "norm_layer": None, "adaLN_emb_read_key": None})
    packer = steps["packer"][1]
    _check_packer_order(packer, steps["patch"][1], regs, w("packer"))
    return EncoderConfig(
        patch=_patch(name("patch"), steps["patch"][1], w("patch")),
        posemb=_posemb(name("posemb"), steps["posemb"][1], w("posemb"), 3),
        registers_name=name("registers"), t_max=_whole(required_value(regs, "t_max", w("registers")), w("registers"), "t_max"),
        num_registers=_whole(regs.get("n_eval") or n_max, w("registers"), "n_eval"), max_registers=n_max,
        trunk=_trunk(name("trunk"), steps["trunk"][1], packer, w("trunk"), w("packer"), adaln=False),
        head_name=name("head"), head_bias=bool(head.get("proj_bias", True)),
        code_dim=_whole(required_value(head, "dim_out", w("head")), w("head"), "dim_out"),
        head_init=_head_init(head, w("head")), code_norm=_flag(head, CODE_NORM_KEY, w("head")),
        linear_code=_linear_code(head, w("head")))


def _flag(spec: Mapping, key: str, where: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def _linear_code(head: Mapping, where: str) -> tuple[int, int] | None:
    """A head's `linear_code`: absent (None) or the latent frame size ``[h, w]`` of its linear map."""
    value = head.get(LINEAR_CODE_KEY)
    if value is None:
        return None
    size = _sizes(value, where, LINEAR_CODE_KEY)
    if len(size) != 2:
        raise ConfigError(f"{where}.{LINEAR_CODE_KEY} must be a latent frame size [h, w], got {value!r}")
    return size


def _head_init(head: Mapping, where: str) -> str:
    style = head.get("weight_init_style", "zero")
    if style not in ("zero", "xavier"):
        raise ConfigError(f"{where}: weight_init_style {style!r} is not supported (zero or xavier)")
    return style


def _check_packer_order(packer: Mapping, patch: Mapping, registers_or_key: Mapping | str, where: str) -> None:
    """The packer must interleave [patches, registers] in that order (official layout)."""
    keys = list(required_value(packer, "input_list_read_keys", where))
    regs_key = registers_or_key if isinstance(registers_or_key, str) else registers_or_key.get("registers_write_key")
    if keys != [patch.get("patches_list_write_key"), regs_key]:
        raise ConfigError(f"{where}.input_list_read_keys = {keys}: this port packs [patches, registers], "
                          f"i.e. [{patch.get('patches_list_write_key')!r}, {regs_key!r}]")
    if packer.get("repa_block_mask_write_key") or packer.get("cross_timestep_attention_config"):
        raise _unsupported(where, "repa/cross_timestep options", "set", "none (training-only extras)")


def _decoder(spec: Mapping) -> DecoderConfig:
    steps, name, w = _wrapped_steps(spec, "decoder", [
        ("from_codes", "LinearLayer", True), ("register_posemb", "PositionalEmbeddingAdder", False),
        ("nested_dropout", "MaskedNestedDropout", True), ("prefix", "MaskedPrefixDropout", False),
        ("nullcond", "LearnedNullCond", True), ("channels_last", "PerSampleOp", False),
        ("patch", "PatchEmbedder", True), ("posemb", "PositionalEmbeddingAdder", True),
        ("time", "TimestepEmbedder", True), ("packer", "BlockWiseSequenceInterleavePacker", True),
        ("trunk", "FlexTransformer", True), ("unpacker", "SequenceInterleavedUnpacker", True),
        ("head", "ToPatchesLinearHead", True), ("channels_first", "PerSampleOp", False)])
    for role in ("channels_last", "channels_first"):
        if role in steps:
            _channel_op(steps[role][1], w(role))
    null = steps["nullcond"][1]
    _check_default(null, w("nullcond"), {"replace_with_single_token": False})
    if null.get("eval_drop_flag_read_key", "eval_dropout_mask") != "eval_dropout_mask":
        raise _unsupported(w("nullcond"), "eval_drop_flag_read_key", null["eval_drop_flag_read_key"],
                           "the official pipeline sets 'eval_dropout_mask'")
    head = steps["head"][1]
    _check_default(head, w("head"), {"use_mup_readout": False, "norm_layer": None, "adaLN_packing_fn_read_key": None})
    time = steps["time"][1]
    _check_default(time, w("time"), {"temb_as_tokens": False})
    patch = _patch(name("patch"), steps["patch"][1], w("patch"))
    head_patches = _sizes(required_value(head, "patch_sizes", w("head")), w("head"), "patch_sizes")
    if head_patches != patch.patch_sizes or required_value(head, "channels_out", w("head")) != patch.channels_in:
        raise ConfigError(f"{w('head')}: patch_sizes/channels_out must match {w('patch')} "
                          "(the decoder predicts the velocity of its input)")
    packer = steps["packer"][1]
    from_codes = steps["from_codes"][1]
    _check_packer_order(packer, steps["patch"][1], str(from_codes.get("write_key")), w("packer"))
    return DecoderConfig(
        from_codes_name=name("from_codes"), from_codes_bias=bool(from_codes.get("proj_bias", True)),
        register_posemb=(_posemb(name("register_posemb"), steps["register_posemb"][1], w("register_posemb"), 2)
                         if "register_posemb" in steps else None),
        nested_dropout_name=name("nested_dropout"),
        keep_k_sampling=str(steps["nested_dropout"][1].get("size_sampling_mode", "uniform")),
        prefix_masking_name=name("prefix") if "prefix" in steps else None,
        nullcond_name=name("nullcond"),
        nullcond_dropout=_number(null.get("dropout_prob", 0.0), w("nullcond"), "dropout_prob", 0.0, 1.0),
        patch=patch, posemb=_posemb(name("posemb"), steps["posemb"][1], w("posemb"), 3),
        time_embedder_name=name("time"),
        frequency_size=_whole(time.get("frequency_embedding_size", 256), w("time"), "frequency_embedding_size", 2),
        max_timestep=_number(time.get("max_timestep", 1000.0), w("time"), "max_timestep", 1e-6, 1e9),
        trunk=_trunk(name("trunk"), steps["trunk"][1], packer, w("trunk"), w("packer"), adaln=True),
        head_name=name("head"), head_adaln=bool(head.get("adaLN_emb_read_key")),
        head_adaln_bias=bool(head.get("adaLN_bias", True)), head_bias=bool(head.get("proj_bias", True)),
        linear_code=_linear_code(head, w("head")))


def flextok_config_from_dict(doc: Any) -> FlexTokConfig:
    """Validate an official VideoFlexTok Hydra config (a plain dict) and type it: every size and type is checked
    and the implied parameter count budgeted; anything malformed is a one-line `ConfigError`."""
    try:
        return _config_from_dict(doc)
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ZeroDivisionError, OverflowError,
            RecursionError) as error:  # a value of the wrong kind where the checks above expect another
        raise ConfigError(f"malformed VideoFlexTok config ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
                          ) from None


def _config_from_dict(doc: Any) -> FlexTokConfig:
    if not isinstance(doc, Mapping):
        raise ConfigError("a VideoFlexTok config must be a mapping")
    if doc.get("_target_") not in TOP_TARGETS:
        raise ConfigError(f"_target_ = {doc.get('_target_')!r} is not a VideoFlexTok model "
                          f"(expected one of {', '.join(TOP_TARGETS)})")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("vae", "encoder", "decoder", "regularizer", "pipeline"):
        required_value(doc, key, "config")
    vae = _module(doc["vae"], "vae", "VidTokVAE")
    vidtok_id = required_value(vae, "tokenizer_id", "vae")
    if vidtok_id not in VIDTOK_IDS:
        raise _unsupported("vae", "tokenizer_id", vidtok_id, ", ".join(VIDTOK_IDS))
    fsq = _module(doc["regularizer"], "regularizer", "FSQ")
    pipeline = _module(doc["pipeline"], "pipeline", "VideoMinRFPipeline")
    noise = doc.get("flow_matching_noise_module")
    if noise is not None:
        noise = _module(noise, "flow_matching_noise_module", ("MinRFNoiseModule", "PrefixMinRFNoiseModule"))
    encoder, decoder = _encoder(doc["encoder"]), _decoder(doc["decoder"])
    levels = tuple(_whole(level, "regularizer", f"levels[{i}]", low=2, high=1 << 12)
                   for i, level in enumerate(required_value(fsq, "levels", "regularizer") or [None]))
    if encoder.code_dim != len(levels):
        raise ConfigError(f"encoder head dim_out {encoder.code_dim} must equal the number of FSQ levels {len(levels)}")
    if decoder.patch.channels_in != encoder.patch.channels_in:
        raise ConfigError("encoder and decoder patch embedders must read the same number of latent channels")
    if encoder.num_registers > encoder.max_registers:
        raise ConfigError(f"encoder registers: n_eval {encoder.num_registers} > n_max {encoder.max_registers}")
    if encoder.linear_code != decoder.linear_code:
        raise ConfigError(f"the encoder's and the decoder's head must have the same {LINEAR_CODE_KEY} (the latent frame "
                          f"size of the linear code), got {encoder.linear_code} and {decoder.linear_code}")
    decoder = dataclasses.replace(decoder, code_registers=encoder.num_registers)
    _check_budget(encoder, decoder, levels)
    return FlexTokConfig(vidtok_id=VIDTOK_IDS[vidtok_id], encoder=encoder, decoder=decoder, levels=levels,
                         zero_noise=bool(pipeline.get("zero_noise", False)), noise_module=noise, raw=doc,
                         latent_scale=_latent_scale(vae.get(LATENT_SCALE_KEY), encoder.patch.channels_in))


def _check_budget(encoder: EncoderConfig, decoder: DecoderConfig, levels: tuple[int, ...]) -> None:
    """Refuse, from the shapes alone (nothing is allocated), a config whose parameters or largest table are out of
    all proportion (a file that asks for terabytes must fail here, not in numpy or XLA)."""
    if math.prod(levels) > 1 << 31:
        raise ConfigError(f"regularizer.levels {list(levels)} give {math.prod(levels)} codes: more than int32 ids hold")
    total = 0
    for trunk in (encoder.trunk, decoder.trunk):
        total += trunk.depth * (4 * trunk.dim * trunk.dim + 3 * trunk.dim * trunk.mlp_hidden)
    tables = {"encoder posemb": _posemb_size(encoder.posemb, encoder.trunk.dim),
              "decoder posemb": _posemb_size(decoder.posemb, decoder.trunk.dim),
              "encoder registers": encoder.max_registers * encoder.t_max * encoder.trunk.dim}
    if encoder.linear_code:
        tables["linear code"] = (2 * math.prod(encoder.linear_code) * encoder.patch.channels_in * encoder.num_registers
                                 * len(levels))
    largest = max(tables, key=tables.get)
    if tables[largest] > MAX_PARAMETERS // 10 or total + sum(tables.values()) > MAX_PARAMETERS:
        raise ConfigError(f"this config implies {total + sum(tables.values()):.3g} parameters (largest table: "
                          f"{largest}, {tables[largest]:.3g}); the limit is {MAX_PARAMETERS:.3g}: is a size mistyped?")


def _posemb_size(posemb: PosembConfig, dim: int) -> int:
    """Entries of a posemb's table: the whole sin-cos grid, or one learned row per axis."""
    sizes = posemb.max_sizes
    return math.prod(sizes) * dim if posemb.kind == "sincos" else len(sizes) * sizes[0] * dim


def _latent_scale(value: Any, channels: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and len(value) == channels and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in value)
    if not ok:
        raise ConfigError(f"vae.{LATENT_SCALE_KEY} must be {channels} positive finite numbers (one per latent "
                          f"channel), got {value!r}")
    return tuple(float(v) for v in value)
