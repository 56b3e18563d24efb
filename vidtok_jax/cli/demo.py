"""``vidtok-jax demo``: reconstruct the clip that ships with the package and show how close the reconstruction is.

The clip, ``DEMO_CLIP``, is 65 frames of 224 x 128 at 12.5 fps from Big Buck Bunny ((c) Blender
Foundation, CC BY 3.0; ``ATTRIBUTION.txt`` beside it says where it comes from and how it was
made). The output folder gets ``demo-side-by-side.mp4`` (input left, reconstruction right) and
``demo-frames.png`` (input / reconstruction / error x4 at evenly spaced frames, each column headed
by its frame number and PSNR); the PSNR of every frame, their mean and the mean of frames 2..N go
to stdout. Frame 1 is reported apart because causal models code it alone, as an image.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from vidtok_jax.cli.frames import VideoSource, joined_frames, side_by_side
from vidtok_jax.cli.model import ModelOptions, reconstruct_video
from vidtok_jax.cli.parser import UsageError
from vidtok_jax.cli.plots import comparison_grid
from vidtok_jax.data.images import write_png
from vidtok_jax.data.video import write_video
from vidtok_jax.metrics import psnr
from vidtok_jax.vidtok.tokenizer import Tokenizer

DEMO_CLIP = Path(__file__).resolve().parents[1] / "assets" / "demo" / "big_buck_bunny.mp4"
VIDEO_NAME = "demo-side-by-side.mp4"
GRID_NAME = "demo-frames.png"
_VALUES_PER_LINE = 10


def check_output_folder(folder: str) -> None:
    """Refuse a folder that does not exist or cannot be written to, as bad usage, before anything slow happens."""
    if not os.path.isdir(folder):
        raise UsageError(f"--output {folder}: no such folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"--output {folder}: cannot write there ({error.strerror or error})") from None


def _print_psnr(values: np.ndarray) -> None:
    print("PSNR per frame (dB):")
    for start in range(0, len(values), _VALUES_PER_LINE):
        row = values[start:start + _VALUES_PER_LINE]
        print(f"  frames {start + 1:>3}-{start + len(row):<3} " + " ".join(f"{value:.2f}" for value in row))
    print(f"mean PSNR: {values.mean():.2f} dB over {len(values)} frames")
    if len(values) > 1:
        print(f"mean PSNR of frames 2..{len(values)}: {values[1:].mean():.2f} dB")


def demo(out: str, *, tokenizer: Tokenizer, model: ModelOptions, source: VideoSource) -> int:
    """Reconstruct ``source`` (the demo clip), write the side-by-side video and the frame grid into ``out``, print PSNR."""
    inputs, outputs = joined_frames(reconstruct_video(tokenizer, source, model), source)
    values = np.asarray(psnr(inputs, outputs), np.float64)
    video, grid = os.path.join(out, VIDEO_NAME), os.path.join(out, GRID_NAME)
    write_video(video, side_by_side(inputs, outputs), source.fps)
    write_png(grid, comparison_grid(inputs, outputs, values))
    _print_psnr(values)
    print(f"wrote {video} ({len(inputs)} frames at {source.fps:g} fps, input | reconstruction) and {grid}")
    return 0
