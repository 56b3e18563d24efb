"""Lists of training videos: the official CSV meta file, or every video under a folder."""

import csv
import io
import os

from vidtok_jax.errors import ConfigError

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".flv", ".wmv", ".ts", ".3gp",
                              ".ogv"})

_META_COLUMN = "videos"


def _read_text(path: str) -> str:
    """UTF-8 text, falling back to Latin-1 (the official reader's encoding) for files that are not UTF-8."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def list_videos_from_meta(meta_path: str | os.PathLike, data_dir: str | os.PathLike) -> list[str]:
    """Paths from the ``videos`` column of an official meta CSV, joined to ``data_dir``, in file order.

    As the official reader: rows with the wrong number of fields or an empty ``videos`` value
    are skipped. The files themselves are not checked here; unreadable ones are reported when
    the pipeline reaches them.
    """
    meta_path = os.fspath(meta_path)
    try:
        rows = list(csv.reader(io.StringIO(_read_text(meta_path), newline="")))
    except OSError as error:
        raise ConfigError(f"{meta_path}: cannot read the meta file ({error.strerror or error})") from None
    header = [name.strip() for name in rows[0]] if rows else []
    if _META_COLUMN not in header:
        raise ConfigError(f"{meta_path}: the meta file has no '{_META_COLUMN}' column in its header")
    column = header.index(_META_COLUMN)
    relative_paths = [row[column].strip() for row in rows[1:] if len(row) == len(header)]
    return [os.path.join(os.fspath(data_dir), path) for path in relative_paths if path]


def list_videos_in_folder(folder: str | os.PathLike) -> list[str]:
    """Every video file (by extension) under ``folder``, recursively, sorted; hidden files and folders are left out.

    Hidden files include the temporary files of an unfinished ``write_video``.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ConfigError(f"{folder}: no such folder")
    found = []
    for root, folders, files in os.walk(folder, followlinks=True):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [
            os.path.join(root, name)
            for name in files
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS
        ]
    return sorted(found)


def list_training_videos(data_dir: str | os.PathLike, meta_path: str | os.PathLike | None = None) -> list[str]:
    """The videos of a data set: from the meta CSV when given, else every video under ``data_dir``."""
    videos = list_videos_in_folder(data_dir) if meta_path is None else list_videos_from_meta(meta_path, data_dir)
    if not videos:
        raise ConfigError(f"no videos listed in {os.fspath(meta_path or data_dir)}")
    return videos
