"""``vidtok-jax flex-demo``: a VideoFlexTok on the bundled demo clip, coarse to fine.

The first chunk (17 frames) of the demo clip (``DEMO_CLIP``) is resized to the model's clip size (which its
Hub folder says) and tokenized; its tokens are decoded keeping the first k of every latent frame for
k = 1, 2, 4, ..., R, all k in one batch. The output folder gets ``flex-demo.mp4`` (input, the VidTok
reconstruction that bounds what any k can reach, then each k, side by side, captioned) and
``flex-demo.png`` (a row per k over evenly spaced frames, each row captioned with k and PSNR); the PSNR
of each k goes to stdout.
"""

import os

import jax
import numpy as np
from PIL import Image

from vidtok_jax.cli.demo import DEMO_CLIP
from vidtok_jax.cli.frames import Preprocessing, open_video
from vidtok_jax.cli.plots import caption_strip
from vidtok_jax.data.images import to_uint8, write_png
from vidtok_jax.data.video import write_video
from vidtok_jax.errors import InputError
from vidtok_jax.flextok import VideoFlexTok
from vidtok_jax.metrics import psnr

VIDEO_NAME = "flex-demo.mp4"
PICTURE_NAME = "flex-demo.png"
PICTURE_COLUMNS = 6
PICTURE_SCALE = 2  # the bundled model's clips are small: the picture shows them at twice their size
LABEL_WIDTH = 112


def powers_of_two(limit: int) -> list[int]:
    """1, 2, 4, ... up to ``limit``, and ``limit`` itself where it is not a power of two."""
    ks = [1 << i for i in range(limit.bit_length()) if 1 << i <= limit]
    return ks if ks[-1] == limit else ks + [limit]


def coarse_to_fine(flex: VideoFlexTok, video: np.ndarray, ks: list[int], *, steps: int | None, seed: int,
                   guidance_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(vidtok, decodes)``: the VidTok reconstruction ``[T, H, W, 3]`` of a video ``[T, H, W, 3]`` and its decodes
    from the first k tokens of every latent frame for each k of ``ks`` ``[len(ks), T, H, W, 3]``, in [-1, 1]."""
    ids = flex.tokenize(video[None])
    batch = np.repeat(np.asarray(ids), len(ks), axis=0)
    decodes = flex.detokenize(batch, key=jax.random.key(seed), size=video.shape[1:3], steps=steps,
                              keep=np.asarray(ks), guidance_scale=guidance_scale)
    vidtok = flex.vidtok.reconstruct(video[None])[0]
    return np.clip(np.asarray(vidtok), -1, 1), np.clip(np.asarray(decodes), -1, 1)


def _label(lines: list[str], height: int) -> np.ndarray:
    strip = caption_strip([lines], LABEL_WIDTH)
    cell = np.full((height, LABEL_WIDTH, 3), 255, np.uint8)
    top = max(0, (height - len(strip)) // 2)
    cell[top:top + len(strip)] = strip[:height - top]
    return cell


def _enlarged(frames: np.ndarray) -> np.ndarray:
    image = Image.fromarray(np.concatenate(list(to_uint8(frames)), axis=1))
    return np.asarray(image.resize((image.width * PICTURE_SCALE, image.height * PICTURE_SCALE), Image.NEAREST))


def rows_picture(rows: list[tuple[list[str], np.ndarray]], columns: int = PICTURE_COLUMNS) -> np.ndarray:
    """One row per ``(caption lines, frames [T, H, W, 3] in [-1, 1])``: the caption at the left, then ``columns``
    evenly spaced frames at twice their size; a strip on top numbers the frames."""
    frames = len(rows[0][1])
    picked = np.unique(np.linspace(0, frames - 1, min(columns, frames)).round().astype(int))
    images = [_enlarged(video[picked]) for _, video in rows]
    height, width = images[0].shape[0], images[0].shape[1] // len(picked)
    header = np.concatenate([np.full((caption_strip([[]], 1).shape[0], LABEL_WIDTH, 3), 255, np.uint8),
                             caption_strip([[f"frame {i + 1}"] for i in picked], width)], axis=1)
    body = [np.concatenate([_label(lines, height), image], axis=1) for (lines, _), image in zip(rows, images)]
    return np.concatenate([header, *body])


def flex_demo(out: str, flex: VideoFlexTok, *, steps: int | None, seed: int) -> int:
    """Tokenize the demo clip, decode it for every power-of-two k, write the video and the picture, print PSNR."""
    if flex.video_size is None:
        raise InputError("this VideoFlexTok does not say its clip size (no latent size in its Hub config.json)")
    source = open_video(DEMO_CLIP, Preprocessing(size=flex.video_size[0]), flex.vidtok.config.spatial_factor)
    video = source.read_all()[:flex.chunk_frames]  # one chunk: the demo shows k, not the long-video path
    ks = powers_of_two(flex.num_registers)
    vidtok, decodes = coarse_to_fine(flex, video, ks, steps=steps, seed=seed)
    vidtok_psnr = float(np.mean(psnr(vidtok, video)))
    values = [float(np.mean(psnr(decode, video))) for decode in decodes]
    print(f"{os.path.basename(DEMO_CLIP)}: {len(video)} frames at {video.shape[2]}x{video.shape[1]}, "
          f"{flex.num_registers} tokens per latent frame, {steps or flex.sampler_steps} Euler steps")
    print(f"{'tokens kept (k)':>16}  PSNR (dB)")
    for k, value in zip(ks, values):
        print(f"{k:>16}  {value:6.2f}")
    print(f"{'VidTok ceiling':>16}  {vidtok_psnr:6.2f}")
    panels = [video, vidtok, *decodes]
    captions = [["input", ""], ["VidTok", f"{vidtok_psnr:.2f} dB"]] + [[f"k={k}", f"{v:.2f} dB"] for k, v in zip(ks, values)]
    side_by_side = np.concatenate([to_uint8(panel) for panel in panels], axis=2)
    strip = caption_strip(captions, video.shape[2])
    movie = np.concatenate([np.broadcast_to(strip, (len(video), *strip.shape)), side_by_side], axis=1)
    video_path, picture_path = os.path.join(out, VIDEO_NAME), os.path.join(out, PICTURE_NAME)
    write_video(video_path, movie, source.fps)
    write_png(picture_path, rows_picture([(lines, panel) for lines, panel in zip(captions, panels)]))
    print(f"wrote {video_path} (input, VidTok, then k = {', '.join(map(str, ks))}, side by side) and {picture_path}")
    return 0
