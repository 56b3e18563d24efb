"""The public tokenizer: load a VidTok model, then encode, tokenize, decode and reconstruct.

Videos are channels-last float arrays `[B, T, H, W, 3]` in [-1, 1]. Every method checks its
input and raises `InputError` with the problem and the fix; the computation underneath is
`Tokenizer.model.apply({"params": params}, x, method=...)`, a pure, jit-compiled function that
also works under `jax.vmap` and inside other jitted code.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict

from vidtok_jax.checkpoints.hub import hub_vidtok_checkpoint, is_hub_id
from vidtok_jax.checkpoints.state_dict import (params_from_state_dict, read_state_dict, save_safetensors,
                                               state_dict_from_params)
from vidtok_jax.errors import CheckpointError, ConfigError, InputError
from vidtok_jax.runtime.array_checks import DeferredChecks, finite_range
from vidtok_jax.runtime.compilation_cache import enable_compilation_cache_by_default
from vidtok_jax.vidtok.config import ModelConfig, load_model_config
from vidtok_jax.vidtok.default_model import with_default_weights
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder
from vidtok_jax.vidtok.quantizers import FSQ, gaussian_sample
from vidtok_jax.vidtok.streaming import split_frames, stream_decode, stream_encode

RANGE_SLACK = 2.0  # values beyond ±2 are not a [-1, 1] video (e.g. 0..255 pixels)
COMPUTE_DTYPES = ("float32", "bfloat16")
CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".pt", ".safetensors")


def _check_pixel_values(finite: bool, low: float, high: float) -> None:
    """Raise `InputError` unless a video's values (every one finite, in ``[low, high]``) are [-1, 1] pixels."""
    if not finite:
        raise InputError("the video contains NaN or Inf values")
    if low < -RANGE_SLACK or high > RANGE_SLACK:
        raise InputError(f"pixel values span [{low:g}, {high:g}] but must be in [-1, 1]: for 0..255 "
                         "input use video / 127.5 - 1")


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The compute dtype a model runs in: float32 or bfloat16 (float16 overflows these networks' activations)."""
    try:
        resolved = jnp.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in COMPUTE_DTYPES:
        raise InputError(f"dtype {dtype!r} is not supported: use jnp.float32 or jnp.bfloat16")
    return resolved


def _example_input(config: ModelConfig) -> jax.ShapeDtypeStruct:
    frames = 1 if config.causal else config.temporal_factor
    s = config.spatial_factor
    return jax.ShapeDtypeStruct((1, frames, s, s, config.encoder.in_channels), jnp.float32)


def param_shapes(config: ModelConfig) -> dict:
    """The parameter tree of a config as shapes, computed without allocating anything."""
    model = Autoencoder(config)
    return jax.eval_shape(model.init, jax.random.key(0), _example_input(config))["params"]


def tree_size(tree) -> int:
    """Number of values in a tree of arrays or shapes (e.g. a parameter tree)."""
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree)))


def count_params(config: str | Path | ModelConfig) -> int:
    """Number of encoder + decoder parameters of a config (a bundled name or a YAML file)."""
    return tree_size(param_shapes(load_model_config(config)))


def init_params(config: ModelConfig, seed: int = 0) -> dict:
    """Freshly initialised parameters (PyTorch's default init; temporal convs zero-initialised).

    Uses the "unsafe_rbg" random generator, about 3x faster than threefry for the 150M values
    of a full-size model on CPU.
    """
    model = Autoencoder(config)
    example = _example_input(config)
    init = jax.jit(model.init)
    return init(jax.random.key(seed, impl="unsafe_rbg"), jnp.zeros(example.shape, example.dtype))["params"]


@functools.lru_cache(maxsize=None)
def _jitted(model: Autoencoder, method: str):
    return jax.jit(lambda params, x: model.apply({"params": params}, x, method=method))


class Tokenizer:
    """A VidTok model with its parameters. Build it with `load_tokenizer`."""

    def __init__(self, config: ModelConfig, params: dict, *, dtype: Any = jnp.float32,
                 extras: dict[str, np.ndarray] | None = None):
        self.config = config
        self.params = params
        self.dtype = dtype
        self.extras = dict(extras or {})
        self.model = Autoencoder(config, dtype)
        enable_compilation_cache_by_default()

    def __repr__(self) -> str:
        return (f"Tokenizer({self.config.name}: {'causal' if self.config.causal else 'non-causal'} "
                f"v{self.config.version}, {self.config.temporal_factor}x{self.config.spatial_factor}x"
                f"{self.config.spatial_factor}, {self.config.regularizer.kind}, dtype={jnp.dtype(self.dtype).name})")

    @property
    def codebook_size(self) -> int | None:
        return self.config.regularizer.codebook_size if self.config.is_fsq else None

    def _run(self, method: str, x):
        return _jitted(self.model, method)(self.params, x)

    def _whole_chunk(self, num_frames: int) -> int:
        """A chunk length that holds the whole (padded) video."""
        f = self.config.temporal_factor
        return -(-(num_frames + self.config.encoder.time_padding(num_frames)) // f) * f

    def _moments(self, video, chunk_frames, tile, tile_overlap) -> jax.Array:
        chunk = self._whole_chunk(video.shape[1]) if chunk_frames is None else chunk_frames
        pieces = stream_encode(self.model, self.params, split_frames(video, chunk), video.shape[1], chunk,
                               tile=tile, tile_overlap=tile_overlap)
        return jnp.concatenate(list(pieces), axis=1)

    def encode_moments(self, video, *, chunk_frames: int | None = None, tile=None, tile_overlap=None) -> jax.Array:
        """Raw encoder output: KL models `[B, t, h, w, 2C]` (mean, log-variance); FSQ `[..., C]`."""
        video = self.check_video(video)
        if chunk_frames is None and tile is None:
            return self._run("encode_moments", video)
        return self._moments(video, chunk_frames, tile, tile_overlap)

    def encode(self, video, *, key: jax.Array | None = None, chunk_frames: int | None = None,
               tile: tuple[int, int] | None = None, tile_overlap: int | None = None) -> jax.Array:
        """Latent `[B, t, h, w, C]`: the KL posterior mode (a sample if `key` is given) or FSQ codes.

        `chunk_frames` (a multiple of the temporal factor) encodes a chunk at a time: exact for
        causal models; independent clips for non-causal ones. `tile=(h, w)` encodes overlapping
        spatial tiles (`tile_overlap` pixels, default a quarter tile) and blends them.
        """
        if key is not None and self.config.is_fsq:
            raise InputError("FSQ models are deterministic: encode(video) takes no key")
        if key is None and chunk_frames is None and tile is None:
            return self._run("encode", self.check_video(video))
        moments = self.encode_moments(video, chunk_frames=chunk_frames, tile=tile, tile_overlap=tile_overlap)
        if key is not None:
            return gaussian_sample(moments, key)
        return self._run("latent_from_moments", moments)

    def _require_fsq(self) -> None:
        if not self.config.is_fsq:
            raise InputError(f"{self.config.name} is a KL model with continuous latents: use encode(), "
                             "or an FSQ config to get token ids")

    def tokenize(self, video, *, chunk_frames: int | None = None, tile=None, tile_overlap=None) -> jax.Array:
        """FSQ token ids, int32 `[B, t, h, w]` (options as in `encode`)."""
        self._require_fsq()
        if chunk_frames is None and tile is None:
            return self._run("tokenize", self.check_video(video))
        moments = self.encode_moments(video, chunk_frames=chunk_frames, tile=tile, tile_overlap=tile_overlap)
        return self._run("tokens_from_moments", moments)

    def decode(self, z, *, num_frames: int | None = None, chunk_latents: int | None = None, tile=None,
               tile_overlap=None) -> jax.Array:
        """Video from latents: the official decoder's output, or its last `num_frames` frames.

        Causal v1.1 models decode t latent frames into 4t frames (8t for 888, 2t for 288): an input
        of T frames was padded at its start to that length, so `num_frames=T` gives back exactly the
        input's frames. v1.0 causal models decode 1 + 4(t - 1) frames, the input's when it had
        1 + 4k frames. `chunk_latents` decodes that many latent frames at a time (exact for causal
        models); `tile=(h, w)` pixels decodes overlapping tiles and blends them.
        """
        z = self.check_latent(z)
        if chunk_latents is None and tile is None:
            out = self._run("decode", z)
        else:
            pieces = stream_decode(self.model, self.params, [z], z.shape[1] if chunk_latents is None else chunk_latents,
                                   tile=tile, tile_overlap=tile_overlap)
            out = jnp.concatenate(list(pieces), axis=1)
        if num_frames is None:
            return out
        if not 1 <= num_frames <= out.shape[1]:
            raise InputError(f"num_frames={num_frames}: {z.shape[1]} latent frames decode into {out.shape[1]} frames")
        return out[:, -num_frames:]

    def detokenize(self, ids, *, num_frames: int | None = None, chunk_latents: int | None = None, tile=None,
                   tile_overlap=None) -> jax.Array:
        """Video from FSQ token ids `[B, t, h, w]` (options as in `decode`)."""
        codes = FSQ(self.config.regularizer).indices_to_codes(self.check_ids(ids))
        return self.decode(codes, num_frames=num_frames, chunk_latents=chunk_latents, tile=tile, tile_overlap=tile_overlap)

    def reconstruct(self, video, *, chunk_frames: int | None = None, tile=None, tile_overlap=None) -> jax.Array:
        """Encode and decode; the output has the input's shape (options as in `encode`)."""
        video = self.check_video(video, reconstruct=True)
        if chunk_frames is None and tile is None:
            out = self._run("__call__", video)
        else:
            chunk = self._whole_chunk(video.shape[1]) if chunk_frames is None else chunk_frames
            out = jnp.concatenate(list(self.reconstruct_stream(
                split_frames(video, chunk), video.shape[1], chunk, tile=tile, tile_overlap=tile_overlap)), axis=1)
        return out[:, -video.shape[1]:]

    def encode_stream(self, frame_chunks: Iterable, num_frames: int, chunk_frames: int, *,
                      tile=None, tile_overlap=None) -> Iterator[jax.Array]:
        """Latents of a video that arrives as chunks of frames (e.g. read from a file).

        Yields one latent chunk per `chunk_frames` frames; memory does not grow with the length.
        """
        yield from self._encode_chunks(frame_chunks, num_frames, chunk_frames, "latent_from_moments", tile, tile_overlap)

    def _encode_chunks(self, frame_chunks: Iterable, num_frames: int, chunk_frames: int, method: str, tile,
                       tile_overlap) -> Iterator[jax.Array]:
        """``method`` applied to the moments of each streamed chunk; the chunks' value checks stay on the device
        and are fetched one output behind (`DeferredChecks`), so the host never stalls the stream on them."""
        checks = DeferredChecks(lambda piece: self.check_video(piece, chunk=True, values=False), _check_pixel_values)
        moments = stream_encode(self.model, self.params, checks.inputs(frame_chunks), num_frames, chunk_frames,
                                tile=tile, tile_overlap=tile_overlap)
        yield from checks.outputs(self._run(method, m) for m in moments)

    def decode_stream(self, latent_chunks: Iterable, chunk_latents: int, *, tile=None,
                      tile_overlap=None) -> Iterator[jax.Array]:
        """Frames of latents that arrive as chunks; yields frames as soon as they are final."""
        checked = (self.check_latent(chunk) for chunk in latent_chunks)
        yield from stream_decode(self.model, self.params, checked, chunk_latents, tile=tile,
                                 tile_overlap=tile_overlap)

    def tokenize_stream(self, frame_chunks: Iterable, num_frames: int, chunk_frames: int, *,
                        tile=None, tile_overlap=None) -> Iterator[jax.Array]:
        """FSQ token ids of a video that arrives as chunks of frames: one id chunk `[B, k, h, w]` per piece."""
        self._require_fsq()
        yield from self._encode_chunks(frame_chunks, num_frames, chunk_frames, "tokens_from_moments", tile, tile_overlap)

    def detokenize_stream(self, id_chunks: Iterable, chunk_latents: int, *, tile=None,
                          tile_overlap=None) -> Iterator[jax.Array]:
        """Frames of FSQ token ids that arrive as chunks `[B, k, h, w]`; yields frames as soon as they are final."""
        self._require_fsq()
        fsq = FSQ(self.config.regularizer)
        codes = (fsq.indices_to_codes(self.check_ids(chunk)) for chunk in id_chunks)
        yield from self.decode_stream(codes, chunk_latents, tile=tile, tile_overlap=tile_overlap)

    def reconstruct_stream(self, frame_chunks: Iterable, num_frames: int, chunk_frames: int, *,
                           tile=None, tile_overlap=None) -> Iterator[jax.Array]:
        """Reconstructed frames of a video that arrives as chunks: `num_frames` frames in all."""
        cfg = self.config
        if cfg.causal and cfg.version == "1.0" and num_frames % cfg.temporal_factor == 0:
            raise InputError(f"v1.0 causal models reconstruct 1 + {cfg.temporal_factor}k frames, got {num_frames}")
        latents = self.encode_stream(frame_chunks, num_frames, chunk_frames, tile=tile, tile_overlap=tile_overlap)
        frames = self.decode_stream(latents, max(1, chunk_frames // cfg.temporal_factor), tile=tile,
                                    tile_overlap=tile_overlap)
        skip = cfg.encoder.time_padding(num_frames) if cfg.version == "1.1" else 0
        for chunk in frames:
            if skip:
                dropped = min(skip, chunk.shape[1])
                chunk, skip = chunk[:, dropped:], skip - dropped
            if chunk.shape[1]:
                yield chunk

    def check_video(self, video, *, reconstruct: bool = False, chunk: bool = False, values: bool = True) -> jax.Array:
        """Validate a video batch `[B, T, H, W, C]` in [-1, 1] and return it as a float array.

        `chunk`: a piece of a streamed video, whose frame count is checked with the whole stream's;
        `values=False` leaves the check of the values (finite, in range) to the caller."""
        cfg = self.config
        shape = tuple(np.shape(video))
        if len(shape) != 5:
            hint = " (add a batch axis: video[None])" if len(shape) == 4 else ""
            raise InputError(f"expected a video batch [B, T, H, W, {cfg.encoder.in_channels}], got shape {shape}{hint}")
        b, t, h, w, c = shape
        if c != cfg.encoder.in_channels:
            hint = " (channels-first input? use jnp.moveaxis(video, 1, -1))" if t == cfg.encoder.in_channels else ""
            raise InputError(f"expected {cfg.encoder.in_channels} channels last, got shape {shape}{hint}")
        s = cfg.spatial_factor
        if h % s or w % s:
            raise InputError(f"height and width must be multiples of {s} for {cfg.name}, got {h}x{w}: "
                             f"crop or pad to {h // s * s or s}x{w // s * s or s}")
        f = cfg.temporal_factor
        problem = None if chunk else cfg.frame_count_problem(t)
        if problem:
            raise InputError(problem)
        if reconstruct and cfg.causal and cfg.version == "1.0" and t % f == 0:
            raise InputError(f"v1.0 causal models reconstruct 1 + {f}k frames; {t} frames would come back as "
                             f"{t - f + 1}: use {t - f + 1} or {t + 1} frames")
        dtype = getattr(video, "dtype", np.asarray(video).dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise InputError(f"expected float pixels in [-1, 1], got dtype {dtype}: convert with "
                             "video.astype(np.float32) / 127.5 - 1")
        video = jnp.asarray(video, jnp.float32)  # to the device once; the value check below runs there
        if values and not isinstance(video, jax.core.Tracer):
            _check_pixel_values(*finite_range(video))
        return video

    def check_latent(self, z) -> jax.Array:
        shape = tuple(np.shape(z))
        c = self.config.decoder.z_channels
        if len(shape) != 5 or shape[-1] != c:
            raise InputError(f"expected latents [B, t, h, w, {c}] for {self.config.name}, got shape {shape}")
        return jnp.asarray(z, jnp.float32)

    def check_ids(self, ids) -> jax.Array:
        if not self.config.is_fsq:
            raise InputError(f"{self.config.name} is a KL model: it has no token ids; use decode(z)")
        shape = tuple(np.shape(ids))
        dtype = getattr(ids, "dtype", np.asarray(ids).dtype)
        if len(shape) != 4 or not jnp.issubdtype(dtype, jnp.integer):
            raise InputError(f"expected integer token ids [B, t, h, w], got shape {shape} dtype {dtype}")
        if not isinstance(ids, jax.core.Tracer) and np.size(ids):
            lo, hi, size = int(jnp.min(ids)), int(jnp.max(ids)), self.codebook_size
            if lo < 0 or hi >= size:
                raise InputError(f"token ids must be in [0, {size - 1}] for {self.config.name}, found values "
                                 f"in [{lo}, {hi}]: were they made by another config?")
        return jnp.asarray(ids, jnp.int32)


def _check_param_shapes(config: ModelConfig, params: dict, source: str) -> None:
    expected = {path: tuple(v.shape) for path, v in flatten_dict(param_shapes(config)).items()}
    found = {path: tuple(np.shape(v)) for path, v in flatten_dict(params).items()}
    if expected != found:
        differing = sorted("/".join(p) for p in set(expected) ^ set(found)
                           or [p for p in expected if expected[p] != found[p]])
        raise CheckpointError(f"{source} does not fit the config {config.name}: "
                              f"{len(differing)} parameters differ, e.g. {', '.join(differing[:5])}")


def load_tokenizer(config: str | Path | ModelConfig | None = None, checkpoint: str | Path | None = None, *,
                   dtype: Any = jnp.float32, seed: int = 0) -> Tokenizer:
    """Load a VidTok model; with no `config` and no `checkpoint`, the bundled default model.

    `config`: an official YAML file or the name of a bundled config (e.g.
    "vidtok_kl_causal_488_4chn"); optional for a training workdir, which stores its config.
    `checkpoint`: an official Lightning `.ckpt`, a `.safetensors` file, the workdir of a
    `train.py` run (its latest checkpoint), or a Hub repository id (`"microsoft/VidTok"`: its
    `checkpoints/<config>.ckpt`, through huggingface_hub's cache). Without a checkpoint the weights are random (seeded by
    `seed`) and a warning says so, except for `config="vidtok_jax_default"`, the bundled model.
    `dtype=jnp.bfloat16` runs the convolutions in bfloat16 with float32 parameters; the quantizer
    and posterior stay float32.
    """
    dtype = compute_dtype(dtype)
    config, checkpoint = with_default_weights(config, checkpoint)
    if checkpoint is not None and is_hub_id(checkpoint):
        if config is None or isinstance(config, ModelConfig):
            raise ConfigError(f"checkpoint={checkpoint!r} is a Hub repository: give config= the name of the release "
                              "to take from it (e.g. 'vidtok_kl_causal_488_4chn')")
        checkpoint = hub_vidtok_checkpoint(Path(config).stem, str(checkpoint))
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.is_dir():
        from vidtok_jax.vidtok.checkpoint import load_params_from_workdir
        saved_config, params = load_params_from_workdir(path)
        cfg = saved_config if config is None else load_model_config(config)
        _check_param_shapes(cfg, params, str(path))
        return Tokenizer(cfg, jax.tree_util.tree_map(jnp.asarray, params), dtype=dtype)
    if path is not None and not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path is not None and path.suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"{path} is not a checkpoint: give an official .ckpt or .safetensors file, or a "
                              "train.py workdir")
    if config is None:
        raise ConfigError(f"{path} needs its config: give config= the name of a bundled config (see "
                          "vidtok_jax.bundled_config_names(); 'vidtok_jax_default' for weights exported from the "
                          "bundled default model) or an official YAML file")
    cfg = load_model_config(config)
    if path is None:
        warnings.warn(f"no checkpoint given: {cfg.name} has random weights (seed {seed})", stacklevel=2)
        return Tokenizer(cfg, init_params(cfg, seed), dtype=dtype)
    params, extras = params_from_state_dict(param_shapes(cfg), read_state_dict(path), source=str(path))
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return Tokenizer(cfg, params, dtype=dtype, extras=extras)


def export_safetensors(tokenizer: Tokenizer, path: str | Path, *, include_extras: bool = True) -> None:
    """Write the tokenizer's weights as an official-layout `.safetensors` state dict.

    The official PyTorch code loads it with `ckpt_path=...safetensors`. `include_extras` keeps the
    non-model entries read from the source checkpoint (`loss.*`: discriminator and logvar).
    """
    extras = tokenizer.extras if include_extras else None
    save_safetensors(path, state_dict_from_params(jax.device_get(tokenizer.params), extras))
