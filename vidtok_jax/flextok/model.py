"""The public VideoFlexTok: load an official file, tokenize videos or latents, detokenize any prefix.

    flex = vt.load_videoflextok("videoflextok_d18_d28.safetensors")
    ids = flex.tokenize(video)                       # [B, T, H, W, 3] in [-1, 1] -> int32 [B, t, R]
    video = flex.detokenize(ids, keep=16, key=jax.random.key(0), steps=30, guidance_scale=20.0,
                            apg=dict(eta=0.0, momentum=0.0, norm_threshold=0.6))

Videos go through VidTok (`vidtok_kl_causal_488_16chn`) in 17-frame chunks that overlap by one
frame, as the official chunk wrapper does: a video has 17 + 16k frames; later chunks drop the
overlap frame's tokens (`5 + 4k` latent frames of tokens in all); when decoding, each later
chunk is conditioned on the previous decoded chunk's last frame. The latent-level methods work
on one clip of VidTok latents and are pure jitted functions: every `keep` runs one compiled
program (the mask token replaces registers >= k, as the official `num_keep_tokens_list`), while
`ids[..., :k]` with `keep=None` is the official truncation path, a different computation.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.checkpoints.hub import hub_videoflextok_folder, is_hub_id
from vidtok_jax.checkpoints.state_dict import params_from_state_dict, state_dict_from_params
from vidtok_jax.errors import ConfigError, InputError
from vidtok_jax.flextok.checkpoint import (CHUNK_FRAMES, OFFICIAL_SAMPLER_STEPS, OVERLAP_FRAMES, bundled_videoflextok_folder,
                                           read_flextok_file, split_state, write_flextok_file,
                                           write_flextok_hub_folder)
from vidtok_jax.flextok.config import FlexTokConfig, flextok_config_from_dict
from vidtok_jax.flextok.modules import FlexDecoder, FlexEncoder
from vidtok_jax.flextok.sampler import Guidance, sample
from vidtok_jax.runtime.array_checks import finite_range
from vidtok_jax.runtime.compilation_cache import enable_compilation_cache_by_default
from vidtok_jax.runtime.checked_values import finite_number, whole_number
from vidtok_jax.vidtok.config import RegularizerConfig, load_model_config
from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_NAME
from vidtok_jax.vidtok.quantizers import FSQ
from vidtok_jax.vidtok.tokenizer import Tokenizer, compute_dtype, load_tokenizer, param_shapes

APG_KEYS = ("eta", "momentum", "norm_threshold")


@functools.lru_cache(maxsize=None)
def _encode_fn(encoder: FlexEncoder):
    return jax.jit(lambda params, z: encoder.apply({"params": params}, z))


@functools.lru_cache(maxsize=None)
def _velocity_fn(decoder: FlexDecoder):
    return jax.jit(lambda params, codes, x, t, keep, prefix, null: decoder.apply(
        {"params": params}, codes, x, t, keep, prefix, null))


@functools.lru_cache(maxsize=None)
def sampler_for(decoder: FlexDecoder):
    """The jitted sampler of a decoder: `(params, codes, noise, keep, prefix, cond, *, steps, guidance)` -> latents."""
    def run(params, codes, noise, keep, prefix, cond, steps, guidance):
        def velocity(x, t, null):
            copies = x.shape[0] // codes.shape[0]
            tile = lambda a: jnp.concatenate([a] * copies)  # noqa: E731
            return decoder.apply({"params": params}, tile(codes), x, t, tile(keep), tile(prefix), null)
        return sample(velocity, noise, steps, guidance, cond)
    return jax.jit(run, static_argnames=("steps", "guidance"))


def sampler_steps(steps: Any) -> int:
    """The number of Euler steps, checked: a whole number >= 1 (not a string, a fraction or a bool)."""
    return whole_number(steps, "steps", error=InputError)


def guidance_from(guidance_scale: float, apg: Mapping[str, float] | None) -> Guidance:
    """The sampler's guidance from the public knobs (`apg=None`: plain CFG), every number checked finite."""
    scale = finite_number(guidance_scale, "guidance_scale", error=InputError)
    if apg is None:
        return Guidance(scale=scale)
    unknown = sorted(set(apg) - set(APG_KEYS))
    if unknown:
        raise InputError(f"unknown apg option(s) {', '.join(unknown)}; known: {', '.join(APG_KEYS)}")
    values = {k: finite_number(v, f"apg[{k!r}]", error=InputError) for k, v in apg.items()}
    if values.get("norm_threshold", 0.0) < 0 or not 0 <= values.get("momentum", 0.0) < 1:
        raise InputError(f"apg norm_threshold must be >= 0 and momentum in [0, 1), got {apg}")
    return Guidance(scale=scale, apg=True, **values)


class VideoFlexTok:
    """A VideoFlexTok model with its parameters. Build it with `load_videoflextok`."""

    def __init__(self, config: FlexTokConfig, params: Mapping, *, vidtok: Tokenizer | None = None,
                 dtype: Any = jnp.float32, hub: Mapping[str, Any] | None = None):
        self.config = config
        self.params = {"encoder": params["encoder"], "decoder": params["decoder"]}
        self.vidtok = vidtok
        self.dtype = dtype
        self.encoder = FlexEncoder(config.encoder, dtype)
        self.decoder = FlexDecoder(config.decoder, dtype)
        self.fsq = FSQ(RegularizerConfig(kind="fsq", levels=config.levels))
        self.latent_scale = None if config.latent_scale is None else jnp.asarray(config.latent_scale, jnp.float32)
        enable_compilation_cache_by_default()
        hub = dict(hub or {})
        self.chunk_frames = int(hub.get("chunk_size", CHUNK_FRAMES))
        self.overlap_frames = int(hub.get("overlap_size_frames", OVERLAP_FRAMES))
        sizes = hub.get("vae_video_sizes")
        self.latent_size = tuple(int(s) for s in sizes[1:]) if sizes else None
        self.sampler_steps = int(hub.get("sampler_steps", OFFICIAL_SAMPLER_STEPS))  # detokenize's default steps

    def hub_settings(self) -> dict[str, Any]:
        """The official Hub `config.json` settings of this model: chunking, and the latent size where known."""
        hub = {"chunk_size": self.chunk_frames, "overlap_size_frames": self.overlap_frames}
        if self.latent_size is not None and self.vidtok is not None:
            hub["vae_video_sizes"] = [self._latents_per_chunk(), *self.latent_size]
        if self.sampler_steps != OFFICIAL_SAMPLER_STEPS:
            hub["sampler_steps"] = self.sampler_steps
        return hub

    def __repr__(self) -> str:
        e, d = self.config.encoder, self.config.decoder
        return (f"VideoFlexTok(R={self.num_registers} tokens/latent frame, codebook {self.codebook_size}, "
                f"encoder d{e.trunk.depth}x{e.trunk.dim}, decoder d{d.trunk.depth}x{d.trunk.dim}, "
                f"VidTok stage {'loaded' if self.vidtok else 'absent (latents only)'})")

    @property
    def video_size(self) -> tuple[int, int] | None:
        """The clip size `(H, W)` in pixels the model was made for (its Hub settings' latent size), or None."""
        if self.latent_size is None or self.vidtok is None:
            return None
        factor = self.vidtok.config.spatial_factor
        return self.latent_size[0] * factor, self.latent_size[1] * factor

    @property
    def num_registers(self) -> int:
        return self.config.num_registers

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    # ---- latent level: one clip of VidTok latents [B, t, h, w, C] ----

    def to_model_space(self, z) -> jax.Array:
        """VidTok latents as the flow model reads them: divided per channel by the model's `latent_scale` (if any)."""
        return z if self.latent_scale is None else z / self.latent_scale

    def from_model_space(self, z) -> jax.Array:
        """The inverse of `to_model_space`: the flow model's latents back to VidTok latents."""
        return z if self.latent_scale is None else z * self.latent_scale

    def encode_latents(self, z) -> jax.Array:
        """Encoder register values before FSQ, float32 `[B, t, R, code_dim]`, of VidTok latents `z`."""
        return _encode_fn(self.encoder)(self.params["encoder"], self.to_model_space(self.check_latents(z)))

    def quantize(self, values) -> tuple[jax.Array, jax.Array]:
        """FSQ codes in [-1, 1] and their int32 ids from encoder values `[..., code_dim]`."""
        codes = self.fsq.quantize(values)
        return codes, self.fsq.codes_to_indices(codes)

    def tokenize_latents(self, z) -> jax.Array:
        """Token ids, int32 `[B, t, R]`, of VidTok latents `[B, t, h, w, C]` (channels-last)."""
        return self.quantize(self.encode_latents(z))[1]

    def codes(self, ids) -> jax.Array:
        """The FSQ codes `[B, t, r, code_dim]` of token ids `[B, t, r]`."""
        return self.fsq.indices_to_codes(self.check_ids(ids))

    def velocity(self, ids, noisy, t, *, keep: int | Sequence[int] | np.ndarray | None = None,
                 null: bool | Sequence[bool] = False, prefix: int | Sequence[int] = 0) -> jax.Array:
        """One decoder call: the velocity `[B, t, h, w, C]` of `noisy` latents at flow times `t` (scalar or `[B]`).

        `noisy` and the velocity are in the flow model's space (`to_model_space`: VidTok latents divided
        by the model's `latent_scale`; the VidTok latents themselves where the model has none, as official files).

        `keep` masks registers >= k; `null` runs the unconditional (null-condition) pass; `prefix`
        masks the registers of that many leading latent frames (the conditioning frames).
        """
        ids = self.check_ids(ids)
        noisy = self.check_latents(noisy, frames=ids.shape[1])
        b = ids.shape[0]
        times = jnp.broadcast_to(jnp.asarray(t, jnp.float32), (b,))
        if not isinstance(times, jax.core.Tracer) and not bool(jnp.all((times >= 0) & (times <= 1))):
            raise InputError(f"flow times must lie in [0, 1], got {np.asarray(times).tolist()}")
        return _velocity_fn(self.decoder)(
            self.params["decoder"], self.fsq.indices_to_codes(ids), noisy, times, self._keep(keep, ids),
            self._per_sample(prefix, b, "prefix", 0, ids.shape[1]), jnp.broadcast_to(jnp.asarray(null, bool), (b,)))

    def detokenize_latents(self, ids, *, noise=None, key: jax.Array | None = None, latent_size=None, steps: int | None = None,
                           keep: int | Sequence[int] | np.ndarray | None = None, guidance_scale: float = 1.0,
                           apg: Mapping[str, float] | None = None, cond_latents=None) -> jax.Array:
        """Sample VidTok latents `[B, t, h, w, C]` from token ids `[B, t, r]` with the rectified-flow decoder in
        `steps` Euler steps (default: the model's `sampler_steps`, 30 unless its Hub config.json says otherwise).

        The start noise is `noise` (`[B, t, h, w, C]`, standard normal in the flow model's space) or drawn
        from `key` at `latent_size=(h, w)`.
        `keep`: the first k tokens of every latent frame (an int, or one per sample), or a boolean
        `[B, r]` mask of the tokens to keep (any subset, e.g. a random one as a control); the others
        become the nested-dropout mask token. `guidance_scale` 1 runs no unconditional pass; otherwise `apg=None` is plain CFG and
        `apg=dict(eta=, momentum=, norm_threshold=)` is adaptive projected guidance.
        `cond_latents` `[B, P, h, w, C]` fixes the first P latent frames (the official chunked decoder's
        conditioning: their registers are masked as the official decode does).
        """
        ids = self.check_ids(ids)
        noise = self._start_noise(ids, noise, key, latent_size)
        if cond_latents is not None:
            cond_latents = self.check_latents(cond_latents)
            if cond_latents.shape[0] != ids.shape[0] or cond_latents.shape[2:] != noise.shape[2:] \
                    or cond_latents.shape[1] > ids.shape[1]:
                raise InputError(f"cond_latents {tuple(cond_latents.shape)} must be [B, P, h, w, C] with B, h, w, C "
                                 f"of the output {tuple(noise.shape)} and P <= {ids.shape[1]} frames")
        steps = sampler_steps(self.sampler_steps if steps is None else steps)
        prefix = self._per_sample(0 if cond_latents is None else cond_latents.shape[1], ids.shape[0], "prefix", 0, ids.shape[1])
        if cond_latents is not None:
            cond_latents = self.to_model_space(cond_latents)
        z = sampler_for(self.decoder)(self.params["decoder"], self.fsq.indices_to_codes(ids), noise, self._keep(keep, ids),
                                      prefix, cond_latents, steps=steps, guidance=guidance_from(guidance_scale, apg))
        return self.from_model_space(z)

    # ---- video level: VidTok + the official 17-frame chunking ----

    def valid_frame_counts(self, near: int) -> tuple[int, int]:
        """The valid frame counts (chunk + k·stride) just below and above `near`."""
        stride = self.chunk_frames - self.overlap_frames
        below = self.chunk_frames + max(0, (near - self.chunk_frames) // stride) * stride
        return below, below + stride

    def tokenize(self, video, *, key: jax.Array | None = None) -> jax.Array:
        """Token ids int32 `[B, t, R]` of a video `[B, T, H, W, 3]` in [-1, 1], T = 17 + 16k.

        VidTok gives the posterior mode of each chunk's latents; `key` samples the posterior as the
        official VAE stage does. Chunks run one after another, so memory does not grow with the length.
        """
        vidtok = self._require_vidtok()
        video = vidtok.check_video(video)
        self.check_video_size(*video.shape[2:4])
        frames = video.shape[1]
        stride = self.chunk_frames - self.overlap_frames
        if frames < self.chunk_frames or (frames - self.chunk_frames) % stride:
            lo, hi = self.valid_frame_counts(frames)
            raise InputError(f"VideoFlexTok tokenizes {self.chunk_frames} + {stride}k frames (chunks of "
                             f"{self.chunk_frames} overlapping by {self.overlap_frames}), got {frames}: "
                             f"use {lo} or {hi} frames" if frames >= self.chunk_frames else
                             f"VideoFlexTok needs at least {self.chunk_frames} frames, got {frames}")
        skip = self._overlap_latents()
        starts = range(0, frames - self.chunk_frames + 1, stride)
        keys = [None] * len(starts) if key is None else list(jax.random.split(key, len(starts)))
        pieces = []
        for i, start in enumerate(starts):  # one compiled program per chunk; memory does not grow with the length
            ids = self.tokenize_latents(vidtok.encode(video[:, start:start + self.chunk_frames], key=keys[i]))
            pieces.append(ids if i == 0 else ids[:, skip:])
        return jnp.concatenate(pieces, axis=1)

    def detokenize(self, ids, *, key: jax.Array, size: tuple[int, int] | None = None, steps: int | None = None,
                   keep: int | Sequence[int] | np.ndarray | None = None, guidance_scale: float = 1.0,
                   apg: Mapping[str, float] | None = None) -> jax.Array:
        """A video `[B, T, H, W, 3]` from token ids `[B, t, r]` (t = 5 + 4k), chunk by chunk as the official wrapper.

        `size=(H, W)` in pixels (default: the checkpoint's own size, when its folder says it); `steps` as in
        `detokenize_latents`.
        """
        vidtok = self._require_vidtok()
        ids = self.check_ids(ids)
        guidance_from(guidance_scale, apg)  # every sampler option checked before the first chunk is decoded
        steps = sampler_steps(self.sampler_steps if steps is None else steps)
        options = dict(steps=steps, keep=keep, guidance_scale=guidance_scale, apg=apg)
        per_chunk = self._latents_per_chunk()
        skip = self._overlap_latents()
        step = per_chunk - skip
        t = ids.shape[1]
        if t < per_chunk or (t - per_chunk) % step:
            raise InputError(f"token ids of chunked videos have {per_chunk} + {step}k latent frames, got {t}")
        factor = vidtok.config.spatial_factor
        latent_size = None if size is None else self._latent_size_from_pixels(size, factor)
        keys = jax.random.split(key, 1 + (t - per_chunk) // step)
        z = self.detokenize_latents(ids[:, :per_chunk], key=keys[0], latent_size=latent_size, **options)
        video = [vidtok.decode(z, num_frames=self.chunk_frames)]
        for i, start in enumerate(range(per_chunk, t, step), start=1):
            cond = vidtok.encode(jnp.clip(video[-1][:, -self.overlap_frames:], -1, 1))  # a decode may overshoot [-1, 1]
            cond_ids = self.tokenize_latents(cond)[..., :ids.shape[2]]  # truncated ids: the condition's first r too
            chunk_ids = jnp.concatenate([cond_ids, ids[:, start:start + step]], axis=1)
            z = self.detokenize_latents(chunk_ids, key=keys[i], latent_size=cond.shape[2:4], cond_latents=cond, **options)
            video.append(vidtok.decode(z, num_frames=self.chunk_frames)[:, self.overlap_frames:])
        return jnp.concatenate(video, axis=1)

    # ---- checks ----

    def check_latents(self, z, *, frames: int | None = None) -> jax.Array:
        """Validate VidTok latents `[B, t, h, w, C]` against the patch sizes and posemb tables."""
        self._check_latent_shape(tuple(np.shape(z)), frames)
        if not isinstance(z, jax.core.Tracer) and not finite_range(z)[0]:
            raise InputError("the latents contain NaN or Inf values")
        return jnp.asarray(z, jnp.float32)

    def _check_latent_shape(self, shape: tuple[int, ...], frames: int | None) -> None:
        cfg = self.config
        c = cfg.latent_channels
        if len(shape) != 5 or shape[-1] != c:
            hint = " (channels-first? use jnp.moveaxis(z, 1, -1))" if len(shape) == 5 and shape[1] == c else ""
            raise InputError(f"expected VidTok latents [B, t, h, w, {c}], got shape {shape}{hint}")
        if frames is not None and shape[1] != frames:
            raise InputError(f"latents have {shape[1]} frames but the token ids have {frames}")
        if cfg.encoder.linear_code is not None and shape[2:4] != cfg.encoder.linear_code:
            h, w = cfg.encoder.linear_code
            raise InputError(f"this model reads latent frames of exactly {h}x{w} (its linear code), got "
                             f"{shape[2]}x{shape[3]}: give clips of the model's size (flex.video_size)")
        patch = cfg.encoder.patch.patch_sizes
        posemb = [min(e, d) for e, d in zip(cfg.encoder.posemb.max_sizes, cfg.decoder.posemb.max_sizes)]
        grid = [n // p for n, p in zip(shape[1:4], patch)]
        if any(n % p for n, p in zip(shape[1:4], patch)):
            raise InputError(f"latent grid {shape[1:4]} must be divisible by the patch sizes {patch}")
        if any(g > m for g, m in zip(grid, posemb)) or grid[0] > cfg.encoder.t_max:
            hint = ("use a smaller frame size" if any(g > m for g, m in zip(grid[1:], posemb[1:]))
                    else "split long clips into chunks (tokenize() does)")
            raise InputError(f"latent grid {shape[1:4]} is larger than this model's position tables allow "
                             f"({min(posemb[0], cfg.encoder.t_max) * patch[0]}x{posemb[1] * patch[1]}x"
                             f"{posemb[2] * patch[2]}): {hint}")

    def max_video_size(self, spatial_factor: int) -> tuple[int, int]:
        """The largest frame size `(H, W)` in pixels this model's position tables take, for a VidTok stage of
        `spatial_factor`."""
        cfg = self.config
        patch = cfg.encoder.patch.patch_sizes
        posemb = [min(e, d) for e, d in zip(cfg.encoder.posemb.max_sizes, cfg.decoder.posemb.max_sizes)]
        return posemb[1] * patch[1] * spatial_factor, posemb[2] * patch[2] * spatial_factor

    def check_video_size(self, height: int, width: int) -> None:
        """Refuse frames larger than the position tables take, before any VidTok pass."""
        factor = self._require_vidtok().config.spatial_factor
        if self.config.encoder.linear_code is not None and (height, width) != tuple(
                n * factor for n in self.config.encoder.linear_code):
            size = tuple(n * factor for n in self.config.encoder.linear_code)
            raise InputError(f"this model takes frames of exactly {size[0]}x{size[1]} pixels, got {height}x{width}: "
                             f"resize the video (flex-encode --size {size[0]})")
        top = self.max_video_size(factor)
        if height > top[0] or width > top[1]:
            raise InputError(f"frames of {height}x{width} pixels are larger than this model takes (at most "
                             f"{top[0]}x{top[1]}): resize the video (flex-encode --size)")

    def check_ids(self, ids) -> jax.Array:
        """Validate token ids `[B, t, r]`, r <= R, every id in [0, codebook_size)."""
        shape = tuple(np.shape(ids))
        dtype = getattr(ids, "dtype", np.asarray(ids).dtype)
        if not jnp.issubdtype(dtype, jnp.integer):
            raise InputError(f"token ids must be integers, got dtype {dtype}")
        if len(shape) != 3 or not all(shape):
            raise InputError(f"expected token ids [B, t, r], got shape {shape}")
        if not 1 <= shape[2] <= self.num_registers:
            raise InputError(f"token ids have {shape[2]} tokens per latent frame; this model has 1..{self.num_registers}")
        if not isinstance(ids, jax.core.Tracer):
            values = ids if isinstance(ids, jax.Array) else np.asarray(ids)  # numpy keeps int64 / uint64 unwrapped
            lo, hi = int(values.min()), int(values.max())
            if lo < 0 or hi >= self.codebook_size:
                raise InputError(f"token ids must be in [0, {self.codebook_size - 1}], found values in [{lo}, {hi}]: "
                                 "were they made by another model?")
        return jnp.asarray(ids, jnp.int32)

    def _keep(self, keep, ids) -> jax.Array:
        """``keep`` as the decoder takes it: ints ``[B]`` (the first k tokens), or a boolean ``[B, r]`` subset
        (``[r]`` or ``[1, r]``: the same subset for every sample)."""
        if keep is not None and np.asarray(keep).dtype == bool:
            mask, wanted = np.asarray(keep), (ids.shape[0], ids.shape[2])
            if mask.shape in ((wanted[1],), (1, wanted[1])):
                mask = np.broadcast_to(mask.reshape(1, -1), wanted)
            if mask.shape != wanted or not mask.any(axis=1).all():
                raise InputError(f"a keep mask must be boolean [B, r] = {list(wanted)} (or [r]: one for all samples) "
                                 f"with at least one token kept per sample, got shape {list(mask.shape)}")
            return jnp.asarray(mask)
        return self._per_sample(ids.shape[2] if keep is None else keep, ids.shape[0], "keep", 1, ids.shape[2])

    @staticmethod
    def _per_sample(value, batch: int, name: str, low: int, high: int) -> jax.Array:
        values = np.broadcast_to(np.asarray(value), (batch,)) if np.ndim(value) == 0 else np.asarray(value)
        if values.shape != (batch,) or not np.issubdtype(values.dtype, np.integer):
            raise InputError(f"{name} must be an int or {batch} ints (one per sample), got {value!r}")
        if values.min() < low or values.max() > high:
            raise InputError(f"{name} must be in [{low}, {high}], got {values.tolist()}")
        return jnp.asarray(values, jnp.int32)

    def _start_noise(self, ids, noise, key, latent_size) -> jax.Array:
        b, t = ids.shape[:2]
        c = self.config.latent_channels
        if noise is not None:
            return self.check_latents(noise, frames=t)
        if key is None:
            raise InputError("give the sampler's start: noise=[B, t, h, w, C] or key=jax.random.key(seed)")
        latent_size = latent_size or self.latent_size
        if latent_size is None:
            raise InputError("token ids do not say the spatial size: give latent_size=(h, w) (or size=(H, W) pixels)")
        shape = (b, t, *latent_size, c)
        self._check_latent_shape(shape, t)
        return jnp.zeros(shape, jnp.float32) if self.config.zero_noise else jax.random.normal(key, shape, jnp.float32)

    def _latent_size_from_pixels(self, size, factor: int) -> tuple[int, int]:
        h, w = (int(s) for s in size)
        if h % factor or w % factor:
            raise InputError(f"size {h}x{w} must be a multiple of VidTok's spatial factor {factor}")
        return h // factor, w // factor

    def _require_vidtok(self) -> Tokenizer:
        if self.vidtok is None:
            raise InputError("this VideoFlexTok has no VidTok stage (the file holds no vae.vidtok.* weights): use the "
                             "latent methods, or load_videoflextok(path, vidtok=vt.load_tokenizer(...))")
        return self.vidtok

    def _latents_per_chunk(self) -> int:
        return self.vidtok.config.latent_frames(self.chunk_frames)

    def _overlap_latents(self) -> int:
        return self.vidtok.config.latent_frames(self.overlap_frames)


def _vidtok_stage(config: FlexTokConfig, state: Mapping[str, np.ndarray], source: str, vidtok: Tokenizer | None,
                  dtype) -> Tokenizer | None:
    if vidtok is not None:
        if vidtok.config.decoder.z_channels != config.latent_channels:
            raise ConfigError(f"the VidTok given has {vidtok.config.decoder.z_channels} latent channels; "
                              f"this VideoFlexTok reads {config.latent_channels}")
        return vidtok
    if not state and config.vidtok_id == DEFAULT_MODEL_NAME:  # a model over the bundled VidTok names it, weights not copied
        return load_tokenizer(dtype=dtype)
    if not state:
        return None
    cfg = load_model_config(config.vidtok_id)
    params, _ = params_from_state_dict(param_shapes(cfg), state, source=f"{source} (vae.vidtok.*)")
    return Tokenizer(cfg, jax.tree_util.tree_map(jnp.asarray, params), dtype=dtype)


def flextok_param_shapes(config: FlexTokConfig) -> dict:
    """The encoder and decoder parameter trees of a config, as shapes (nothing allocated)."""
    return jax.eval_shape(lambda: init_flextok_params(config, jax.random.key(0)))


def init_flextok_params(config: FlexTokConfig, key: jax.Array) -> dict:
    """Freshly initialised encoder and decoder parameters."""
    e, d = config.encoder, config.decoder
    frame = e.patch.patch_sizes[1:] if e.linear_code is None else e.linear_code
    latents = jnp.zeros((1, e.patch.patch_sizes[0], *frame, e.patch.channels_in), jnp.float32)
    codes = jnp.zeros((1, 1, e.num_registers, e.code_dim), jnp.float32)
    k_enc, k_dec = jax.random.split(key)
    one = jnp.ones((1,), jnp.int32)
    return {"encoder": FlexEncoder(e).init(k_enc, latents)["params"],
            "decoder": FlexDecoder(d).init(k_dec, codes, latents, jnp.ones((1,)), one * e.num_registers, one * 0,
                                           jnp.zeros((1,), bool))["params"]}


def load_videoflextok(path: str | Path | None = None, *, vidtok: Tokenizer | None = None,
                      dtype: Any = jnp.float32) -> VideoFlexTok:
    """Load a VideoFlexTok: with no `path`, the bundled model; else an official `.safetensors` file (config in its
    metadata), a Hub folder (`config.json` beside `model.safetensors`, or the file in it), or a Hub repository id
    (`"EPFL-VILAB/videoflextok_d18_d28"`, through huggingface_hub's cache; `HF_HUB_OFFLINE=1` is honoured).

    The file's VidTok stage (`vae.vidtok.*`) is loaded into our exact VidTok; a model over the bundled
    VidTok (`vidtok_jax_default`) names it instead of holding it; a file without either gives a
    latent-only model unless `vidtok` (e.g. `vt.load_tokenizer("vidtok_kl_causal_488_16chn", ckpt)`)
    is passed. `dtype=jnp.bfloat16` computes in bfloat16 with float32 parameters.
    """
    dtype = compute_dtype(dtype)
    path = bundled_videoflextok_folder() if path is None else hub_videoflextok_folder(path) if is_hub_id(path) else path
    doc, tensors, hub = read_flextok_file(path)
    try:
        config = flextok_config_from_dict(doc)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    params, vidtok_state = split_state(tensors, flextok_param_shapes(config), str(path))
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return VideoFlexTok(config, params, vidtok=_vidtok_stage(config, vidtok_state, str(path), vidtok, dtype),
                        dtype=dtype, hub=hub)


def random_videoflextok(config: Mapping[str, Any], *, seed: int = 0, vidtok: Tokenizer | None = None,
                        dtype: Any = jnp.float32) -> VideoFlexTok:
    """A randomly initialised VideoFlexTok of an official-format config dict (for benchmarks and training)."""
    cfg = flextok_config_from_dict(config)
    return VideoFlexTok(cfg, init_flextok_params(cfg, jax.random.key(seed)), vidtok=vidtok, dtype=dtype)


def export_videoflextok(flex: VideoFlexTok, path: str | Path, *, dtype=np.float32) -> Path:
    """Write `flex` in an official format: a `.safetensors` path gets one file (its Hydra config as metadata,
    the official tensor names); any other path becomes a Hub folder (`config.json` with the config, the
    chunking and the latent size; `model.safetensors`), returned as the file written. `dtype=np.float16`
    halves the size. A model over the bundled VidTok names it instead of holding a copy of its weights."""
    vidtok_state = None
    if flex.vidtok is not None and flex.config.vidtok_id != DEFAULT_MODEL_NAME:
        vidtok_state = state_dict_from_params(jax.device_get(flex.vidtok.params))
    params = jax.device_get(flex.params)
    if str(path).endswith(".safetensors"):
        write_flextok_file(path, flex.config.raw, params, vidtok_state, dtype=dtype)
        return Path(path)
    return write_flextok_hub_folder(path, flex.config.raw, params, flex.hub_settings(), vidtok_state, dtype=dtype)
