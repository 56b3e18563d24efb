"""Training configs: YAML presets shipped in ``vidtok_jax/train/presets/`` with ``--set key=value`` overrides, checked up front.

A training config names the model (a bundled official config or a YAML file, plus ``model.net``
overrides applied to both encoder and decoder) and sets data, optimizer, loss, schedule,
checkpointing, logging and mesh. Every section has defaults (``DEFAULTS``); a key that is not in
them, a value of the wrong kind, or settings that cannot work together (stage 2 without an init
checkpoint, a causal clip length that is not 1 + k·temporal factor, a frame size that is not a
multiple of the spatial factor, a batch that does not split over the data-parallel devices) raise
``ConfigError`` before anything is built.

The loss starts from the official ``GeneralLPIPSWithDiscriminator`` defaults, takes the model
config's ``loss_config.params``, then the training config's ``loss`` section. ``disc_start`` keeps
its official meaning: a Lightning global step, which counts the generator's and the
discriminator's optimizer steps, so the GAN terms start at training step ``disc_start / 2``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import jax
import yaml

from vidtok_jax.errors import ConfigError
from vidtok_jax.runtime.config_files import (find_named_file, read_yaml, read_yaml_file, require,
                                             unknown_key_error)
from vidtok_jax.vidtok.config import ModelConfig, NetConfig, check_net, load_model_config
from vidtok_jax.vidtok.default_model import weights_path
from vidtok_jax.vidtok.tokenizer import COMPUTE_DTYPES

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def _convs_saveable(primitive, *_, **__) -> bool:
    return primitive in (jax.lax.conv_general_dilated_p, jax.lax.dot_general_p)


# model.remat: "none", "blocks" (nn.remat of each residual block), or one of these jax.checkpoint policies,
# applied to the encoder and the decoder each.
CHECKPOINT_POLICIES = {
    "full": jax.checkpoint_policies.nothing_saveable,
    "dots_saveable": jax.checkpoint_policies.dots_saveable,
    "convs_saveable": _convs_saveable,
}
REMAT_POLICIES = ("none", "blocks", *CHECKPOINT_POLICIES)
SCHEDULES = ("constant", "warmup", "cosine")
DATA_SOURCES = ("videos", "synthetic", "latents")
REGULARIZATION_LOSSES = ("kl_loss", "aux_loss")

# The official GeneralLPIPSWithDiscriminator defaults, plus `disc_channels` (its fixed ndf = 64).
OFFICIAL_LOSS_DEFAULTS = {
    "disc_start": 0, "logvar_init": 0.0, "pixelloss_weight": 1.0, "disc_num_layers": 3, "disc_in_channels": 3,
    "disc_factor": 1.0, "disc_weight": 1.0, "disc_type": "3d", "perceptual_weight": 1.0,
    "lecam_loss_weight": 0.0, "disc_loss": "hinge", "scale_input_to_tgt_size": False, "dims": 2,
    "learn_logvar": False, "regularization_weights": {}, "gen_loss_cross_entropy": False, "disc_channels": 64,
}

FAMILIES = ("vidtok", "videoflextok")


def _empty() -> Any:
    """A field whose default is a new empty dict."""
    return dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelSection:
    """``config``: a bundled model config name or a YAML file; ``net``: overrides of encoder and decoder fields."""

    config: str | None = None
    net: Mapping[str, Any] = _empty()
    dtype: str = "bfloat16"
    remat: str = "none"


@dataclasses.dataclass(frozen=True)
class InitSection:
    """``checkpoint``: weights to start from; ``posterior_logvar``: the initial log-variance of a new KL model;
    ``decoder_depth``: a VideoFlexTok's decoder grown to this many blocks from ``checkpoint``'s (the new blocks
    start as the identity, so the grown model computes what the checkpoint did)."""

    checkpoint: str | None = None
    posterior_logvar: float | None = None
    decoder_depth: int | None = None


@dataclasses.dataclass(frozen=True)
class DataSection:
    """Where the training clips come from (``source``: videos, synthetic or latents) and their shape."""

    source: str = "videos"
    data_dir: str | list[str] | None = None
    meta_path: str | None = None
    num_frames: int = 17
    sample_fps: float = 3.0
    height: int = 128
    width: int = 128
    batch_size: int = 2
    seed: int = 0
    num_workers: int = 0


@dataclasses.dataclass(frozen=True)
class EvalSection:
    every: int = 500
    data_dir: str | None = None
    meta_path: str | None = None
    batch_size: int = 2
    seed: int = 12345


@dataclasses.dataclass(frozen=True)
class OptimizerSection:
    """Adam settings; ``learning_rate`` null takes the model config's ``base_learning_rate``."""

    learning_rate: float | None = None
    lr_g_factor: float = 1.0
    disc_learning_rate: float | None = None
    schedule: str = "constant"
    warmup_steps: int = 0
    end_factor: float = 0.0
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    grad_clip: float = 20.0
    ema_decay: float | None = None


@dataclasses.dataclass(frozen=True)
class CheckpointSection:
    """``async_`` is the YAML key ``async`` (saved in the background)."""

    every: int = 500
    keep: int = 3
    keep_best: bool = True
    async_: bool = True


@dataclasses.dataclass(frozen=True)
class LogSection:
    """``sync_every_step``: fetch the metrics after every step, so a NaN is caught at its own step (slower: the
    host waits for the device each step); otherwise they are fetched on log, eval and checkpoint steps only."""

    every: int = 10
    images_every: int = 500
    tensorboard: bool = True
    sync_every_step: bool = False


@dataclasses.dataclass(frozen=True)
class MeshSection:
    """Devices along the data-parallel axes; -1 takes all the remaining devices."""

    data: int = -1
    fsdp: int = 1


@dataclasses.dataclass(frozen=True)
class FlexTokSection:
    """Settings of family ``videoflextok`` (model.config is then the frozen VidTok stage).

    ``shape`` sizes the VideoFlexTok (the arguments of ``vidtok_jax.flextok.presets.flextok_hydra_config``)
    unless init.checkpoint is an official VideoFlexTok file to fine-tune; ``eval_steps``: sampler steps of
    the evaluation PSNR. ``keep_sampling``: how nested dropout draws k per clip: the model config's mode
    when null, else pow2, uniform or none (always all R tokens: the control without nested dropout);
    ``keep_all_fraction``: the fraction of clips that keep all R tokens whatever keep_sampling draws (0:
    none, as official). ``sigma_location``: mean of the logit-normal noise levels (0: the official
    sampling; > 0 draws more levels near pure noise, where only the tokens tell clips apart).
    ``latent_scale``: the per-channel scale the VidTok latents are divided by (null: none, as the official
    models; auto: the standard deviation of each channel of the data.source=latents shards).
    ``code_penalty``: weight of the mean square of the encoder's values before FSQ (0: none, as official).
    ``readout_weight``: weight of a linear read-out of the latents from the kept token codes, trained beside
    the model and dropped at export (0: none, as official; see ``vidtok_jax.flextok.objective``).
    ``readout``: ``learned`` (that read-out is trained) or ``pca``: it is fixed to the decoder of the linear
    code of the data.source=latents shards (``vidtok_jax.flextok.linear_code``), which trains the encoder
    towards that code.
    ``linear_code``: a fresh model gets the ``linear_code`` extension (its encoder maps each latent frame
    linearly into its register values, its decoder predicts clean latents as a linear read-out of the kept
    codes plus a learned correction; ``vidtok_jax.flextok.modules``), both maps initialised to the linear
    code of the data.source=latents shards and held fixed; the transformers learn what the code misses.
    """

    shape: Mapping[str, Any] = _empty()
    vidtok_checkpoint: str | None = None
    eval_steps: int = 8
    keep_sampling: str | None = None
    sigma_location: float = 0.0
    latent_scale: str | list[float] | None = None
    code_penalty: float = 0.0
    readout_weight: float = 0.0
    readout: str = "learned"
    keep_all_fraction: float = 0.0
    linear_code: bool = False


def _yaml_key(field: dataclasses.Field) -> str:
    return field.name.removesuffix("_")


def _section_defaults(section: type) -> dict:
    return {_yaml_key(f): f.default_factory() if f.default is dataclasses.MISSING else f.default
            for f in dataclasses.fields(section)}


def _section(section: type, values: Mapping[str, Any]):
    return section(**{f.name: values[_yaml_key(f)] for f in dataclasses.fields(section)})


SECTIONS = {"model": ModelSection, "init": InitSection, "data": DataSection, "eval": EvalSection,
            "optimizer": OptimizerSection, "checkpoint": CheckpointSection, "log": LogSection,
            "mesh": MeshSection, "flextok": FlexTokSection}
SCALARS = {"family": "vidtok", "stage": 1, "steps": 1000, "seed": 0}
# The whole config document with every default; `loss` is free-form (checked against OFFICIAL_LOSS_DEFAULTS).
DEFAULTS: dict[str, Any] = {**SCALARS, **{name: _section_defaults(cls) for name, cls in SECTIONS.items()}, "loss": {}}


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """The resolved loss settings (official names; see the module doc for ``disc_start``)."""

    disc_start: int
    logvar_init: float
    pixelloss_weight: float
    disc_num_layers: int
    disc_in_channels: int
    disc_factor: float
    disc_weight: float
    disc_type: str
    perceptual_weight: float
    lecam_loss_weight: float
    disc_loss: str
    scale_input_to_tgt_size: bool
    dims: int
    learn_logvar: bool
    regularization_weights: Mapping[str, float]
    gen_loss_cross_entropy: bool
    disc_channels: int

    @property
    def gan_start_step(self) -> int:
        """First training step whose generator loss has the GAN term (official global step 2·step)."""
        return -(-self.disc_start // 2)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole, checked training config: a typed section per YAML section (``cfg.data.batch_size``),
    ``loss`` the resolved loss and ``model_config`` the resolved model (with ``model.net`` applied)."""

    family: str
    stage: int
    steps: int
    seed: int
    model: ModelSection
    init: InitSection
    data: DataSection
    eval: EvalSection
    optimizer: OptimizerSection
    checkpoint: CheckpointSection
    log: LogSection
    mesh: MeshSection
    flextok: FlexTokSection
    loss: LossConfig
    model_config: ModelConfig

    def to_dict(self) -> dict:
        """The config as a document ``load_train_config`` reads back (the loss resolved)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in SCALARS}
        for name in SECTIONS:
            section = getattr(self, name)
            out[name] = copy.deepcopy({_yaml_key(f): getattr(section, f.name) for f in dataclasses.fields(section)})
        out["loss"] = dataclasses.asdict(self.loss)
        return out


FREE_FORM = {("model", "net"), ("loss",), ("loss", "regularization_weights"), ("flextok", "shape")}


def merge(base: Mapping, update: Mapping, path: tuple[str, ...] = ()) -> dict:
    """``base`` updated by ``update``; keys outside ``base`` are errors except in free-form sections."""
    if not isinstance(update, Mapping):
        raise ConfigError(f"'{'.'.join(path)}' must be a mapping, got {update!r}")
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        child = path + (key,)
        if key not in out and path not in FREE_FORM:
            raise unknown_key_error(".".join(path), [key], out)
        if isinstance(value, Mapping) and (child in FREE_FORM or isinstance(out.get(key), Mapping)):
            out[key] = merge(out.get(key) or {}, value, child)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """``"a.b.c=value"`` → ``{"a": {"b": {"c": value}}}``, the value read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set takes key=value, got '{text}'")
    key, value = text.split("=", 1)
    try:
        parsed = read_yaml(value) if value else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key}: '{value}' is not a YAML value ({err})") from None
    tree: dict = {}
    node = tree
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = parsed
    return tree


def find_preset(config: str | Path) -> Path:
    """A YAML file path, or the name of a preset shipped in the package."""
    return find_named_file(config, (PRESET_DIR,), "training config")


def load_train_config(config: str | Path | Mapping, overrides: list[str] = ()) -> TrainConfig:
    """Read, merge and check a training config (a preset name, a YAML path, or a mapping)."""
    if isinstance(config, Mapping):
        doc = config
    else:
        doc = read_yaml_file(find_preset(config)) or {}
    raw = merge(DEFAULTS, doc)
    for text in overrides:
        raw = merge(raw, parse_override(text))
    return check(raw)


def _typed(raw: Mapping, section: str, key: str, kind, positive: bool = False):
    value = raw[section][key] if section else raw[key]
    name = f"{section}.{key}" if section else key
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    require(ok, f"'{name}' must be {kind.__name__ if isinstance(kind, type) else kind}, got {value!r}")
    if positive:
        require(value > 0, f"'{name}' must be positive, got {value}")
    return value


def model_config_from_section(section: Mapping) -> ModelConfig:
    """The model config named by ``model.config`` with ``model.net`` applied to encoder and decoder."""
    require(section["config"] is not None, "'model.config' is required: a bundled model config name or a YAML file")
    model = load_model_config(section["config"])
    net = dict(section["net"] or {})
    fields = {f.name for f in dataclasses.fields(NetConfig)}
    for key in net:
        if key not in fields:
            raise unknown_key_error("model.net", [key], fields)
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in net.items()}
    try:
        encoder = dataclasses.replace(model.encoder, **tuples)
        decoder = dataclasses.replace(model.decoder, **tuples)
    except TypeError as err:
        raise ConfigError(f"model.net: {err}") from None
    check_net(encoder, "encoder", "model.net")
    check_net(decoder, "decoder", "model.net")
    return dataclasses.replace(model, encoder=encoder, decoder=decoder)


def loss_config(model: ModelConfig, overrides: Mapping) -> LossConfig:
    official = dict((model.loss or {}).get("params", {}) or {})
    values = merge(merge(OFFICIAL_LOSS_DEFAULTS, official, ("loss",)), overrides, ("loss",))
    for key in values:
        if key not in OFFICIAL_LOSS_DEFAULTS:
            raise unknown_key_error("loss", [key], OFFICIAL_LOSS_DEFAULTS)
    weights = dict(values["regularization_weights"] or {})
    for key in weights:
        if key not in REGULARIZATION_LOSSES:
            raise unknown_key_error("loss.regularization_weights", [key], REGULARIZATION_LOSSES)
    values["regularization_weights"] = {k: float(v) for k, v in weights.items()}
    require(values["disc_type"] in ("2d", "3d"), f"loss.disc_type must be 2d or 3d, got {values['disc_type']!r}")
    require(values["disc_loss"] in ("hinge", "vanilla"), f"loss.disc_loss must be hinge or vanilla, got {values['disc_loss']!r}")
    require(values["dims"] == 3, f"loss.dims must be 3 (videos, LPIPS per frame), got {values['dims']}")
    require(values["disc_in_channels"] == 3, "loss.disc_in_channels must be 3 (RGB)")
    require(not values["scale_input_to_tgt_size"], "loss.scale_input_to_tgt_size is not supported")
    require(isinstance(values["disc_num_layers"], int) and values["disc_num_layers"] >= 1,
             f"loss.disc_num_layers must be a positive integer, got {values['disc_num_layers']!r}")
    require(isinstance(values["disc_channels"], int) and values["disc_channels"] >= 1,
             f"loss.disc_channels must be a positive integer, got {values['disc_channels']!r}")
    for key in ("disc_start", "logvar_init", "disc_factor", "disc_weight", "perceptual_weight", "lecam_loss_weight"):
        require(isinstance(values[key], (int, float)) and not isinstance(values[key], bool),
                 f"loss.{key} must be a number, got {values[key]!r}")
    return LossConfig(**values)


def _check_family_and_model(raw: dict, model: ModelConfig) -> None:
    require(raw["family"] in FAMILIES, f"family must be one of {FAMILIES}, got {raw['family']!r}")
    if raw["family"] == "videoflextok":
        require(raw["stage"] == 1 and not raw["loss"] and not raw["model"]["net"],
                 "family videoflextok trains the VideoFlexTok over a frozen VidTok (model.config): stage, loss and "
                 "model.net do not apply")
        _typed(raw, "flextok", "eval_steps", int, positive=True)
        keep = raw["flextok"]["keep_sampling"]
        require(keep in (None, "pow2", "uniform", "none"),
                 f"flextok.keep_sampling must be pow2, uniform or none (or null: the model config's), got {keep!r}")
        location = _typed(raw, "flextok", "sigma_location", float)
        require(math.isfinite(location) and abs(location) <= 4,
                 f"flextok.sigma_location must be a finite number in [-4, 4], got {location}")
        for key in ("code_penalty", "readout_weight"):
            weight = _typed(raw, "flextok", key, float)
            require(math.isfinite(weight) and weight >= 0, f"flextok.{key} must be a finite number >= 0, got {weight}")
        readout = raw["flextok"]["readout"]
        require(readout in ("learned", "pca"), f"flextok.readout must be learned or pca, got {readout!r}")
        require(readout == "learned" or (raw["flextok"]["readout_weight"] > 0 and raw["data"]["source"] == "latents"),
                 "flextok.readout: pca fits the linear code to the data.source=latents shards and needs "
                 "flextok.readout_weight > 0")
        if _typed(raw, "flextok", "linear_code", bool):
            require(raw["data"]["source"] == "latents" and raw["init"]["checkpoint"] is None
                    and not raw["flextok"]["shape"].get("code_norm"),
                    "flextok.linear_code fits the linear code to the data.source=latents shards for a fresh model "
                    "(init.checkpoint null) whose codes are not RMS-normalised (flextok.shape.code_norm false)")
        fraction = _typed(raw, "flextok", "keep_all_fraction", float)
        require(0 <= fraction <= 1, f"flextok.keep_all_fraction must be a number in [0, 1], got {fraction}")
        scale = raw["flextok"]["latent_scale"]
        require(scale in (None, "auto") or (isinstance(scale, list) and scale and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in scale)),
                 f"flextok.latent_scale must be null, auto or a list of positive numbers (one per latent channel), "
                 f"got {scale!r}")
    require(raw["model"]["dtype"] in COMPUTE_DTYPES,
             f"model.dtype must be one of {COMPUTE_DTYPES}, got {raw['model']['dtype']!r}")
    require(raw["model"]["remat"] in REMAT_POLICIES,
             f"model.remat must be one of {REMAT_POLICIES}, got {raw['model']['remat']!r}")
    require(raw["stage"] in (1, 2), f"stage must be 1 (whole model) or 2 (decoder only), got {raw['stage']!r}")
    init = raw["init"]["checkpoint"]
    require(raw["stage"] == 1 or init is not None,
             "stage 2 trains the decoder of a stage-1 model: set init.checkpoint to a stage-1 workdir or checkpoint")
    require(init is None or weights_path(init).exists(), f"init.checkpoint {init} does not exist")
    if raw["init"]["decoder_depth"] is not None:
        _typed(raw, "init", "decoder_depth", int, positive=True)
        require(raw["family"] == "videoflextok" and init is not None,
                 "init.decoder_depth grows the decoder of a VideoFlexTok that init.checkpoint names: set both, "
                 "with family: videoflextok")
    logvar = raw["init"]["posterior_logvar"]
    if logvar is not None:
        _typed(raw, "init", "posterior_logvar", float)
        require(init is None and not model.is_fsq and model.encoder.double_z,
                 "init.posterior_logvar sets the initial posterior variance of a freshly initialised KL model: "
                 "remove it with init.checkpoint or an FSQ model")


def _check_data(raw: dict, model: ModelConfig) -> None:
    data = raw["data"]
    require(data["source"] in DATA_SOURCES, f"data.source must be one of {DATA_SOURCES}, got {data['source']!r}")
    require(data["source"] != "videos" or data["data_dir"] is not None,
             "data.source=videos needs data.data_dir (a folder of videos, or the root of data.meta_path's paths)")
    require(data["source"] == "latents" or data["data_dir"] is None or isinstance(data["data_dir"], str),
             f"data.data_dir={data['data_dir']!r}: a list of folders is for data.source=latents; name one folder")
    if data["source"] == "latents":
        require(raw["family"] == "videoflextok", "data.source=latents (a frozen VidTok's latents from 'vidtok-jax "
                 "encode-dir') trains a second stage over a VidTok: set family: videoflextok, or read videos")
        require(data["data_dir"] is not None and raw["eval"]["data_dir"] is not None,
                 "data.source=latents needs data.data_dir (an encode-dir output folder, or a list of them) and "
                 "eval.data_dir (videos: evaluation decodes back to pixels)")
    for key in ("num_frames", "height", "width", "batch_size"):
        _typed(raw, "data", key, int, positive=True)
    _typed(raw, "data", "sample_fps", float, positive=True)
    frames, f, s = data["num_frames"], model.temporal_factor, model.spatial_factor
    if model.causal:
        require((frames - 1) % f == 0, f"data.num_frames={frames}: causal {model.name} trains on 1 + {f}k frames "
                 f"(e.g. {(frames - 1) // f * f + 1} or {((frames - 1) // f + 1) * f + 1})")
    else:
        require(frames % f == 0, f"data.num_frames={frames}: non-causal {model.name} needs a multiple of {f}")
    for key in ("height", "width"):
        require(data[key] % s == 0, f"data.{key}={data[key]} must be a multiple of the spatial factor {s}")
        require(data[key] >= 16, f"data.{key}={data[key]}: LPIPS-VGG needs frames of at least 16 pixels")


def _check_mesh(raw: dict) -> None:
    data = raw["data"]
    mesh = raw["mesh"]
    for key in ("data", "fsdp"):
        _typed(raw, "mesh", key, int)
        require(mesh[key] == -1 or mesh[key] >= 1, f"mesh.{key} must be -1 (all remaining devices) or >= 1")
    require(not (mesh["data"] == -1 and mesh["fsdp"] == -1), "only one of mesh.data and mesh.fsdp may be -1")
    fixed = (mesh["data"] if mesh["data"] > 0 else 1) * (mesh["fsdp"] if mesh["fsdp"] > 0 else 1)
    require(data["batch_size"] % fixed == 0, f"data.batch_size={data['batch_size']} must be divisible by the "
             f"data-parallel mesh size mesh.data x mesh.fsdp = {fixed}")
    require(raw["eval"]["batch_size"] % fixed == 0, f"eval.batch_size={raw['eval']['batch_size']} must be "
             f"divisible by the data-parallel mesh size {fixed}")


def _check_schedule(raw: dict) -> None:
    opt = raw["optimizer"]
    require(opt["schedule"] in SCHEDULES, f"optimizer.schedule must be one of {SCHEDULES}, got {opt['schedule']!r}")
    if opt["learning_rate"] is not None:
        _typed(raw, "optimizer", "learning_rate", float, positive=True)
    _typed(raw, "optimizer", "grad_clip", float, positive=True)
    _typed(raw, "optimizer", "warmup_steps", int)
    steps = _typed(raw, "", "steps", int, positive=True)
    require(opt["schedule"] != "cosine" or opt["warmup_steps"] < steps,
             f"optimizer.warmup_steps={opt['warmup_steps']} must be below steps={steps} for a cosine schedule")
    require(opt["ema_decay"] is None or 0 < opt["ema_decay"] < 1, "optimizer.ema_decay must be in (0, 1) or null")

    for key in ("every", "keep"):
        _typed(raw, "checkpoint", key, int, positive=True)
    for key in ("every", "images_every"):
        _typed(raw, "log", key, int, positive=True)
    _typed(raw, "eval", "every", int, positive=True)
    _typed(raw, "", "seed", int)


def check(raw: dict) -> TrainConfig:
    """Turn a merged config document into a `TrainConfig`, or raise `ConfigError` saying what is wrong."""
    model = model_config_from_section(raw["model"])
    _check_family_and_model(raw, model)
    _check_data(raw, model)
    _check_mesh(raw)
    _check_schedule(raw)
    return TrainConfig(**{name: raw[name] for name in SCALARS},
                       **{name: _section(cls, raw[name]) for name, cls in SECTIONS.items()},
                       loss=loss_config(model, raw["loss"]), model_config=model)
