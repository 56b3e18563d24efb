"""The bundled default tokenizer: a small causal KL model that ships with the package.

`load_tokenizer()` with no arguments, and the `vidtok-jax` commands without `--config` and
`--checkpoint`, use it, so that everything runs on a fresh machine without downloading weights.
It is small and briefly trained (see README): for real work load an official VidTok checkpoint.
Its config is found by name like the bundled official configs: `load_model_config(DEFAULT_MODEL_NAME)`.
"""

from __future__ import annotations

from pathlib import Path

from vidtok_jax.errors import CheckpointError

DEFAULT_MODEL_NAME = "vidtok_jax_default"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "default"


def weights_path(source: str | Path) -> Path:
    """A checkpoint path, where the name ``vidtok_jax_default`` stands for the bundled model's weights."""
    return default_model_files()[1] if str(source) == DEFAULT_MODEL_NAME else Path(source)


def default_model_files() -> tuple[Path, Path]:
    """The bundled default model's config YAML and `.safetensors` weights."""
    config = DEFAULT_MODEL_DIR / f"{DEFAULT_MODEL_NAME}.yaml"
    weights = DEFAULT_MODEL_DIR / f"{DEFAULT_MODEL_NAME}.safetensors"
    missing = [str(path) for path in (config, weights) if not path.is_file()]
    if missing:
        raise CheckpointError(f"the bundled default model is incomplete, missing {', '.join(missing)}: reinstall "
                              "vidtok-jax, or give a config and checkpoint")
    return config, weights


def with_default_weights(config, checkpoint) -> tuple:
    """``(config, checkpoint)``, or the bundled model's name and weights where no checkpoint is given and
    ``config`` is ``None`` or the bundled model's name."""
    if checkpoint is None and (config is None or config == DEFAULT_MODEL_NAME):
        return DEFAULT_MODEL_NAME, str(default_model_files()[1])
    return config, checkpoint
