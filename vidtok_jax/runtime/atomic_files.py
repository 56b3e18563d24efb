"""Files that appear only complete: written to a hidden temporary file beside the target, then renamed over it."""

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import IO

import numpy as np

from vidtok_jax.errors import InputError


def check_output_file(path: str | os.PathLike, *inputs: str | os.PathLike) -> None:
    """Refuse, before any work, an output path that cannot become a file (a folder, or in a missing folder)
    or that is one of the command's ``inputs`` (the same file under any name), which writing would destroy."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder: give the output file's name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: the folder {folder} does not exist")
    for source in inputs:
        if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise InputError(f"{path} is the input {os.fspath(source)}: writing it would destroy the input; "
                             "give another output name")


def check_output_folder_apart(folder: str | os.PathLike, input_folder: str | os.PathLike) -> None:
    """Refuse an output folder that is the folder the command reads its videos from (under any name):
    its files would mix with the inputs, and clean-up of unfinished files there would touch them."""
    if os.path.isdir(folder) and os.path.isdir(input_folder) and os.path.samefile(folder, input_folder):
        raise InputError(f"{os.fspath(folder)} is the folder of the input videos ({os.fspath(input_folder)}): "
                         "give another output folder")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write ``path``'s new content into; it replaces ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` keeps its old content (or stays absent).
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temp_path = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with open(temp_path, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp_path)


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to exactly ``path`` (no ``.npz`` appended), atomically."""
    with atomic_output(path) as file:
        np.savez(file, **arrays)


def save_json(path: str | os.PathLike, document: dict) -> None:
    """Write ``document`` as indented UTF-8 JSON to ``path``, atomically."""
    with atomic_output(path) as file:
        file.write(json.dumps(document, indent=1, sort_keys=True).encode("utf-8"))
