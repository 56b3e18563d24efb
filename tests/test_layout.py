"""The package layout (docs/architecture.md): no private name crosses a module, no import goes up a layer.

Every module of ``vidtok_jax`` is parsed with ``ast`` (nothing is imported), so the checks see imports
inside functions too. A module belongs to the layer of the longest name in ``LAYERS`` that it equals or
sits under (for the packages in ``PACKAGE_INITS``, only their ``__init__``); a module may import its
own layer and the layers below, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vidtok_jax"

# Lowest first. The training engine sits above the models (its config names a VidTok model) and below
# the families, which it knows only by interface; the training command, above both, picks the family.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("runtime", ("vidtok_jax.errors", "vidtok_jax.runtime")),
    ("data, weight files, metrics", ("vidtok_jax.data", "vidtok_jax.checkpoints", "vidtok_jax.metrics")),
    ("VidTok configs", ("vidtok_jax.vidtok", "vidtok_jax.vidtok.config", "vidtok_jax.vidtok.model_yaml",
                        "vidtok_jax.vidtok.default_model", "vidtok_jax.vidtok.tiling")),
    ("VidTok networks", ("vidtok_jax.vidtok.quantizers", "vidtok_jax.vidtok.nn", "vidtok_jax.vidtok.losses")),
    ("VidTok tokenizer", ("vidtok_jax.vidtok.streaming", "vidtok_jax.vidtok.checkpoint", "vidtok_jax.vidtok.tokenizer")),
    ("VideoFlexTok model", ("vidtok_jax.flextok",)),
    ("training engine", ("vidtok_jax.train",)),
    ("training families", ("vidtok_jax.vidtok.state", "vidtok_jax.vidtok.step", "vidtok_jax.vidtok.family",
                           "vidtok_jax.flextok.training")),
    ("commands and public API", ("vidtok_jax", "vidtok_jax.__main__", "vidtok_jax.cli", "vidtok_jax.datasets",
                                 "vidtok_jax.train.command", "vidtok_jax.train.__main__")),
]


# Packages whose __init__ is listed, not everything under them: a new module there must be placed in a layer.
PACKAGE_INITS = {"vidtok_jax", "vidtok_jax.vidtok"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int | None:
    """The index in ``LAYERS`` of the longest listed name that ``module`` equals or sits under (None: unlisted)."""
    best, index = "", None
    for i, (_, names) in enumerate(LAYERS):
        for name in names:
            under = module.startswith(name + ".") and name not in PACKAGE_INITS
            if (module == name or under) and len(name) > len(best):
                best, index = name, i
    return index


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imports(module: str, tree: ast.Module):
    """``(line, imported module, names taken from it)`` of every import of a vidtok_jax module; a name that is
    itself a module (``from vidtok_jax.vidtok.nn import ops``) counts as an import of that module."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "vidtok_jax":
                    yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "vidtok_jax":
                continue
            names = []
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    yield node.lineno, f"{source}.{alias.name}", ()
                else:
                    names.append(alias.name)
            if names or not node.names:
                yield node.lineno, source, tuple(names)


def _module_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to a vidtok_jax module (``from vidtok_jax.checkpoints import torch_pickle``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("vidtok_jax"):
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vidtok_jax.") and alias.asname:
                    aliases[alias.asname] = alias.name
    return aliases


def _resolve(target: str) -> str:
    """The module an import names (``vidtok_jax.cli`` for the package, a module for a module)."""
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


def _private_uses(module: str, tree: ast.Module) -> list[str]:
    found = []
    for line, source, names in _imports(module, tree):
        for name in names:
            if _is_private(name) and _resolve(source) != module:
                found.append(f"{module}:{line} imports the private name {name} from {source}: no module takes a "
                             "private name (_x) from another; make it public or move it to the module that uses it")
    aliases = _module_aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and _is_private(node.attr):
            found.append(f"{module}:{node.lineno} uses the private name {aliases[node.value.id]}.{node.attr}: no module "
                         "takes a private name (_x) from another; make it public or move it to the module that uses it")
    return found


def _upward_imports(module: str, tree: ast.Module) -> list[str]:
    own = _layer(module)
    found = []
    for line, source, _ in _imports(module, tree):
        target = _layer(_resolve(source))
        if own is not None and target is not None and target > own:
            found.append(f"{module}:{line} (layer '{LAYERS[own][0]}') imports {source} (layer "
                         f"'{LAYERS[target][0]}'): a module imports only its own layer and those below "
                         f"({' < '.join(name for name, _ in LAYERS)})")
    return found


def _trees() -> dict[str, ast.Module]:
    return {module: ast.parse(path.read_text(), str(path)) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    unlisted = [module for module in MODULES if _layer(module) is None]
    assert not unlisted, f"modules in no layer of tests/test_layout.py (add them to LAYERS): {unlisted}"


def test_no_module_imports_a_private_name_from_another():
    found = [problem for module, tree in _trees().items() for problem in _private_uses(module, tree)]
    assert not found, "\n".join(found)


def test_no_module_imports_from_a_higher_layer():
    found = [problem for module, tree in _trees().items() for problem in _upward_imports(module, tree)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module, source, problem", [
    ("vidtok_jax.train.engine", "from vidtok_jax.vidtok.family import VidTokFamily", "training families"),
    ("vidtok_jax.vidtok.nn.layers", "from vidtok_jax.vidtok import tokenizer", "VidTok tokenizer"),
    ("vidtok_jax.data.video", "import vidtok_jax.metrics.psnr\nfrom vidtok_jax.vidtok.tokenizer import Tokenizer",
     "VidTok tokenizer"),
    ("vidtok_jax.cli.info", "from vidtok_jax.vidtok.config import ENGINE_TARGETS, _TOP_KEYS", "private name _TOP_KEYS"),
    ("vidtok_jax.checkpoints.legacy_torch", "from vidtok_jax.checkpoints import torch_pickle\nx = torch_pickle._device",
     "private name vidtok_jax.checkpoints.torch_pickle._device"),
])
def test_the_checks_find_what_they_forbid(module, source, problem):
    tree = ast.parse(source)
    found = _private_uses(module, tree) + _upward_imports(module, tree)
    assert any(problem in message for message in found), found
