"""``vidtok-jax evaluate``: reconstruction quality of a tokenizer over a set of videos (PSNR, SSIM, LPIPS, FVD).

The protocol follows VidTok's evaluation: frames resampled to about 30 fps, the shorter side
resized to 256 and center-cropped, and each video cut into consecutive clips of 17 frames
(causal models) or 16 (non-causal) that are reconstructed independently; the last clip is
padded by repeating its last frame, and the padding is left out of the metrics. With
``whole_video`` each video is reconstructed in one piece instead (streamed with ``chunk_frames``).

Per video: the mean over its frames of PSNR, SSIM and LPIPS (``vidtok_jax.metrics``, on the
reconstruction clamped to [-1, 1]); overall: the mean of the per-video values, and FVD between the
sets of input and reconstructed clips (windows of ``frames`` frames).

Output folder: ``metrics.json``, and for the first ``max_pictures`` videos ``NNN-NAME-frames.png``
(input / reconstruction / absolute error x4 at evenly spaced frames) and ``NNN-NAME-psnr.png``
(PSNR of each frame). Every file is written atomically.
"""

import os
import re
import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from vidtok_jax.cli.encode_dir import failure_reason, list_sources, report_failures
from vidtok_jax.cli.frames import Preprocessing, joined_frames, open_video
from vidtok_jax.cli.model import ModelOptions, reconstruct_video
from vidtok_jax.cli.plots import comparison_grid, psnr_plot
from vidtok_jax.data.chunks import padded, regroup
from vidtok_jax.data.images import write_png
from vidtok_jax.errors import VidTokError
from vidtok_jax.metrics import frechet_distance, i3d_logits, lpips, psnr, ssim
from vidtok_jax.metrics.fvd import MIN_FRAMES as FVD_MIN_FRAMES
from vidtok_jax.metrics.weights import converted_weights_path
from vidtok_jax.runtime.atomic_files import save_json
from vidtok_jax.vidtok.tokenizer import Tokenizer

METRICS_NAME = "metrics.json"
METRICS_FORMAT = "vidtok-jax evaluation"


@dataclass(frozen=True)
class EvaluationOptions:
    """The protocol's options beyond model and preprocessing (the command-line options)."""

    frames: int  # clip length, and the FVD window
    whole_video: bool = False
    max_videos: int | None = None
    lpips_net: str = "vgg"
    fvd: bool = True
    max_pictures: int = 4


def require_metric_weights(options: EvaluationOptions) -> None:
    """Convert (or find in the cache) the LPIPS and, if FVD will be computed, the I3D weights; a
    CheckpointError naming the install command if they are missing."""
    converted_weights_path(f"lpips_{options.lpips_net}")
    if options.fvd and options.frames >= FVD_MIN_FRAMES:
        converted_weights_path("i3d_kinetics400")


def _reconstruct(tokenizer: Tokenizer, path: str, preprocessing: Preprocessing, model: ModelOptions,
                 options: EvaluationOptions) -> tuple[jax.Array, jax.Array]:
    """Input frames and their reconstruction clamped to [-1, 1], both device arrays ``[T, H, W, 3]`` without any
    --pad padding: each clip goes to the device once, and the metrics are computed where the reconstruction is."""
    source = open_video(path, preprocessing, tokenizer.config.spatial_factor)
    if options.whole_video:
        return joined_frames(reconstruct_video(tokenizer, source, model), source)

    def reconstructed(clip: jax.Array) -> jax.Array:
        return tokenizer.reconstruct(padded([clip], options.frames)[None], **model.tiling())[0][:len(clip)]

    clips = (jnp.asarray(clip) for clip in regroup(source.batches(), options.frames))
    return joined_frames(((clip, reconstructed(clip)) for clip in clips), source)


def _clip_starts(num_frames: int, options: EvaluationOptions) -> list[int]:
    """The frames that begin an independently coded piece (a causal model codes them alone, as images):
    frame 1 of the whole video, or the first frame of every clip."""
    return [0] if options.whole_video else list(range(0, num_frames, options.frames))


def _fvd_windows(frames: jax.Array, length: int) -> jax.Array:
    """Consecutive windows ``[n, length, H, W, 3]``, the last padded by repeating its last frame."""
    return jnp.stack([padded([window], length) for window in regroup([frames], length)])


def _file_stem(number: int, name: str) -> str:
    return f"{number:03d}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _fvd(features: list[np.ndarray], options: EvaluationOptions) -> tuple[float | None, str | None]:
    """FVD over the clips, or None and why it was skipped."""
    if not options.fvd:
        return None, "skipped (--no-fvd)"
    if options.frames < FVD_MIN_FRAMES:
        return None, f"skipped: FVD needs clips of at least {FVD_MIN_FRAMES} frames, got --frames {options.frames}"
    clips = sum(len(batch) for batch in features)
    if clips < 2:
        return None, f"skipped: FVD needs at least 2 clips, got {clips}"
    inputs, outputs = (np.concatenate([batch[:, index] for batch in features]) for index in (0, 1))
    return frechet_distance(inputs, outputs), None


def _format(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_table(videos: list[dict], means: dict, fvd: float | None, fvd_note: str | None) -> None:
    width = max([len("video"), len("mean")] + [len(video["name"]) for video in videos])
    print(f"{'video':<{width}}  {'frames':>6}  {'PSNR':>7}  {'PSNR later frames':>17}  {'SSIM':>6}  {'LPIPS':>6}")
    for row in videos + [{"name": "mean", "frames": sum(video["frames"] for video in videos), **means}]:
        print(f"{row['name']:<{width}}  {row['frames']:>6}  {_format(row['psnr'], 3):>7}  "
              f"{_format(row['psnr_later'], 3):>17}  {_format(row['ssim'], 4):>6}  {_format(row['lpips'], 4):>6}")
    print(f"FVD: {_format(fvd, 2)}" + (f" ({fvd_note})" if fvd_note else ""))


def evaluate(data: str, out: str, *, tokenizer: Tokenizer, model: ModelOptions, preprocessing: Preprocessing,
             options: EvaluationOptions) -> int:
    """Evaluate every video of ``data`` (folder or CSV with a ``videos`` column) into ``out``; returns the exit status."""
    sources = list_sources(data, None)[:options.max_videos]
    os.makedirs(out, exist_ok=True)
    videos, failures, features = [], {}, []
    for number, (name, path) in enumerate(tqdm(sources, desc="evaluate", unit="video", file=sys.stderr, disable=None)):
        try:
            inputs, outputs = _reconstruct(tokenizer, path, preprocessing, model, options)
        except (VidTokError, OSError) as error:
            failures[name] = failure_reason(error, path)
            continue
        per_frame = jax.device_get({"psnr": psnr(inputs, outputs), "ssim": ssim(inputs, outputs),
                                    "lpips": lpips(inputs, outputs, net=options.lpips_net)})
        later = np.delete(per_frame["psnr"], _clip_starts(len(inputs), options))
        videos.append({"name": name, "path": path, "frames": len(inputs),
                       **{metric: float(np.mean(values)) for metric, values in per_frame.items()},
                       "psnr_later": float(np.mean(later)) if len(later) else None,
                       "psnr_per_frame": [round(float(value), 4) for value in per_frame["psnr"]]})
        if options.fvd and options.frames >= FVD_MIN_FRAMES:
            features.append(np.stack([i3d_logits(_fvd_windows(frames, options.frames)) for frames in (inputs, outputs)], axis=1))
        if number < options.max_pictures:
            stem = os.path.join(out, _file_stem(number, name))
            write_png(f"{stem}-frames.png", comparison_grid(inputs, outputs, per_frame["psnr"]))
            write_png(f"{stem}-psnr.png", psnr_plot(per_frame["psnr"]))
    means = {metric: _mean([video[metric] for video in videos if video[metric] is not None])
             for metric in ("psnr", "psnr_later", "ssim", "lpips")}
    fvd, fvd_note = _fvd(features, options)
    save_json(os.path.join(out, METRICS_NAME), {
        "format": METRICS_FORMAT, "config": model.config, "checkpoint": model.checkpoint,
        "settings": {"frames": options.frames, "whole_video": options.whole_video, "size": preprocessing.size,
                     "pad": preprocessing.pad, "fps": preprocessing.fps, "max_frames": preprocessing.max_frames,
                     "max_videos": options.max_videos, "chunk_frames": model.chunk_frames, "dtype": model.dtype,
                     "lpips_net": options.lpips_net},
        "videos": videos, "mean": means, "fvd": fvd, "fvd_note": fvd_note, "failures": failures})
    _print_table(videos, means, fvd, fvd_note)
    print(f"wrote {os.path.join(out, METRICS_NAME)}")
    return report_failures(failures, len(sources))
