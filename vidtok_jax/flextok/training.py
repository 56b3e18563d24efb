"""Training VideoFlexTok with the engine that trains VidTok (``family: videoflextok`` in a training config).

A frozen VidTok (``model.config``, weights from ``flextok.vidtok_checkpoint`` or the bundled
model's) turns each clip into latents inside the jitted step; the VideoFlexTok encoder and decoder
train on them with the flow-matching objective of `objective.py` (Adam, the engine's schedules,
gradient clipping, EMA). The model is sized by ``flextok.shape`` (the official config layout of
`presets.flextok_hydra_config`), or is an official VideoFlexTok file given as ``init.checkpoint``
(fine-tuning; a previous VideoFlexTok workdir works too). Evaluation samples the eval clips' latents
back from all their tokens (``flextok.eval_steps`` Euler steps, no guidance, fixed noise), decodes
them with the VidTok stage and reports ``eval_psnr`` against the clips, the flow loss at a fixed
draw (``eval_flow_loss``: all R tokens, official noise levels, whatever the training recipe, so runs
compare), and ``eval_token_gain``: that loss with another clip's tokens minus it with the clip's
own (positive once the decoder uses what its tokens say). ``train.py export`` writes an
official-format VideoFlexTok file (or a Hub folder, which also says the clip size).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct, traverse_util

from vidtok_jax.checkpoints.workdir import read_checkpoint
from vidtok_jax.data.latent_shards import latent_folders, read_latent_shards, read_shard_index
from vidtok_jax.errors import ConfigError
from vidtok_jax.flextok.checkpoint import FLEXTOK_DOCUMENT, HUB_WEIGHTS, read_flextok_file, split_state
from vidtok_jax.flextok.config import LINEAR_CODE_KEY, VIDTOK_IDS, flextok_config_from_dict
from vidtok_jax.flextok.linear_code import fit_linear_code, latent_frame_crops, linear_code_maps
from vidtok_jax.flextok.model import flextok_param_shapes, init_flextok_params, sampler_for
from vidtok_jax.flextok.modules import FlexDecoder, FlexEncoder, official
from vidtok_jax.flextok.objective import FlowObjective, flow_matching_loss, init_readout
from vidtok_jax.flextok.presets import flextok_hydra_config
from vidtok_jax.flextok.sampler import Guidance
from vidtok_jax.metrics.psnr import psnr_per_frame
from vidtok_jax.train.config import TrainConfig
from vidtok_jax.train.mesh import PRNG_IMPL
from vidtok_jax.train.optimizer import ema_update, generator_optimizer
from vidtok_jax.vidtok.config import RegularizerConfig
from vidtok_jax.vidtok.default_model import with_default_weights
from vidtok_jax.vidtok.quantizers import FSQ
from vidtok_jax.vidtok.tokenizer import compute_dtype, load_tokenizer, tree_size



EVAL_OBJECTIVE = FlowObjective(keep_sampling="none")


@struct.dataclass
class FlexTrainState:
    step: jax.Array
    params: dict
    opt: object
    ema: dict
    rng: jax.Array


def _is_workdir(source) -> bool:
    """A training workdir, as opposed to an official file or a Hub folder (`model.safetensors` beside `config.json`)."""
    return Path(source).is_dir() and not (Path(source) / HUB_WEIGHTS).is_file()


def _hydra_config(config: TrainConfig, latent_channels: int, vidtok_name: str, latent_scale,
                  frame_size: tuple[int, int]) -> dict:
    source = config.init.checkpoint
    if source is not None and config.flextok.latent_scale is not None:
        raise ConfigError("flextok.latent_scale is set by the model that init.checkpoint names: leave it null")
    if source is not None:
        document = read_checkpoint(source, None)[2][FLEXTOK_DOCUMENT] if _is_workdir(source) else read_flextok_file(source)[0]
        return with_decoder_depth(document, config.init.decoder_depth)
    shape = dict(config.flextok.shape)
    allowed = set(inspect.signature(flextok_hydra_config).parameters) - {"latent_channels", "vidtok_id", "latent_scale",
                                                                         "linear_code"}
    unknown = sorted(set(shape) - allowed)
    if unknown or not shape:
        raise ConfigError(f"flextok.shape needs the VideoFlexTok's sizes ({', '.join(sorted(allowed))})"
                          + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    if "patch" in shape:
        shape["patch"] = tuple(shape["patch"])
    if config.flextok.linear_code:
        shape["linear_code"] = frame_size
    vidtok_id = vidtok_name if vidtok_name in VIDTOK_IDS else "vidtok_kl_causal_488_16chn"
    try:
        return flextok_hydra_config(**shape, latent_channels=latent_channels, vidtok_id=vidtok_id,
                                    latent_scale=latent_scale)
    except TypeError as err:
        raise ConfigError(f"flextok.shape: {err}") from None


def with_decoder_depth(document: dict, depth: int | None) -> dict:
    """The official config ``document`` with ``depth`` decoder blocks (``init.decoder_depth``; None: as it is)."""
    if depth is None:
        return document
    document = copy.deepcopy(document)
    transformer = document["decoder"]["module_dict"]["dec_transformer"]
    if depth < transformer["depth"]:
        raise ConfigError(f"init.decoder_depth={depth}: init.checkpoint's decoder has {transformer['depth']} blocks; "
                          "it can grow, not shrink")
    transformer["depth"] = depth
    return document


def with_identity_blocks(loaded: dict, fresh: dict) -> dict:
    """``fresh``'s parameter tree (a model with more decoder blocks) holding ``loaded``'s values wherever ``loaded``
    has them. The blocks only ``fresh`` has keep their fresh weights with a zero adaLN modulation: their gates are
    zero, so each passes its input through and the grown model computes what ``loaded`` did."""
    old, new = traverse_util.flatten_dict(loaded), traverse_util.flatten_dict(fresh)
    grown = dict(old)
    for key, value in new.items():
        name = "/".join(key)
        if key in old:
            if np.shape(old[key]) != np.shape(value):
                raise ConfigError(f"init.decoder_depth: {name} is {np.shape(old[key])} in init.checkpoint and "
                                  f"{np.shape(value)} in the grown model: only the decoder's depth may change")
        elif "dec_transformer" in key[1] and any(part.startswith("blocks.") for part in key):
            grown[key] = jnp.zeros_like(value) if any("adaLN_modulation" in part for part in key) else value
        else:
            raise ConfigError(f"init.decoder_depth: the grown model has {name}, which init.checkpoint lacks and is "
                              "not in a new decoder block")
    return traverse_util.unflatten_dict(grown)


def _linear_code_labels(params) -> dict:
    """``fixed`` for the linear code's maps (the ``linear_code`` extension), ``train`` for every other parameter."""
    return traverse_util.path_aware_map(
        lambda path, _: "fixed" if any(part.endswith(LINEAR_CODE_KEY) for part in path) else "train", params)


def latent_channel_scale(latents: list[np.ndarray]) -> list[float]:
    """The standard deviation of each channel over every latent of an encode-dir folder (``latent_scale: auto``)."""
    channels = latents[0].shape[-1]
    flat = np.concatenate([z.reshape(-1, channels) for z in latents]).astype(np.float64)
    return [float(v) for v in np.maximum(flat.std(axis=0), 1e-3)]


class FlexTokFamily:
    """VideoFlexTok over a frozen VidTok: the engine's interface (see `vidtok_jax.train.engine`)."""

    def __init__(self, config: TrainConfig):
        self.config = config
        section = config.flextok
        name, weights = with_default_weights(config.model.config, section.vidtok_checkpoint)
        if weights is None:
            raise ConfigError(f"flextok.vidtok_checkpoint is needed: the frozen VidTok stage {name} must be trained "
                              "(only the bundled vidtok_jax_default brings its own weights)")
        self.vidtok_source = {"config": str(name), "checkpoint": str(weights)}
        self.vidtok = load_tokenizer(name, weights, dtype=compute_dtype(config.model.dtype))
        self.reads_latents = config.data.source == "latents"
        self.hydra = _hydra_config(config, self.vidtok.config.latent_channels, str(name), self._latent_scale_setting(),
                                   self._latent_frame_shape()[:2])
        self.flex_config = cfg = flextok_config_from_dict(self.hydra)
        self.latent_scale = None if cfg.latent_scale is None else jnp.asarray(cfg.latent_scale, jnp.float32)
        if cfg.latent_channels != self.vidtok.config.latent_channels:
            raise ConfigError(f"the VideoFlexTok reads {cfg.latent_channels} latent channels, the VidTok stage "
                              f"{name} makes {self.vidtok.config.latent_channels}")
        self._check_clip_fits()
        if self.reads_latents:
            self._check_shards_match(name, weights)
        dtype = compute_dtype(config.model.dtype)
        self.encoder, self.decoder = FlexEncoder(cfg.encoder, dtype), FlexDecoder(cfg.decoder, dtype)
        self.fsq = FSQ(RegularizerConfig(kind="fsq", levels=cfg.levels))
        self.objective = dataclasses.replace(FlowObjective.from_config(cfg), sigma_location=float(section.sigma_location),
                                             code_penalty=float(section.code_penalty),
                                             readout_weight=float(section.readout_weight),
                                             keep_all_fraction=float(section.keep_all_fraction))
        if section.keep_sampling is not None:
            self.objective = dataclasses.replace(self.objective, keep_sampling=section.keep_sampling)
        self.fixed_readout = self._linear_code_readout() if section.readout == "pca" else None
        self.linear_code_maps = self._linear_code_maps() if section.linear_code else None
        self.optimizer = generator_optimizer(config)
        if cfg.encoder.linear_code is not None:  # the linear code's maps stay as fitted
            self.optimizer = optax.multi_transform({"train": self.optimizer, "fixed": optax.set_to_zero()},
                                                   _linear_code_labels)

    def _linear_code_readout(self) -> dict[str, jax.Array]:
        """The read-out of ``flextok.readout: pca``: the decoder of the shards' linear code, as the model sees them."""
        code = fit_linear_code(self._training_frames(), self.flex_config.levels, self.flex_config.num_registers)
        return {name: jnp.asarray(value) for name, value in code.readout().items()}

    def _training_frames(self, scaled: bool = True) -> np.ndarray:
        """Every latent frame of the data.source=latents shards, in crops of the model's latent frame size, as the model
        reads them (divided by its latent scale) or, ``scaled=False``, as they are: rows ``[N, h*w*C]``."""
        scale = 1.0 if self.latent_scale is None or not scaled else np.asarray(self.latent_scale)
        height, width, _ = self._latent_frame_shape()
        return latent_frame_crops([z / scale for z in read_latent_shards(self.config.data.data_dir)], height, width)

    def _linear_code_maps(self) -> dict[str, dict]:
        """The ``flextok.linear_code`` maps of the shards' latent frames, as parameters of the encoder and decoder."""
        cfg = self.flex_config
        height, width, _ = self._latent_frame_shape()
        scale = None if self.latent_scale is None else np.tile(np.asarray(self.latent_scale), height * width)
        maps = linear_code_maps(self._training_frames(scaled=False), cfg.levels, cfg.num_registers, scale)
        return {part: {official(getattr(cfg, part).head_name, LINEAR_CODE_KEY): jax.tree_util.tree_map(jnp.asarray, maps[part])}
                for part in ("encoder", "decoder")}

    def _latent_scale_setting(self) -> list[float] | None:
        setting = self.config.flextok.latent_scale
        if setting != "auto":
            return setting
        if not self.reads_latents:
            raise ConfigError("flextok.latent_scale: auto measures the latents of data.source=latents shards; with "
                              "videos as the source give the scales as a list")
        return latent_channel_scale(read_latent_shards(self.config.data.data_dir))

    def _scaled(self, latents: jax.Array) -> jax.Array:
        """VidTok latents as the VideoFlexTok reads them (divided by ``latent_scale`` where the model has one)."""
        return latents if self.latent_scale is None else latents / self.latent_scale

    def _check_clip_fits(self) -> None:
        data, vid, cfg = self.config.data, self.vidtok.config, self.flex_config
        grid = (vid.latent_frames(data.num_frames), data.height // vid.spatial_factor,
                data.width // vid.spatial_factor)
        patch, posemb = cfg.encoder.patch.patch_sizes, cfg.encoder.posemb.max_sizes
        if any(n % p for n, p in zip(grid, patch)) or any(n // p > m for n, p, m in zip(grid, patch, posemb)) \
                or grid[0] // patch[0] > cfg.encoder.t_max:
            raise ConfigError(f"data clips of {data.num_frames}x{data.height}x{data.width} give latents {grid}, which "
                              f"the VideoFlexTok's patches {patch}, position tables {posemb} and t_max "
                              f"{cfg.encoder.t_max} do not fit")

    def _check_shards_match(self, name: str, weights) -> None:
        for folder in latent_folders(self.config.data.data_dir):
            settings = read_shard_index(folder)["settings"]
            made_by = (settings.get("config_name"), settings.get("checkpoint"))
            if made_by[0] != self.vidtok.config.name or made_by[1] not in (None, Path(weights).name):
                raise ConfigError(f"data.data_dir: {folder} holds latents of {made_by[0]} "
                                  f"({made_by[1] or 'weights not recorded'}), but the frozen VidTok stage is {name} "
                                  f"({Path(weights).name}): encode the videos with the same model")

    def initial_weights(self) -> dict | None:
        source = self.config.init.checkpoint
        if source is None:
            return None
        if _is_workdir(source):
            params = read_checkpoint(source, None)[1]["params"]
        else:
            document, tensors, _ = read_flextok_file(source)
            params = split_state(tensors, flextok_param_shapes(flextok_config_from_dict(document)), str(source))[0]
        if self.config.init.decoder_depth is None:
            return params
        return with_identity_blocks(params, init_flextok_params(self.flex_config, jax.random.key(self.config.seed)))

    def init_state(self, initial) -> FlexTrainState:
        init_key, rng_key = jax.random.split(jax.random.key(self.config.seed, impl=PRNG_IMPL))
        params = dict(initial if initial is not None else init_flextok_params(self.flex_config, init_key))
        if initial is None and self.linear_code_maps is not None:
            params = {part: {**tree, **self.linear_code_maps.get(part, {})} for part, tree in params.items()}
        if self.fixed_readout is not None:
            params.pop("readout", None)
        elif self.objective.readout_weight and "readout" not in params:
            params["readout"] = init_readout(jax.random.fold_in(init_key, 1), self.flex_config.num_registers,
                                             len(self.flex_config.levels), self._latent_frame_shape())
        params = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float32), params)
        ema = jax.tree_util.tree_map(jnp.copy, params) if self.config.optimizer.ema_decay else {}
        return FlexTrainState(step=jnp.zeros((), jnp.int32), params=params, opt=self.optimizer.init(params), ema=ema,
                              rng=jax.random.key_data(rng_key))

    def _latent_frame_shape(self) -> tuple[int, int, int]:
        data, vid = self.config.data, self.vidtok.config
        return data.height // vid.spatial_factor, data.width // vid.spatial_factor, vid.latent_channels

    def aux(self):
        return self.vidtok.params

    def _latents(self, vidtok_params, video) -> jax.Array:
        z = self.vidtok.model.apply({"params": vidtok_params}, video, method="encode")
        return self._scaled(jax.lax.stop_gradient(z.astype(jnp.float32)))

    def _loss(self, params, latents, key, tokens_of=None):
        if self.fixed_readout is not None:
            params = {**params, "readout": self.fixed_readout}
        return flow_matching_loss(self.encoder, self.decoder, self.fsq, params, latents, key, self.objective, tokens_of)

    def train_step(self, state: FlexTrainState, video, aux):
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng, impl=PRNG_IMPL), state.step)
        latents = self._scaled(video.astype(jnp.float32)) if self.reads_latents else self._latents(aux, video)
        (loss, logs), grads = jax.value_and_grad(self._loss, has_aux=True)(state.params, latents, key)
        updates, opt = self.optimizer.update(grads, state.opt, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema
        if ema:
            ema = ema_update(ema, params, self.config.optimizer.ema_decay, state.step + 1)
        grad_norm = optax.tree.norm(grads)
        finite = jnp.all(jnp.isfinite(jnp.stack([loss, grad_norm, optax.tree.norm(params)])))
        metrics = {"total_loss": loss, **logs, "grad_norm": grad_norm, "finite": finite}
        return state.replace(step=state.step + 1, params=params, opt=opt, ema=ema), metrics

    def _reconstruct(self, params, latents, vidtok_params, frames: int, key) -> jax.Array:
        codes = self.fsq.quantize(self.encoder.apply({"params": params["encoder"]}, latents))
        b = latents.shape[0]
        keep, prefix = jnp.full((b,), codes.shape[2], jnp.int32), jnp.zeros((b,), jnp.int32)
        z = sampler_for(self.decoder)(params["decoder"], codes, jax.random.normal(key, latents.shape), keep, prefix, None,
                                      steps=self.config.flextok.eval_steps, guidance=Guidance())
        if self.latent_scale is not None:
            z = z * self.latent_scale
        video = self.vidtok.model.apply({"params": vidtok_params}, z.astype(self.vidtok.dtype), method="decode")
        return jnp.clip(video[:, -frames:].astype(jnp.float32), -1.0, 1.0)

    def _eval_loss(self, params, latents, key, tokens_of=None):
        """The flow loss with all R tokens, no null condition or prefix, official noise levels: one measure for every
        recipe, so runs with different training objectives compare."""
        return flow_matching_loss(self.encoder, self.decoder, self.fsq, params, latents, key, EVAL_OBJECTIVE, tokens_of)[0]

    def eval_step(self, state: FlexTrainState, video, aux):
        latents = self._latents(aux, video)
        key = jax.random.key(self.config.eval.seed)
        metrics = {"eval_flow_loss": self._eval_loss(state.params, latents, key)}
        # How much the decoder relies on the clip's own tokens: the loss with the next clip's tokens minus
        # the loss with its own (about 0 while the decoder ignores its tokens, as early in training).
        shuffled = self._eval_loss(state.params, latents, key, jnp.roll(latents, 1, axis=0))
        metrics["eval_token_gain"] = shuffled - metrics["eval_flow_loss"]
        recon = None
        for name, params in (("eval_psnr", state.params), ("eval_ema_psnr", state.ema)):
            if params:
                out = self._reconstruct(params, latents, aux, video.shape[1], key)
                metrics[name] = jnp.mean(psnr_per_frame(out, video))
                recon = out if recon is None else recon
        return metrics, recon

    def describe(self, state: FlexTrainState) -> str:
        cfg = self.flex_config
        return (f"VideoFlexTok ({cfg.num_registers} tokens per latent frame, encoder d{cfg.encoder.trunk.depth}x"
                f"{cfg.encoder.trunk.dim}, decoder d{cfg.decoder.trunk.depth}x{cfg.decoder.trunk.dim}): "
                f"{tree_size(state.params)} parameters{self._fixed_note(state.params)} over the frozen VidTok "
                f"{self.vidtok.config.name} "
                f"({tree_size(self.vidtok.params)} parameters)")

    @staticmethod
    def _fixed_note(params) -> str:
        labels = jax.tree_util.tree_leaves(_linear_code_labels(params))
        fixed = sum(int(np.size(leaf)) for leaf, label in zip(jax.tree_util.tree_leaves(params), labels) if label == "fixed")
        return f" ({fixed} of them the fixed linear code)" if fixed else ""

    def config_document(self) -> dict:
        return {"train": self.config.to_dict(), FLEXTOK_DOCUMENT: self.hydra, "vidtok": self.vidtok_source}
