"""A tokenizer run over a whole video file: lengths the model takes, 16-frame clips, streaming and tiling.

Videos are padded in time by repeating their last frame to a length the model handles exactly,
and the extra frames are dropped after decoding:

- non-causal models run on clips of ``NONCAUSAL_CLIP_FRAMES`` frames (the length they were
  trained on), read, run and written one clip at a time;
- causal models run on 1 + k·temporal_factor frames: a short video in one piece; a longer one
  (or any with ``chunk_frames``) streamed from the file through the tokenizer's exact chunked path
  (``encode_stream`` ...), so memory does not grow with the length of the video.

Tiling options go to the tokenizer as given, and only when the user gave them.
"""

import dataclasses
import math
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from vidtok_jax.cli.frames import VideoSource
from vidtok_jax.data.chunks import CountedFrames, exactly, pad_end, padded, paired_with_inputs, regroup, skip_and_take
from vidtok_jax.errors import InputError
from vidtok_jax.vidtok.config import ModelConfig
from vidtok_jax.vidtok.tokenizer import Tokenizer, load_tokenizer

NONCAUSAL_CLIP_FRAMES = 16
STREAM_CHUNK_FRAMES = 16


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

    def tiling(self) -> dict:
        """The tiling keyword arguments the user gave, and only those."""
        given = {"tile": self.tile, "tile_overlap": self.tile_overlap}
        return {name: value for name, value in given.items() if value is not None}


def streamed(options: ModelOptions, config: ModelConfig, num_frames: int) -> ModelOptions:
    """The options, with pieces of ``STREAM_CHUNK_FRAMES`` for a causal video longer than that when no
    ``chunk_frames`` was given: memory stays flat with the length, and Ctrl-C stops between pieces."""
    if options.chunk_frames is not None or not config.causal or num_frames <= STREAM_CHUNK_FRAMES:
        return options
    return dataclasses.replace(options, chunk_frames=max(1, STREAM_CHUNK_FRAMES // config.temporal_factor)
                               * config.temporal_factor)


def load_model(options: ModelOptions) -> Tokenizer:
    """Load the tokenizer; warnings (such as random weights without a checkpoint) become one stderr line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = load_tokenizer(options.config, options.checkpoint, dtype=jnp.dtype(options.dtype), seed=options.seed)
    for warning in caught:
        print(f"vidtok-jax: warning: {warning.message}", file=sys.stderr)
    return tokenizer


def _latent_length(config: ModelConfig, num_frames: int) -> int:
    if config.causal:
        return config.latent_frames(config.causal_length(num_frames))
    return math.ceil(num_frames / NONCAUSAL_CLIP_FRAMES) * config.latent_frames(NONCAUSAL_CLIP_FRAMES)


def _clips(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, int]]:
    """Non-causal clips, the last padded to full length, with their counts of real frames."""
    for clip in regroup(frames, NONCAUSAL_CLIP_FRAMES):
        yield padded([clip], NONCAUSAL_CLIP_FRAMES), len(clip)


def _whole_video(frames: Iterable[np.ndarray], config: ModelConfig) -> tuple[np.ndarray, int]:
    """All the frames as one array, padded to a length the causal model takes exactly (joined once), and how many
    of them are real."""
    pieces = list(frames)
    count = sum(len(piece) for piece in pieces)
    return padded(pieces, config.causal_length(count)), count


def _frames(source: VideoSource, config: ModelConfig, options: ModelOptions) -> CountedFrames:
    """The model-ready frames of ``source``; a stream's length must be known up front, so it is checked."""
    batches = source.batches()
    if config.causal and options.chunk_frames is not None:
        batches = exactly(batches, source.announced_frames, source.path)
    return CountedFrames(batches)


def _batched(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    return (chunk[None] for chunk in chunks)


def _unbatched(chunks: Iterable) -> Iterator:
    """The chunks without their batch axis, left where they are (on the device): consumers fetch what they need."""
    return (chunk[0] for chunk in chunks)


def _progress(chunks: Iterable[np.ndarray], total: int, description: str, unit: str) -> Iterator[np.ndarray]:
    """The chunks, counted on a progress bar on stderr (shown on a terminal only)."""
    with tqdm(total=total, desc=description, unit=unit, file=sys.stderr, disable=None, leave=False) as bar:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk


def _encoded_pieces(tokenizer: Tokenizer, frames: Iterable[np.ndarray], options: ModelOptions,
                    announced_frames: int) -> Iterator[np.ndarray]:
    """Latents (KL) or token ids (FSQ) of the frames, a piece at a time, through the tokenizer's public calls."""
    config, tiling = tokenizer.config, options.tiling()
    encode, encode_stream = ((tokenizer.tokenize, tokenizer.tokenize_stream) if config.is_fsq
                             else (tokenizer.encode, tokenizer.encode_stream))
    if not config.causal:
        return _unbatched(encode(clip[None], **tiling) for clip, _ in _clips(frames))
    if options.chunk_frames is None:
        return _unbatched([encode(_whole_video(frames, config)[0][None], **tiling)])
    length = config.causal_length(announced_frames)
    return _unbatched(encode_stream(_batched(pad_end(frames, length)), length, options.chunk_frames, **tiling))


def encode_video(tokenizer: Tokenizer, source: VideoSource, options: ModelOptions) -> tuple[np.ndarray, int]:
    """Latents ``[t, h, w, C]`` (KL) or token ids ``[t, h, w]`` (FSQ) of a video, and its frame count."""
    options = streamed(options, tokenizer.config, source.announced_frames)
    frames = _frames(source, tokenizer.config, options)
    pieces = _encoded_pieces(tokenizer, frames, options, source.announced_frames)
    total = _latent_length(tokenizer.config, source.announced_frames)
    return np.concatenate(list(_progress(pieces, total, "encode", "latent frame"))), frames.count


def decode_video(tokenizer: Tokenizer, tokens: np.ndarray, num_frames: int, options: ModelOptions) -> Iterator[np.ndarray]:
    """Latents or token ids (as ``encode_video`` gives them) back to ``num_frames`` float frames, yielded a piece at a time."""
    config, tiling = tokenizer.config, options.tiling()
    options = streamed(options, config, num_frames)
    decode, decode_stream = ((tokenizer.detokenize, tokenizer.detokenize_stream) if config.is_fsq
                             else (tokenizer.decode, tokenizer.decode_stream))
    if len(tokens) != _latent_length(config, num_frames):
        raise InputError(f"{num_frames} frames take {_latent_length(config, num_frames)} latent frames in {config.name}, "
                         f"but the token file holds {len(tokens)}")
    if not config.causal:
        clips = regroup([tokens], NONCAUSAL_CLIP_FRAMES // config.temporal_factor)
        frames = _unbatched(decode(clip[None], **tiling) for clip in clips)
    elif options.chunk_frames is None:
        frames = _unbatched([decode(tokens[None], **tiling)])
    else:
        chunk_latents = max(1, options.chunk_frames // config.temporal_factor)
        frames = _unbatched(decode_stream(_batched(regroup([tokens], chunk_latents)), chunk_latents, **tiling))
    return _progress(skip_and_take(frames, config.leading_decoded_frames, num_frames), num_frames, "decode", "frame")


def _reconstructed_pieces(tokenizer: Tokenizer, frames: Iterable[np.ndarray], options: ModelOptions,
                          announced_frames: int) -> Iterator[np.ndarray]:
    """One reconstructed frame per frame of ``frames``, a piece at a time."""
    config, tiling = tokenizer.config, options.tiling()
    if not config.causal:
        for clip, count in _clips(frames):
            yield tokenizer.reconstruct(clip[None], **tiling)[0][:count]
    elif options.chunk_frames is None:
        video, count = _whole_video(frames, config)
        yield tokenizer.reconstruct(video[None], **tiling)[0][:count]
    else:
        length = config.causal_length(announced_frames)
        stream = tokenizer.reconstruct_stream(_batched(pad_end(frames, length)), length, options.chunk_frames, **tiling)
        yield from skip_and_take(_unbatched(stream), 0, announced_frames)


def reconstruct_video(tokenizer: Tokenizer, source: VideoSource,
                      options: ModelOptions) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode and decode a video; yields (input frames, their reconstruction) a piece at a time."""
    options = streamed(options, tokenizer.config, source.announced_frames)
    def reconstruct(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        pieces = _reconstructed_pieces(tokenizer, frames, options, source.announced_frames)
        return _progress(pieces, source.announced_frames, "reconstruct", "frame")

    return paired_with_inputs(_frames(source, tokenizer.config, options), reconstruct)
