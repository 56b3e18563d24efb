"""What the three config readers share: YAML reading, key checks with suggestions, named-file lookup.

The readers (official VidTok YAML in ``vidtok.config``, the official VideoFlexTok Hydra tree in
``flextok.config``, our training config in ``train.config``) each know their own keys and rules; the
way they read files, name an unknown key or a missing one, and find a file by name is defined here once.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from vidtok_jax.errors import ConfigError

_EXPONENT_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def read_yaml(text: str) -> Any:
    """YAML as OmegaConf reads it: ``1e-3``-style numbers (strings to plain PyYAML) are floats."""
    def numbers(value):
        if isinstance(value, Mapping):
            return {k: numbers(v) for k, v in value.items()}
        if isinstance(value, list):
            return [numbers(v) for v in value]
        if isinstance(value, str) and _EXPONENT_FLOAT.match(value):
            return float(value)
        return value

    return numbers(yaml.safe_load(text))


def read_yaml_file(path: Path) -> Any:
    """``read_yaml`` of a file; a file that is not YAML is a ``ConfigError`` naming it."""
    try:
        return read_yaml(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a config") from None


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def required_value(spec: Mapping, key: str, where: str) -> Any:
    """``spec[key]``; a key that is absent or null is a ``ConfigError`` naming ``where.key``."""
    if spec.get(key) is None:
        raise ConfigError(f"{where}.{key} is missing")
    return spec[key]


def unknown_key_error(where: str, keys: Iterable[str], allowed: Iterable[str]) -> ConfigError:
    """The error for keys that ``where`` does not have, each with the closest allowed key as a suggestion."""
    allowed = sorted(allowed)
    prefix = f"{where}." if where else ""
    named = []
    for key in sorted(keys):
        close = difflib.get_close_matches(key, allowed, n=1)
        named.append(f"'{prefix}{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return ConfigError(f"unknown key{'s' if len(named) > 1 else ''} {', '.join(named)}; allowed: {', '.join(allowed)}")


def check_keys(where: str, given: Any, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
    """``given`` is a mapping whose keys are all in ``allowed`` and include every key of ``required``."""
    if not isinstance(given, Mapping):
        raise ConfigError(f"{where or 'the config'} must be a mapping, got {type(given).__name__}")
    allowed = set(allowed)
    unknown = set(given) - allowed
    if unknown:
        raise unknown_key_error(where, unknown, allowed)
    missing = sorted(set(required) - set(given))
    if missing:
        raise ConfigError(f"missing key{'s' if len(missing) > 1 else ''} in {where or 'the config'}: "
                          f"{', '.join(missing)}")


def find_named_file(name: str | Path, folders: Iterable[Path], what: str) -> Path:
    """A file path as given, or ``NAME.yaml`` in the first of ``folders`` that has it (a bare name only).

    The error names the closest of the known names.
    """
    path = Path(name)
    if path.is_file():
        return path
    folders = list(folders)
    stem = path.name.removesuffix(".yaml")
    if path.parent == Path("."):
        for folder in folders:
            if (folder / f"{stem}.yaml").is_file():
                return folder / f"{stem}.yaml"
    names = sorted({p.stem for folder in folders for p in folder.glob("*.yaml")})
    close = difflib.get_close_matches(stem, names, n=3)
    raise ConfigError(f"{what} '{name}' is neither a file nor a bundled name"
                      + (f"; did you mean {', '.join(close)}?" if close else "") + f" (bundled: {', '.join(names)})")
