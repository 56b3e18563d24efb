"""The shell commands of README.md and docs/*.md hold: every command in a ```bash block or an inline `code span` is checked.

Running them all would take hours (full-size training) or downloads (official checkpoints), so each
is checked as far as it goes without doing the work:

- `vidtok-jax ...` / `python -m vidtok_jax ...`: parsed by the CLI's own parser (options, choices);
  `info` runs in tests/test_cli.py, and `demo` in tests/test_demo.py;
- `python -m vidtok_jax.train ...` / `python train.py ...`: parsed by the training command, and a
  training run's config is loaded with its `--set` overrides (preset names, keys, values, the
  checks made before anything runs), with stand-ins for the files the reader would have (DATA: a
  folder with one video, a checkpoint: an empty file, a workdir: a folder);
- `python benchmarks/X.py ...` and `python -m vidtok_jax.datasets.default_data ...`: parsed by that
  script's parser, which stops the script before it runs.

The README's install line and `bash .ci/run` are left to CI itself.
"""

from __future__ import annotations

import argparse
import importlib
import re
import runpy
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, documentation_text
from vidtok_jax.cli.parser import build_parser
from vidtok_jax.data.video import write_video
from vidtok_jax.errors import VidTokError
from vidtok_jax.train import command as train_command
from vidtok_jax.train.config import load_train_config

STARTS = ("vidtok-jax ", "python -m vidtok_jax", "python train.py", "python benchmarks/")


def readme_commands() -> list[list[str]]:
    text = documentation_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s#.*$", "", line).strip()
            commands += [shlex.split(part) for part in line.split("&&") if part.strip().startswith(STARTS)]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose))
    for span in spans:  # a bare command name in prose ("`vidtok-jax evaluate` writes ...") is not a command line
        words = shlex.split(span)
        if span.startswith("python benchmarks/") or span.startswith(STARTS) and len(words) > 2 + (words[1] == "-m"):
            commands.append(words)
    return commands


class _Parsed(Exception):
    """Raised by a script's parser once it has accepted the arguments, before the script runs."""


@pytest.fixture
def parse_only(monkeypatch):
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)


def _script_accepts(target: list[str], monkeypatch) -> None:
    """Run a script (path or -m module) up to its argument parsing."""
    name = target[0]
    monkeypatch.setattr(sys, "argv", [name, *target[1:]])
    with pytest.raises(_Parsed):
        if name.endswith(".py"):
            runpy.run_path(str(REPO / name), run_name="__main__")
        else:
            importlib.import_module(name).main()


def _stand_ins(tmp_path: Path, arguments: list[str]) -> list[str]:
    """The --set overrides of a training command, pointing at stand-in files that exist."""
    videos = tmp_path / "DATA"
    if not videos.exists():
        videos.mkdir()
        write_video(videos / "clip.mp4", np.zeros((17, 32, 32, 3), np.uint8), 8.0)
    overrides = []
    for item in arguments:
        key, _, value = item.partition("=")
        if key.endswith(("data_dir", "meta_path")):
            value = str(videos)
        elif key in ("init.checkpoint", "flextok.vidtok_checkpoint"):
            stand_in = tmp_path / "files" / value
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.touch()
            value = str(stand_in)
        overrides.append(f"{key}={value}")
    return overrides


def test_readme_shows_the_commands_it_promises():
    commands = [" ".join(c) for c in readme_commands()]
    for expected in ("vidtok-jax demo", "vidtok-jax reconstruct", "python -m vidtok_jax.train --config tiny_cpu",
                     "vidtok-jax flex-decode", "python benchmarks/bench_train.py"):
        assert any(c.startswith(expected) for c in commands), expected


def _check(command: list[str], tmp_path: Path, monkeypatch) -> bool:
    """Whether ``command`` was checked (False: a bare command name, or one run by another test)."""
    if command[0] == "vidtok-jax" or command[:3] == ["python", "-m", "vidtok_jax"]:
        arguments = command[1:] if command[0] == "vidtok-jax" else command[3:]
        if arguments[:1] == ["info"] or not arguments:
            return False
        with pytest.raises(_Parsed):
            build_parser().parse_args(arguments)
    elif command[:3] == ["python", "-m", "vidtok_jax.train"] or command[:2] == ["python", "train.py"]:
        arguments = command[3:] if command[1] == "-m" else command[2:]
        if not arguments:
            return False
        with pytest.raises(_Parsed) as parsed:
            train_command.parse_args(arguments)
        args = parsed.value.args[0]
        if arguments[0] != "export":
            overrides = _stand_ins(tmp_path, args.set) + ([f"steps={args.steps}"] if args.steps else [])
            load_train_config(args.config, overrides)
    else:
        _script_accepts(command[2:] if command[1] == "-m" else command[1:], monkeypatch)
    return True


def test_every_readme_command_is_accepted(tmp_path, monkeypatch, parse_only, capsys):
    checked = 0
    for command in readme_commands():
        try:
            checked += _check(command, tmp_path, monkeypatch)
        except (SystemExit, VidTokError) as error:
            pytest.fail(f"README command refused: {' '.join(command)}\n{error}\n{capsys.readouterr().err[-1000:]}")
    assert checked >= 25, f"only {checked} README commands were found"
