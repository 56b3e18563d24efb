"""``vidtok-jax flex-encode`` and ``flex-decode``: videos to VideoFlexTok token files and back.

A VideoFlexTok token file is an ``.npz`` with ``tokens`` int32 ``[t, R]`` (R tokens per latent
frame, coarse to fine) and ``metadata``, a JSON string: checkpoint file name, frame rate, frame
count, frame size, tokens per frame and codebook size. The video is padded at the end (last frame
repeated) to the 17 + 16k frames of the official chunking; decoding drops the padding again.
``flex-decode --keep-sweep 1,4,16`` decodes the first k tokens of every latent frame for each k and
writes the videos side by side, coarse (left) to fine (right), each under a "k=..." caption.
"""

import json
import os
import sys
import zipfile
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from vidtok_jax.cli.frames import Preprocessing, open_video, to_output_frames
from vidtok_jax.cli.plots import caption_strip
from vidtok_jax.data.transforms import SpatialPadding
from vidtok_jax.data.video import VideoWriter, check_video_output
from vidtok_jax.errors import InputError
from vidtok_jax.flextok import VideoFlexTok, load_videoflextok
from vidtok_jax.flextok.config import VIDTOK_IDS
from vidtok_jax.runtime.atomic_files import check_output_file, save_npz
from vidtok_jax.runtime.checked_values import finite_number, whole_number
from vidtok_jax.vidtok.config import load_model_config
from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_NAME, with_default_weights
from vidtok_jax.vidtok.tokenizer import load_tokenizer

FLEX_TOKEN_FORMAT = "vidtok-jax videoflextok tokens"
BUNDLED_FLEX_NAME = "videoflextok_jax_default"  # how token files name the bundled VideoFlexTok
OFFICIAL_VIDTOK = next(iter(VIDTOK_IDS.values()))
APG = {"eta": 0.0, "momentum": 0.0, "norm_threshold": 0.6}  # the official notebook's knobs


@dataclass(frozen=True)
class FlexOptions:
    """Which VideoFlexTok (and VidTok stage) to load, and in which dtype."""

    checkpoint: str | None = None  # None: the bundled VideoFlexTok
    vidtok_config: str | None = None
    vidtok_checkpoint: str | None = None
    dtype: str = "float32"

    def spatial_factor(self) -> int:
        """The VidTok stage's spatial factor, read from its config (nothing loaded)."""
        default = DEFAULT_MODEL_NAME if self.checkpoint is None else OFFICIAL_VIDTOK
        return load_model_config(self.vidtok_config or default).spatial_factor

    @property
    def name(self) -> str:
        """The checkpoint's file name, as token files record it."""
        return BUNDLED_FLEX_NAME if self.checkpoint is None else os.path.basename(os.path.normpath(self.checkpoint))


def load_flex(options: FlexOptions) -> VideoFlexTok:
    """The VideoFlexTok of ``options``; its VidTok stage from the file or from the ``--vidtok-*`` options."""
    dtype = jnp.dtype(options.dtype)
    vidtok = None
    if options.vidtok_config or options.vidtok_checkpoint:
        config, checkpoint = with_default_weights(options.vidtok_config or OFFICIAL_VIDTOK, options.vidtok_checkpoint)
        check_vidtok_stage(config, checkpoint)
        vidtok = load_tokenizer(config, checkpoint, dtype=dtype)
    flex = load_videoflextok(options.checkpoint, vidtok=vidtok, dtype=dtype)
    if flex.vidtok is None:
        raise InputError(f"{options.checkpoint} holds no VidTok weights (vae.vidtok.*): pass the VidTok stage with "
                         f"--vidtok-checkpoint {flex.config.vidtok_id}.ckpt")
    return flex



def check_vidtok_stage(config: str, checkpoint: str | None) -> None:
    """Refuse, from the config alone, a VidTok stage a VideoFlexTok cannot use: an FSQ model (VideoFlexTok reads
    continuous KL latents) or one without weights (a random stage would make noise)."""
    model = load_model_config(config)
    if model.is_fsq:
        raise InputError(f"--vidtok-config {config} is an FSQ (discrete) VidTok; VideoFlexTok reads the latents of a "
                         f"KL VidTok such as {OFFICIAL_VIDTOK}")
    if checkpoint is None:
        raise InputError(f"--vidtok-config {config} needs its weights: pass --vidtok-checkpoint {config}.ckpt")

def padded_frame_count(flex: VideoFlexTok, frames: int) -> int:
    """The smallest frame count of the official chunking (17 + 16k) that holds ``frames``."""
    below, above = flex.valid_frame_counts(frames)
    return below if below >= frames else above


def flex_encode(input_path: str, output_path: str, options: FlexOptions, preprocessing: Preprocessing, *,
                keep: int | None = None) -> int:
    check_output_file(output_path, input_path)
    source = open_video(input_path, preprocessing, options.spatial_factor())
    flex = load_flex(options)
    if keep is not None and keep > flex.num_registers:
        raise InputError(f"--keep {keep}: the model makes {flex.num_registers} tokens per latent frame")
    if preprocessing.size is None and flex.video_size is not None and flex.video_size[0] == flex.video_size[1]:
        source = open_video(input_path, replace(preprocessing, size=flex.video_size[0]), options.spatial_factor())
    frames = source.read_all()
    if not len(frames):
        raise InputError(f"{input_path}: no frames")
    total = padded_frame_count(flex, len(frames))
    video = np.concatenate([frames, np.repeat(frames[-1:], total - len(frames), axis=0)])
    tokens = np.asarray(flex.tokenize(video[None])[0, :, :keep], np.int32)
    metadata = {"format": FLEX_TOKEN_FORMAT, "format_version": 1, "checkpoint": options.name,
                "fps": source.fps, "num_frames": len(frames), "size": list(frames.shape[1:3]),
                "tokens_per_frame": tokens.shape[1], "codebook_size": flex.codebook_size}
    save_npz(output_path, {"tokens": tokens, "metadata": np.array(json.dumps(metadata))})
    print(f"wrote {output_path}: token ids {list(tokens.shape)} from {len(frames)} frames "
          f"({total - len(frames)} padding frames added)")
    return 0


def load_flex_token_file(path: str) -> tuple[np.ndarray, dict]:
    """The ids and metadata of a file written by ``flex-encode``; anything else is an InputError naming it."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    problem = f"{path}: not a token file written by 'vidtok-jax flex-encode'"
    try:
        with np.load(path, allow_pickle=False) as archive:
            tokens, metadata = archive["tokens"], json.loads(archive["metadata"].item())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, RecursionError):
        raise InputError(problem) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FLEX_TOKEN_FORMAT:
        raise InputError(problem)
    if not np.issubdtype(tokens.dtype, np.integer):
        raise InputError(f"{path}: holds {tokens.dtype} values, not integer token ids")
    if tokens.ndim != 2 or not tokens.size:
        raise InputError(f"{path}: holds an array of shape {list(tokens.shape)}, not token ids [t, R]")
    _check_metadata(path, metadata)
    return tokens, metadata


def _check_metadata(path: str, metadata: dict) -> None:
    """The metadata ``flex-decode`` relies on: a positive frame count, a frame rate, a size of two positive ints."""
    whole_number(metadata.get("num_frames"), f"{path}: metadata num_frames", error=InputError)
    finite_number(metadata.get("fps"), f"{path}: metadata fps", 1e-3, 1e4, error=InputError)
    size = metadata.get("size")
    if not isinstance(size, list) or len(size) != 2:
        raise InputError(f"{path}: metadata size must be [height, width] in pixels, got {size!r}")
    for value in size:
        whole_number(value, f"{path}: metadata size [height, width]", 1, 1 << 14, error=InputError)


def flex_decode(input_path: str, output_path: str, options: FlexOptions, *, keeps: list[int] | None, steps: int | None,
                guidance: float, apg: bool, seed: int) -> int:
    check_output_file(output_path, input_path)
    check_video_output(output_path)
    tokens, metadata = load_flex_token_file(input_path)
    flex = load_flex(options)
    if metadata.get("codebook_size") != flex.codebook_size:
        raise InputError(f"{input_path}: made by a model with {metadata.get('codebook_size')} codes, this one has "
                         f"{flex.codebook_size}: decode with the checkpoint it was made with ({metadata.get('checkpoint')})")
    frames = padded_frame_count(flex, metadata["num_frames"])
    if (frames - 1) // flex.vidtok.config.temporal_factor + 1 != len(tokens):
        raise InputError(f"{input_path}: {len(tokens)} latent frames of tokens cannot hold the {metadata['num_frames']} "
                         "frames its metadata says: the file was altered or written by another tool")
    option = "--keep-sweep" if keeps and len(keeps) > 1 else "--keep"
    keeps = keeps or [tokens.shape[1]]
    if max(keeps) > tokens.shape[1]:
        raise InputError(f"{option} {max(keeps)}: the file holds {tokens.shape[1]} tokens per latent frame")
    videos = []
    for k in tqdm(keeps, desc="flex-decode", unit="k", file=sys.stderr, disable=None, leave=False):
        video = flex.detokenize(tokens[None], key=jax.random.key(seed), size=tuple(metadata["size"]), steps=steps,
                                keep=k, guidance_scale=guidance, apg=APG if apg else None)
        videos.append(to_output_frames(np.asarray(video[0, :metadata["num_frames"]]), SpatialPadding(0, 0)))
    frames = np.concatenate(videos, axis=2)
    if len(keeps) > 1:  # label each panel with its k
        strip = caption_strip([[f"k={k}"] for k in keeps], videos[0].shape[2])
        frames = np.concatenate([np.broadcast_to(strip, (len(frames), *strip.shape)), frames], axis=1)
    with VideoWriter(output_path, metadata["fps"]) as writer:
        writer.write(frames)
    panels = f" side by side, k = {', '.join(map(str, keeps))} from left to right" if len(keeps) > 1 else ""
    print(f"wrote {output_path}: {metadata['num_frames']} frames at {metadata['fps']:g} fps{panels}")
    return 0
