"""README's main command, ``vidtok-jax demo``, run as in a fresh clone: from an empty folder, nothing beside the repository.

The command is read from README.md, so that README and test cannot drift apart. The demo runs
the bundled default model on the bundled clip (about 30 s on 2 CPU cores).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import read_png
from vidtok_jax import cli
from vidtok_jax.cli import main
from vidtok_jax.data.video import probe_video

pytestmark = pytest.mark.integration  # the README's main command in an empty folder

README = Path(__file__).resolve().parents[1] / "README.md"
MIN_MEAN_PSNR = 27.0  # dB; measured 28.15 (frames 2..65: 28.13)
DEMO_FRAMES, DEMO_HEIGHT, DEMO_WIDTH = 65, 128, 224
GRID_SIZE = (6 * DEMO_WIDTH, 38 + 3 * DEMO_HEIGHT)  # (width, height): six frames; captions, input, reconstruction, error


def readme_main_command() -> list[str]:
    """The arguments of the ``vidtok-jax`` part of the first command in README's "Two commands" section."""
    section = README.read_text().split("\n## Two commands\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    command = next(line for line in block.splitlines() if line.strip() and not line.startswith("#"))
    program, *arguments = shlex.split(command.split("&&")[-1])
    assert program == ".venv/bin/vidtok-jax", command
    return arguments


def test_readme_main_command_runs_in_an_empty_folder(tmp_path):
    arguments = readme_main_command()
    assert not (tmp_path.parent / "shared").exists()
    result = subprocess.run([sys.executable, "-m", "vidtok_jax", *arguments], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["demo-frames.png", "demo-side-by-side.mp4"]

    video = probe_video(tmp_path / "demo-side-by-side.mp4")
    assert (video.num_frames, video.height, video.width, video.fps) == (DEMO_FRAMES, DEMO_HEIGHT, 2 * DEMO_WIDTH, 12.5)
    assert read_png(tmp_path / "demo-frames.png") == GRID_SIZE

    per_frame = [float(value) for line in result.stdout.splitlines() if line.strip().startswith("frames ")
                 for value in line.split()[2:]]
    mean = float(re.search(r"^mean PSNR: ([\d.]+) dB over 65 frames$", result.stdout, re.M).group(1))
    later = float(re.search(r"^mean PSNR of frames 2\.\.65: ([\d.]+) dB$", result.stdout, re.M).group(1))
    assert len(per_frame) == DEMO_FRAMES and mean > MIN_MEAN_PSNR and later > MIN_MEAN_PSNR
    assert abs(sum(per_frame) / DEMO_FRAMES - mean) < 0.01 and abs(sum(per_frame[1:]) / (DEMO_FRAMES - 1) - later) < 0.01


def _a_file(folder: Path) -> Path:
    path = folder / "a-file"
    path.touch()
    return path


def _unwritable(folder: Path) -> Path:
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    pytest.skip("this user can write into read-only folders (root)")


@pytest.mark.parametrize(("make_output", "problem"), [
    (lambda folder: folder / "missing", "missing: no such folder"),
    (_a_file, "a-file: no such folder"),
    (lambda folder: _unwritable(folder / "read-only"), "read-only: cannot write there (Permission denied)"),
])
def test_a_bad_output_folder_is_a_usage_error_before_any_model_work(tmp_path, capsys, monkeypatch, make_output, problem):
    monkeypatch.setattr(cli, "load_model", lambda options: pytest.fail("the model was loaded"))
    output = make_output(tmp_path)
    assert main(["demo", "--output", str(output)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidtok-jax demo: error: --output ") and lines[0].endswith(problem)
