"""A tokenizer run over whole videos: lengths the model takes, 16-frame clips, streaming and tiling options.

Videos are padded in time by repeating their last frame to a length the model handles exactly
(causal: 1 + k·temporal_factor frames, encoded in one go; non-causal: clips of
``NONCAUSAL_CLIP_FRAMES``, the length they were trained on), and the extra frames are dropped
after decoding. Streaming (``chunk_frames``) and tiling options are passed to the tokenizer only
when given, and only if this version's tokenizer accepts them.
"""

import inspect
import math
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from vidtok_jax.errors import InputError
from vidtok_jax.quantizers import FSQ
from vidtok_jax.tokenizer import Tokenizer, load_tokenizer

NONCAUSAL_CLIP_FRAMES = 16


@dataclass(frozen=True)
class ModelOptions:
    """Which model to load and how to run it (the command-line options)."""

    config: str
    checkpoint: str | None = None
    dtype: str = "float32"
    seed: int = 0
    chunk_frames: int | None = None
    tile: tuple[int, int] | None = None
    tile_overlap: int | None = None

    def method_kwargs(self, method: str, temporal_factor: int) -> dict:
        """Keyword arguments of ``Tokenizer.<method>`` for the options the user gave, and only those."""
        kwargs = {}
        if self.chunk_frames is not None:
            if method == "decode":
                kwargs["chunk_latents"] = max(1, self.chunk_frames // temporal_factor)
            else:
                kwargs["chunk_frames"] = self.chunk_frames
        if self.tile is not None:
            kwargs["tile"] = self.tile
        if self.tile_overlap is not None:
            kwargs["tile_overlap"] = self.tile_overlap
        return kwargs


_OPTION_FLAGS = {"chunk_frames": "--chunk-frames", "chunk_latents": "--chunk-frames",
                 "tile": "--tile", "tile_overlap": "--tile-overlap"}


def unsupported_flags(options: ModelOptions, methods: tuple[str, ...]) -> list[str]:
    """The command-line flags among ``options`` that ``Tokenizer.<method>`` does not take in this version."""
    missing = []
    for method in methods:
        parameters = inspect.signature(getattr(Tokenizer, method)).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        for name in options.method_kwargs(method, temporal_factor=1):
            flag = _OPTION_FLAGS[name]
            if not takes_any and name not in parameters and flag not in missing:
                missing.append(flag)
    return missing


def load_model(options: ModelOptions) -> Tokenizer:
    """Load the tokenizer; warnings (such as random weights without a checkpoint) become one stderr line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = load_tokenizer(options.config, options.checkpoint, dtype=jnp.dtype(options.dtype), seed=options.seed)
    for warning in caught:
        print(f"vidtok-jax: warning: {warning.message}", file=sys.stderr)
    return tokenizer


def _segment_frames(tokenizer: Tokenizer, num_frames: int) -> list[int]:
    """Frame counts of the pieces a video of ``num_frames`` frames is run in, after padding in time."""
    config = tokenizer.config
    if config.causal:
        return [1 + config.temporal_factor * math.ceil((num_frames - 1) / config.temporal_factor)]
    return [NONCAUSAL_CLIP_FRAMES] * math.ceil(num_frames / NONCAUSAL_CLIP_FRAMES)


def _latent_frames(tokenizer: Tokenizer, frames: int) -> int:
    factor = tokenizer.config.temporal_factor
    return 1 + (frames - 1) // factor if tokenizer.config.causal else frames // factor


def _pad_time(frames: np.ndarray, length: int) -> np.ndarray:
    """Repeat the last frame until there are ``length`` frames."""
    extra = length - frames.shape[0]
    return np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)]) if extra > 0 else frames


def _progress(items: list, description: str) -> Iterator:
    return iter(tqdm(items, desc=description, unit="clip", file=sys.stderr, disable=len(items) < 2 or None, leave=False))


def _video_segments(tokenizer: Tokenizer, video: np.ndarray) -> list[np.ndarray]:
    lengths = _segment_frames(tokenizer, video.shape[0])
    padded = _pad_time(video, sum(lengths))
    starts = np.cumsum([0] + lengths[:-1])
    return [padded[start:start + length] for start, length in zip(starts, lengths)]


def encode_video(tokenizer: Tokenizer, video: np.ndarray, options: ModelOptions) -> np.ndarray:
    """Float frames ``[T, H, W, 3]`` to latents ``[t, h, w, C]`` (KL) or token ids ``[t, h, w]`` (FSQ)."""
    kwargs = options.method_kwargs("encode", tokenizer.config.temporal_factor)
    segments = _video_segments(tokenizer, video)
    latents = np.concatenate([np.asarray(tokenizer.encode(segment[None], **kwargs))[0]
                              for segment in _progress(segments, "encode")])
    if tokenizer.config.is_fsq:
        return np.asarray(FSQ(tokenizer.config.regularizer).codes_to_indices(latents))
    return latents


def decode_video(tokenizer: Tokenizer, tokens: np.ndarray, num_frames: int, options: ModelOptions) -> Iterator[np.ndarray]:
    """Latents or token ids (as ``encode_video`` gives them) back to float frames, yielded clip by clip, ``num_frames`` in all."""
    config = tokenizer.config
    if config.is_fsq:
        latents = np.asarray(FSQ(config.regularizer).indices_to_codes(tokenizer.check_ids(tokens[None])[0]))
    else:
        latents = np.asarray(tokenizer.check_latent(tokens[None])[0])
    lengths = _segment_frames(tokenizer, num_frames)
    latent_lengths = [_latent_frames(tokenizer, length) for length in lengths]
    if sum(latent_lengths) != latents.shape[0]:
        raise InputError(f"{num_frames} frames take {sum(latent_lengths)} latent frames in {config.name}, "
                         f"but the token file holds {latents.shape[0]}")
    kwargs = options.method_kwargs("decode", config.temporal_factor)
    starts = np.cumsum([0] + latent_lengths[:-1])
    remaining = num_frames
    for start, count, length in _progress(list(zip(starts, latent_lengths, lengths)), "decode"):
        decoded = np.asarray(tokenizer.decode(latents[None, start:start + count], **kwargs))[0]
        yield decoded[-length:][:remaining]
        remaining -= length


def reconstruct_video(tokenizer: Tokenizer, video: np.ndarray, options: ModelOptions) -> Iterator[np.ndarray]:
    """Encode and decode float frames ``[T, H, W, 3]``, yielded clip by clip, as many frames as came in."""
    kwargs = options.method_kwargs("reconstruct", tokenizer.config.temporal_factor)
    remaining = video.shape[0]
    for segment in _progress(_video_segments(tokenizer, video), "reconstruct"):
        yield np.asarray(tokenizer.reconstruct(segment[None], **kwargs))[0][:remaining]
        remaining -= segment.shape[0]
