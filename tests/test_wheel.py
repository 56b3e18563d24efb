"""The built wheel works without the checkout: installed (not editable) into a throwaway venv, it
trains a few steps through the package's entry point and reconstructs a video with the bundled model.

The throwaway venv borrows this environment's dependencies (a path entry to its site-packages, whose
``.pth`` files, such as the editable install's, are not processed), so only the wheel provides
``vidtok_jax``, and commands run from an empty folder so the checkout cannot be imported either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.helpers import TINY
from vidtok_jax.data.video import write_video

pytestmark = pytest.mark.integration  # builds the wheel and installs it into a new environment


def _run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_backend_optimization_level=0", VIDTOK_JAX_COMPILATION_CACHE="0")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)],
                            capture_output=True, text=True, timeout=600)
    if result.returncode and "Could not find a version" in result.stderr + result.stdout:
        pytest.skip(f"the wheel's build backend could not be installed (no package index?): {result.stderr[-500:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    return next(dist.glob("vidtok_jax-*.whl"))


def test_wheel_holds_every_module_preset_config_and_asset(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(REPO)) for p in (REPO / "vidtok_jax").rglob("*.py")}
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    for pattern in ("train/presets/*.yaml", "vidtok/model_configs/*.yaml", "assets/default/*", "assets/demo/*.mp4"):
        shipped = {str(p.relative_to(REPO)) for p in (REPO / "vidtok_jax").glob(pattern)}
        assert shipped and shipped <= names, f"{pattern}: missing {sorted(shipped - names)}"


def test_wheel_keeps_training_and_plotting_packages_in_extras(wheel):
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    plain = [requirement for requirement in requires if "extra ==" not in requirement]
    assert any(r.startswith("grain") and 'extra == "train"' in r for r in requires)
    assert any(r.startswith("matplotlib") and 'extra == "metrics"' in r for r in requires)
    assert not any(r.startswith(("grain", "matplotlib")) for r in plain)
    assert any(r.lower().startswith("pillow") for r in plain)


def test_installed_wheel_trains_and_reconstructs(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)], tmp_path)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    location = _run([str(python), "-c", "import vidtok_jax; print(vidtok_jax.__file__)"], work).stdout.strip()
    assert Path(location).is_relative_to(venv), f"vidtok_jax imported from {location}, not the wheel"

    sets = [arg for item in TINY for arg in ("--set", item)]
    result = _run([str(python), "-m", "vidtok_jax.train", "--config", "tiny_cpu", "--workdir", "run", "--steps", "2",
                   *sets], work)
    assert "step 2/2" in result.stdout and (work / "run" / "checkpoints" / "2").is_dir()

    rng = np.random.default_rng(0)
    write_video(work / "clip.mp4", rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8), 8.0)
    _run([str(venv / "bin" / "vidtok-jax"), "reconstruct", "clip.mp4", "out.mp4"], work)
    assert (work / "out.mp4").stat().st_size > 0
