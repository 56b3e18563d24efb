"""Model configs: typed dataclasses, the reader of official VidTok YAML files, bundled configs.

An official config file is read as published, including OmegaConf-style interpolations such as
`${model.params.encoder_config.params}`. Unknown or missing keys give a `ConfigError` that names
them. The 23 official model configs are bundled and found by name:
`load_model_config("vidtok_kl_causal_488_4chn")`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Mapping

from flax.core import FrozenDict

from vidtok_jax.errors import ConfigError
from vidtok_jax.runtime.config_files import check_keys, find_named_file, read_yaml_file
from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_DIR

BUNDLED_DIR = Path(__file__).resolve().parent / "model_configs"

ENGINE_TARGETS = {
    "vidtok.models.autoencoder.AutoencodingEngine": "1.0",
    "vidtok.models.autoencoder_v1_1.AutoencodingEngine": "1.1",
}
# target -> (role, causal, version)
NET_TARGETS = {
    "vidtok.modules.model_3dcausal.EncoderCausal3DPadding": ("encoder", True, "1.0"),
    "vidtok.modules.model_3dcausal.DecoderCausal3DPadding": ("decoder", True, "1.0"),
    "vidtok.modules.model_3dcausal_v1_1.EncoderCausal3DPadding": ("encoder", True, "1.1"),
    "vidtok.modules.model_3dcausal_v1_1.DecoderCausal3DPadding": ("decoder", True, "1.1"),
    "vidtok.modules.model_3dnoncausal.Encoder3D": ("encoder", False, "1.0"),
    "vidtok.modules.model_3dnoncausal.Decoder3D": ("decoder", False, "1.0"),
}
KL_TARGET = "vidtok.modules.regularizers.DiagonalGaussianRegularizer"
FSQ_TARGET = "vidtok.modules.regularizers.FSQRegularizer"

_TOP_KEYS = {"model", "data", "lightning"}
_MODEL_KEYS = {"base_learning_rate", "target", "params"}
_ENGINE_KEYS = {
    "encoder_config", "decoder_config", "regularizer_config", "loss_config", "monitor", "mode",
    "ignore_keys", "ckpt_path", "ema_decay", "input_key", "optimizer_config", "lr_g_factor",
    "compile_model", "use_tiling", "t_chunk_enc", "verbose",
}
_NET_REQUIRED = {"ch", "out_ch", "num_res_blocks", "in_channels", "z_channels"}
_NET_KEYS = _NET_REQUIRED | {
    "ch_mult", "double_z", "norm_type", "time_downsample_factor", "init_pad_mode",
    "interpolation_mode", "spatial_ds", "spatial_us", "tempo_ds", "tempo_us", "dropout",
    "resamp_with_conv", "tanh_out", "give_pre_end", "use_checkpoint", "fix_encoder", "fix_decoder",
}
_FSQ_KEYS = {
    "levels", "dim", "num_codebooks", "keep_num_codebooks_dim", "scale", "entropy_loss_weight",
    "entropy_loss_annealing_steps", "entropy_loss_annealing_factor", "commitment_loss_weight",
    "diversity_gamma",
}


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Architecture of an encoder or decoder (the official `encoder_config.params`)."""

    ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    z_channels: int
    in_channels: int = 3
    out_ch: int = 3
    double_z: bool = True
    norm_type: str = "groupnorm"
    causal: bool = True
    version: str = "1.0"
    time_downsample_factor: int = 4
    init_pad_mode: str = "replicate"
    interpolation_mode: str = "nearest"
    spatial_ds: tuple[int, ...] | None = None
    tempo_ds: tuple[int, ...] | None = None
    spatial_us: tuple[int, ...] | None = None
    tempo_us: tuple[int, ...] | None = None
    tanh_out: bool = False

    @property
    def num_levels(self) -> int:
        return len(self.ch_mult)

    @property
    def down_levels(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(levels with spatial downsampling, levels with temporal downsampling) of the encoder."""
        n = self.num_levels
        spatial = tuple(range(n - 1)) if self.spatial_ds is None else self.spatial_ds
        tempo = (n - 2, n - 3) if self.tempo_ds is None else self.tempo_ds
        return spatial, tuple(level for level in tempo if level in spatial)

    @property
    def up_levels(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(levels with spatial upsampling, levels with temporal upsampling) of the decoder."""
        n = self.num_levels
        if self.causal:
            spatial = tuple(range(1, n)) if self.spatial_us is None else self.spatial_us
        else:
            spatial = tuple(range(1, n))
        tempo = (1, 2) if self.tempo_us is None else self.tempo_us
        return spatial, tuple(level for level in tempo if level in spatial)

    def time_padding(self, num_frames: int) -> int:
        """Frames a causal encoder prepends so a clip of ``num_frames`` divides into latent frames."""
        factor = self.time_downsample_factor
        if not self.causal or num_frames % factor == 0:
            return 0
        return factor - 1 if self.version == "1.0" else factor - num_frames % factor

    @property
    def pad_mode(self) -> str:
        """How causal layers pad time: zeros (v1.0) or copies of the first frame (v1.1)."""
        return "replicate" if self.version == "1.1" else "zeros"


@dataclasses.dataclass(frozen=True)
class RegularizerConfig:
    """The bottleneck: diagonal Gaussian ("kl") or finite scalar quantization ("fsq")."""

    kind: str
    levels: tuple[int, ...] = ()
    entropy_loss_weight: float = 0.0
    entropy_loss_annealing_steps: int = 0
    entropy_loss_annealing_factor: float = 1.0
    commitment_loss_weight: float = 0.0
    diversity_gamma: float = 1.0

    @property
    def codebook_size(self) -> int:
        size = 1
        for level in self.levels:
            size *= level
        return size


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A whole tokenizer: encoder, decoder, regularizer, and the training loss settings."""

    name: str
    encoder: NetConfig
    decoder: NetConfig
    regularizer: RegularizerConfig
    loss: FrozenDict = dataclasses.field(default_factory=FrozenDict)
    base_learning_rate: float = 1e-5

    @property
    def causal(self) -> bool:
        return self.encoder.causal

    @property
    def version(self) -> str:
        return self.encoder.version

    @property
    def spatial_factor(self) -> int:
        return 2 ** len(self.encoder.down_levels[0])

    @property
    def temporal_factor(self) -> int:
        return 2 ** len(self.encoder.down_levels[1])

    @property
    def latent_channels(self) -> int:
        return self.encoder.z_channels

    @property
    def is_fsq(self) -> bool:
        return self.regularizer.kind == "fsq"

    # Frame rules: every module asks these instead of computing them.

    def frame_count_problem(self, num_frames: int) -> str | None:
        """Why the encoder cannot take a clip of ``num_frames`` frames (with the nearest counts it takes), or None.

        Non-causal models take multiples of the temporal factor f; v1.0 causal models 1 + k·f (or k·f,
        which decodes to one frame fewer); v1.1 causal models any count (the encoder pads the front).
        """
        f = self.temporal_factor
        if num_frames < 1:
            return f"a clip needs at least one frame, got {num_frames}"
        if not self.causal and num_frames % f:
            return (f"non-causal {self.name} needs a frame count divisible by {f}, got {num_frames}: use "
                    f"{max(f, num_frames // f * f)} or {-(-num_frames // f) * f}")
        if self.causal and (num_frames + self.encoder.time_padding(num_frames)) % f:
            low = (num_frames - 1) // f * f + 1
            return f"v1.0 causal {self.name} takes 1 + {f}k frames, got {num_frames}: use {low} or {low + f}"
        return None

    def latent_frames(self, num_frames: int) -> int:
        """Latent frames of a clip of ``num_frames`` frames (a count the encoder takes)."""
        return (num_frames + self.encoder.time_padding(num_frames)) // self.temporal_factor

    def causal_length(self, num_frames: int) -> int:
        """The smallest 1 + k·f frames that hold ``num_frames`` (what a causal video is padded to for every version)."""
        f = self.temporal_factor
        return 1 + f * -(-(num_frames - 1) // f)

    @property
    def leading_decoded_frames(self) -> int:
        """Frames a decoder gives before a 1 + k·f clip's first frame: v1.1 causal decoders return the encoder's padding."""
        return self.temporal_factor - 1 if self.causal and self.version == "1.1" else 0


_INTERPOLATION = re.compile(r"\$\{([^}]+)\}")


def _resolve_interpolations(doc: Any) -> Any:
    """Replace `${a.b.c}` references by the node they name, as OmegaConf does."""

    def lookup(path: str, stack: tuple[str, ...]):
        if path in stack:
            raise ConfigError(f"circular interpolation ${{{path}}}")
        node = doc
        for part in path.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ConfigError(f"interpolation ${{{path}}} names a key that does not exist")
        return resolve(node, stack + (path,))

    def resolve(node, stack=()):
        if isinstance(node, Mapping):
            return {k: resolve(v, stack) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, stack) for v in node]
        if isinstance(node, str):
            whole = _INTERPOLATION.fullmatch(node.strip())
            if whole:
                return lookup(whole.group(1).strip(), stack)
            return _INTERPOLATION.sub(lambda m: str(lookup(m.group(1).strip(), stack)), node)
        return node

    return resolve(doc)


def _int_tuple(value, key: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise ConfigError(f"'{key}' must be a list of integers, got {value!r}")
    return tuple(value)


def _net_config(section: str, cfg: Mapping, role: str) -> NetConfig:
    check_keys(section, cfg, {"target", "params"}, {"target", "params"})
    target = cfg["target"]
    if target not in NET_TARGETS:
        raise ConfigError(f"{section}.target '{target}' is not a VidTok network; known: "
                          f"{', '.join(sorted(NET_TARGETS))}")
    target_role, causal, version = NET_TARGETS[target]
    if target_role != role:
        raise ConfigError(f"{section}.target '{target}' is a {target_role}, expected a {role}")
    p = cfg["params"]
    check_keys(f"{section}.params", p, _NET_KEYS, _NET_REQUIRED)
    if not p.get("resamp_with_conv", True):
        raise ConfigError(f"{section}.params.resamp_with_conv=false is not supported")
    if p.get("give_pre_end", False):
        raise ConfigError(f"{section}.params.give_pre_end=true is not supported")
    if not causal and any(p.get(k) is not None for k in ("spatial_ds", "spatial_us", "tempo_ds", "tempo_us")):
        raise ConfigError(f"{section}: non-causal networks have fixed resampling levels; "
                          "remove spatial_ds/spatial_us/tempo_ds/tempo_us")
    norm_type = p.get("norm_type", "groupnorm")
    if norm_type not in ("layernorm", "groupnorm"):
        raise ConfigError(f"{section}.params.norm_type must be layernorm or groupnorm, got {norm_type!r}")
    interpolation = p.get("interpolation_mode", "nearest") if version == "1.1" else "nearest"
    if interpolation not in ("nearest", "trilinear"):
        raise ConfigError(f"{section}.params.interpolation_mode must be nearest or trilinear")
    init_pad = p.get("init_pad_mode", "replicate")
    if init_pad not in ("replicate", "constant"):
        raise ConfigError(f"{section}.params.init_pad_mode must be replicate or constant")
    net = NetConfig(
        ch=int(p["ch"]), ch_mult=_int_tuple(p.get("ch_mult", [1, 2, 4, 8]), "ch_mult"),
        num_res_blocks=int(p["num_res_blocks"]), z_channels=int(p["z_channels"]),
        in_channels=int(p["in_channels"]), out_ch=int(p["out_ch"]),
        double_z=bool(p.get("double_z", True)), norm_type=norm_type, causal=causal,
        version=version, time_downsample_factor=int(p.get("time_downsample_factor", 4)),
        init_pad_mode=init_pad, interpolation_mode=interpolation,
        spatial_ds=_int_tuple(p.get("spatial_ds"), "spatial_ds"),
        tempo_ds=_int_tuple(p.get("tempo_ds"), "tempo_ds"),
        spatial_us=_int_tuple(p.get("spatial_us"), "spatial_us"),
        tempo_us=_int_tuple(p.get("tempo_us"), "tempo_us"),
        tanh_out=bool(p.get("tanh_out", False)),
    )
    check_net(net, role, section)
    return net


def check_net(net: NetConfig, role: str, where: str) -> None:
    """The rules a network's sizes must meet together (its resampling levels, its norm's channel groups)."""
    temporal = (net.down_levels if role == "encoder" else net.up_levels)[1]
    if 2 ** len(temporal) != net.time_downsample_factor:
        raise ConfigError(
            f"{where}: the {role}'s time_downsample_factor={net.time_downsample_factor} does not match its "
            f"{len(temporal)} temporal resampling level(s) {list(temporal)} (factor {2 ** len(temporal)})")
    if net.norm_type == "groupnorm" and any((net.ch * m) % 32 for m in net.ch_mult):
        raise ConfigError(f"{where}: groupnorm needs channel counts divisible by 32")


def _regularizer_config(cfg: Mapping, z_channels: int) -> RegularizerConfig:
    check_keys("model.params.regularizer_config", cfg, {"target", "params"}, {"target"})
    target, p = cfg["target"], cfg.get("params") or {}
    if target == KL_TARGET:
        check_keys("model.params.regularizer_config.params", p, {"sample"})
        return RegularizerConfig(kind="kl")
    if target != FSQ_TARGET:
        raise ConfigError(f"model.params.regularizer_config.target '{target}' is unknown; known: "
                          f"{KL_TARGET}, {FSQ_TARGET}")
    check_keys("model.params.regularizer_config.params", p, _FSQ_KEYS, {"levels"})
    levels = _int_tuple(p["levels"], "levels")
    if p.get("num_codebooks", 1) != 1 or p.get("scale") is not None:
        raise ConfigError("FSQ with num_codebooks != 1 or a scale is not supported")
    if p.get("dim", len(levels)) != len(levels) or z_channels != len(levels):
        raise ConfigError(f"FSQ with {len(levels)} levels needs z_channels={len(levels)} "
                          f"(got {z_channels}); projections are not supported")
    return RegularizerConfig(
        kind="fsq", levels=levels,
        entropy_loss_weight=float(p.get("entropy_loss_weight", 0.0)),
        entropy_loss_annealing_steps=int(p.get("entropy_loss_annealing_steps", 0)),
        entropy_loss_annealing_factor=float(p.get("entropy_loss_annealing_factor", 1.0)),
        commitment_loss_weight=float(p.get("commitment_loss_weight", 0.0)),
        diversity_gamma=float(p.get("diversity_gamma", 1.0)),
    )


def _freeze(value):
    if isinstance(value, Mapping):
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def model_config_from_dict(doc: Mapping, name: str = "custom") -> ModelConfig:
    """Build a `ModelConfig` from a parsed official config document."""
    doc = _resolve_interpolations(doc)
    check_keys("the config file", doc, _TOP_KEYS, {"model"})
    model = doc["model"]
    check_keys("model", model, _MODEL_KEYS, {"target", "params"})
    if model["target"] not in ENGINE_TARGETS:
        raise ConfigError(f"model.target '{model['target']}' is not a VidTok autoencoder; known: "
                          f"{', '.join(sorted(ENGINE_TARGETS))}")
    params = model["params"]
    check_keys("model.params", params, _ENGINE_KEYS,
                {"encoder_config", "decoder_config", "regularizer_config"})
    encoder = _net_config("model.params.encoder_config", params["encoder_config"], "encoder")
    decoder = _net_config("model.params.decoder_config", params["decoder_config"], "decoder")
    if (encoder.causal, encoder.version) != (decoder.causal, decoder.version):
        raise ConfigError("encoder and decoder must be of the same family (causal/non-causal, v1.0/v1.1)")
    if encoder.version != ENGINE_TARGETS[model["target"]] and encoder.causal:
        raise ConfigError(f"model.target '{model['target']}' does not match the v{encoder.version} networks")
    if encoder.z_channels != decoder.z_channels:
        raise ConfigError("encoder and decoder z_channels differ")
    regularizer = _regularizer_config(params["regularizer_config"], encoder.z_channels)
    if regularizer.kind == "kl" and not encoder.double_z:
        raise ConfigError("a KL (diagonal Gaussian) model needs double_z: true in the encoder")
    if regularizer.kind == "fsq" and encoder.double_z:
        raise ConfigError("an FSQ model needs double_z: false in the encoder")
    return ModelConfig(
        name=name, encoder=encoder, decoder=decoder, regularizer=regularizer,
        loss=_freeze(params.get("loss_config") or {}),
        base_learning_rate=float(model.get("base_learning_rate", 1e-5)),
    )


def bundled_config_names() -> list[str]:
    """Names of the bundled official model configs."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))


def load_model_config(config: str | Path | ModelConfig) -> ModelConfig:
    """Read a config: a `ModelConfig`, a YAML file path, or the name of a bundled config (or of the default model)."""
    if isinstance(config, ModelConfig):
        return config
    path = find_named_file(config, (BUNDLED_DIR, DEFAULT_MODEL_DIR), "model config")
    doc = read_yaml_file(path)
    try:
        return model_config_from_dict(doc, name=path.stem)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
