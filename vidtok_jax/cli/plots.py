"""Pictures of an evaluation as uint8 RGB arrays: input / reconstruction / error frame grids (optionally captioned
with frame numbers and PSNR) and per-frame PSNR plots.

Drawn with numpy alone: a 3x5 pixel font for the numbers, axes, grid lines and a polyline.
"""

import math

import numpy as np

from vidtok_jax.images import frame_grid

ERROR_GAIN = 4  # the error row shows |input - reconstruction| times this, so small errors are visible
GRID_COLUMNS = 6

_GLYPHS = {  # 3 columns x 5 rows, row by row
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "d": "001001111101111", "B": "110101110101110", "f": "011100110100100", "r": "000110100100100",
    "a": "000111011101111", "m": "000111111101101", "e": "000111111100011", " ": "000000000000000",
    "k": "100101110101101", "=": "000111000111000",
}
_FONT_SCALE = 2
_CHAR_WIDTH = 4 * _FONT_SCALE  # glyph and a column of space

_BACKGROUND, _INK, _GRID, _LINE = (255, 255, 255), (40, 40, 40), (225, 225, 225), (31, 119, 180)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 16, 24, 40
_LINE_HEIGHT = 8 * _FONT_SCALE  # a glyph's 5 rows and 3 rows of space
_CAPTION_PADDING = 3 * _FONT_SCALE
CAPTION_HEIGHT = 2 * _LINE_HEIGHT + _CAPTION_PADDING  # two lines of text


def comparison_grid(inputs: np.ndarray, reconstruction: np.ndarray, columns: int = GRID_COLUMNS,
                    psnr: np.ndarray | None = None) -> np.ndarray:
    """Rows input / reconstruction / amplified absolute error of ``columns`` evenly spaced frames of ``[T, H, W, 3]`` in [-1, 1].

    With ``psnr`` (one value per frame) a caption strip above the rows gives each column's frame
    number (counted from 1) and PSNR.
    """
    picked = np.unique(np.linspace(0, len(inputs) - 1, min(columns, len(inputs))).round().astype(int))
    a, b = inputs[picked], reconstruction[picked]
    error = np.clip(np.abs(a - b) / 2 * ERROR_GAIN, 0.0, 1.0) * 2 - 1
    grid = frame_grid(a, b, error)
    if psnr is None:
        return grid
    return np.concatenate([caption_strip([[f"frame {index + 1}", f"{psnr[index]:.2f} dB"] for index in picked], a.shape[2]), grid])


def _draw_text(image: np.ndarray, text: str, top: int, left: int) -> None:
    for position, char in enumerate(text):
        glyph = np.array([int(bit) for bit in _GLYPHS[char]], bool).reshape(5, 3)
        pixels = np.kron(glyph, np.ones((_FONT_SCALE, _FONT_SCALE), bool))
        x = left + position * _CHAR_WIDTH
        image[top:top + pixels.shape[0], x:x + pixels.shape[1]][pixels] = _INK


def caption_strip(lines_per_column: list[list[str]], column_width: int) -> np.ndarray:
    """A white strip ``[CAPTION_HEIGHT, columns · column_width, 3]`` with two lines of text at the left of each
    column, cut to the column's width."""
    strip = np.full((CAPTION_HEIGHT, len(lines_per_column) * column_width, 3), _BACKGROUND, np.uint8)
    fitting = max(0, column_width - _CAPTION_PADDING) // _CHAR_WIDTH
    for column, lines in enumerate(lines_per_column):
        for row, line in enumerate(lines):
            _draw_text(strip, line[:fitting], _CAPTION_PADDING + row * _LINE_HEIGHT, column * column_width + _CAPTION_PADDING)
    return strip


def _nice_step(span: float, max_ticks: int) -> float:
    """The smallest 1, 2 or 5 times a power of ten giving at most ``max_ticks`` ticks over ``span``."""
    power = 10.0 ** math.floor(math.log10(max(span, 1e-9) / max_ticks))
    return next(power * factor for factor in (1, 2, 5, 10) if span / (power * factor) <= max_ticks)


def _ticks(low: float, high: float, max_ticks: int) -> np.ndarray:
    step = _nice_step(high - low, max_ticks)
    return np.arange(math.ceil(low / step) * step, high + step / 1000, step)


def _label(value: float) -> str:
    return f"{value:g}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _polyline(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
    """Line segments through the points, two pixels thick."""
    points = [(x, y) for x, y in zip(xs, ys)]
    for (x0, y0), (x1, y1) in zip(points, points[1:] or points):
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        cols = np.linspace(x0, x1, steps).round().astype(int)
        rows = np.linspace(y0, y1, steps).round().astype(int)
        for dy, dx in ((0, 0), (1, 0), (0, 1), (1, 1)):
            image[np.clip(rows + dy, 0, image.shape[0] - 1), np.clip(cols + dx, 0, image.shape[1] - 1)] = _LINE


def psnr_plot(values: np.ndarray, width: int = 640, height: int = 320) -> np.ndarray:
    """A line plot of per-frame PSNR (dB, y axis) against frame index (x axis), with labelled grid lines."""
    values = np.asarray(values, np.float64)
    image = np.full((height, width, 3), _BACKGROUND, np.uint8)
    left, right, top, bottom = _MARGIN_LEFT, width - _MARGIN_RIGHT, _MARGIN_TOP, height - _MARGIN_BOTTOM
    low, high = math.floor(values.min()), math.ceil(values.max())
    high = max(high, low + 1)
    last_frame = max(len(values) - 1, 1)

    def x_of(frame):
        return left + (right - left) * np.asarray(frame) / last_frame

    def y_of(decibels):
        return bottom - (bottom - top) * (np.asarray(decibels) - low) / (high - low)

    for tick in _ticks(low, high, 6):
        row = int(round(y_of(tick)))
        image[row, left:right] = _GRID
        _draw_text(image, _label(tick), row - 5, left - 8 - _CHAR_WIDTH * len(_label(tick)))
    for tick in _ticks(0, last_frame, 8):
        column = int(round(x_of(tick)))
        image[bottom:bottom + 6, column] = _INK
        _draw_text(image, _label(tick), bottom + 10, column - _CHAR_WIDTH * len(_label(tick)) // 2)
    image[top:bottom + 1, left] = _INK
    image[bottom, left:right + 1] = _INK
    _draw_text(image, "dB", 6, 8)
    _draw_text(image, "frame", height - 12, right - _CHAR_WIDTH * 5)
    frames = np.arange(len(values)) if len(values) > 1 else np.array([0.5])
    _polyline(image, x_of(frames), y_of(values))
    return image
