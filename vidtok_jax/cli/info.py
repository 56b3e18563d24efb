"""``vidtok-jax info``: a table of model configs with their compression, latent size and parameter count."""

import sys

from tqdm import tqdm

from vidtok_jax.vidtok.config import ModelConfig, load_model_config
from vidtok_jax.vidtok.tokenizer import count_params

COLUMNS = ("config", "version", "causal", "regularizer", "compression (t x h x w)", "latent", "parameters", "ratio")


def config_row(config: ModelConfig) -> tuple[str, ...]:
    """One table row; the ratio is pixel values (t·h·w·3) per latent value (C) of one latent position."""
    t, s = config.temporal_factor, config.spatial_factor
    latent = f"{config.regularizer.codebook_size} codes" if config.is_fsq else f"{config.latent_channels} channels"
    ratio = t * s * s * config.encoder.in_channels / config.latent_channels
    return (config.name, config.version, "yes" if config.causal else "no", config.regularizer.kind.upper(),
            f"{t}x{s}x{s}", latent, f"{count_params(config):,}", f"{ratio:g}")


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns under a header, separated by two spaces."""
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [COLUMNS, *rows]]
    return "\n".join(lines)


def print_info(configs: list[str]) -> None:
    """Print the table for ``configs`` (bundled names or YAML paths); counting parameters takes about a second each."""
    loaded = [load_model_config(config) for config in configs]
    rows = [config_row(config) for config in tqdm(loaded, desc="counting parameters", file=sys.stderr, disable=None, leave=False)]
    print(format_table(rows))
