"""Pictures of an evaluation as uint8 RGB arrays: input / reconstruction / error frame grids (captioned with
frame numbers and PSNR, drawn with Pillow) and per-frame PSNR plots (drawn with matplotlib).

matplotlib is only needed for the plots (``pip install 'vidtok-jax[metrics]'``); ``require_plotting``
says so before any work starts.
"""

import importlib.util

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidtok_jax.data.images import frame_grid
from vidtok_jax.errors import InputError

ERROR_GAIN = 4  # the error row shows |input - reconstruction| times this, so small errors are visible
GRID_COLUMNS = 6

_FONT_SIZE = 13
_LINE_HEIGHT = 16
_CAPTION_PADDING = 6
CAPTION_HEIGHT = 2 * _LINE_HEIGHT + _CAPTION_PADDING  # two lines of text
_INK = (40, 40, 40)
PLOT_SIZE = (640, 320)  # width, height in pixels
_PLOT_DPI = 100


def comparison_grid(inputs: np.ndarray, reconstruction: np.ndarray, psnr: np.ndarray,
                    columns: int = GRID_COLUMNS) -> np.ndarray:
    """Rows input / reconstruction / amplified absolute error of ``columns`` evenly spaced frames of ``[T, H, W, 3]`` in
    [-1, 1], under a caption strip that gives each column's frame number (counted from 1) and PSNR (``psnr``: one
    value per frame)."""
    picked = np.unique(np.linspace(0, len(inputs) - 1, min(columns, len(inputs))).round().astype(int))
    a, b = np.asarray(inputs[picked]), np.asarray(reconstruction[picked])  # only these frames leave the device
    error = np.clip(np.abs(a - b) / 2 * ERROR_GAIN, 0.0, 1.0) * 2 - 1
    captions = caption_strip([[f"frame {index + 1}", f"{psnr[index]:.2f} dB"] for index in picked], a.shape[2])
    return np.concatenate([captions, frame_grid(a, b, error)])


def _fitted(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text`` cut at the end until it fits in ``width`` pixels."""
    while text and draw.textlength(text, font=font) > width:
        text = text[:-1]
    return text


def caption_strip(lines_per_column: list[list[str]], column_width: int) -> np.ndarray:
    """A white strip ``[CAPTION_HEIGHT, columns · column_width, 3]`` with two lines of text at the left of each
    column, cut to the column's width."""
    strip = Image.new("RGB", (len(lines_per_column) * column_width, CAPTION_HEIGHT), "white")
    draw, font = ImageDraw.Draw(strip), ImageFont.load_default(size=_FONT_SIZE)
    room = max(0, column_width - 2 * _CAPTION_PADDING)
    for column, lines in enumerate(lines_per_column):
        for row, line in enumerate(lines[:2]):
            draw.text((column * column_width + _CAPTION_PADDING, _CAPTION_PADDING + row * _LINE_HEIGHT),
                      _fitted(draw, line, font, room), fill=_INK, font=font)
    return np.asarray(strip)


def require_plotting() -> None:
    """An InputError naming the install command when matplotlib (for the PSNR plots) is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise InputError("the per-frame PSNR plots need matplotlib: pip install 'vidtok-jax[metrics]' "
                         "(or --max-pictures 0 for no pictures)")


def psnr_plot(values: np.ndarray) -> np.ndarray:
    """A line plot of per-frame PSNR (dB, y axis) against frame number (x axis, from 1): uint8 ``[320, 640, 3]``."""
    require_plotting()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(values, np.float64)
    figure = Figure(figsize=(PLOT_SIZE[0] / _PLOT_DPI, PLOT_SIZE[1] / _PLOT_DPI), dpi=_PLOT_DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) < 40 else None)
    axes.set_xlabel("frame")
    axes.set_ylabel("PSNR (dB)")
    axes.grid(True, alpha=0.3)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
