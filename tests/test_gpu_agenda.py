"""The GPU agendas (benchmarks/gpu_agenda.py, the measurements; benchmarks/gpu_train.py, the trainings) run every part
in their smoke modes, so they cannot rot before a GPU comes."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time

import pytest

import vidtok_jax as vt
from tests.conftest import REPO

pytestmark = pytest.mark.integration  # the whole agenda script, every section, tiny shapes


def run_smoke(script: str, out) -> None:
    """Run ``benchmarks/<script> --out out --smoke`` and require it to succeed."""
    result = subprocess.run([sys.executable, f"benchmarks/{script}", "--out", str(out), "--smoke"], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_gpu_agenda_smoke_runs_every_section_and_writes_its_tables(tmp_path):
    out = tmp_path / "agenda"
    run_smoke("gpu_agenda.py", out)
    report = json.loads((out / "gpu_agenda.json").read_text())
    sections = report["sections"]
    assert set(sections) == {"vidtok", "train_step", "profile", "videoflextok"}
    assert all(s["error"] is None for s in sections.values())

    vidtok = sections["vidtok"]["rows"]
    assert [r["batch"] for r in vidtok] == [1, 2]
    assert all(r["encode_s"] > 0 and r["decode_s"] > 0 for r in vidtok)
    train = sections["train_step"]["rows"]
    assert [(r["batch"], r["remat"]) for r in train] == [(1, "blocks")]
    assert train[0]["loss_finite"] and train[0]["analytic_step_tflop"] > 0
    ops = sections["profile"]["rows"]
    assert 1 <= len(ops) <= 10 and all(op["ms"] > 0 for op in ops)
    assert [op["ms"] for op in ops] == sorted((op["ms"] for op in ops), reverse=True)
    assert 0 < sum(op["share"] for op in ops) <= 1.0001
    flex = sections["videoflextok"]["rows"]
    assert {(r["op"], r["steps"]) for r in flex} == {("tokenize", 0), ("detokenize", 2)}

    table = (out / "gpu_agenda.md").read_text()
    for name in sections:
        assert f"## {name} (" in table
    assert "| dtype | batch |" in table and "| op | ms | share | calls |" in table


def test_gpu_training_agenda_smoke_trains_and_exports_both_models(tmp_path):
    out = tmp_path / "train"
    run_smoke("gpu_train.py", out)
    report = json.loads((out / "gpu_train.json").read_text())
    assert list(report["parts"]) == ["vidtok_data", "vidtok_train", "flex_data", "flex_train"]
    assert all(part["returncode"] == 0 for part in report["parts"].values())
    assert report["runs"]["vidtok"]["steps"] == 2 and report["runs"]["flex"]["steps"] == 2
    assert report["runs"]["flex"]["last_eval"]["eval/eval_ema_psnr"] > 0
    vidtok = vt.load_tokenizer(out / "models" / "vidtok.yaml", out / "models" / "vidtok.safetensors")
    assert vidtok.config.encoder.ch == 8  # the smoke's width, not the bundled model's
    flex = vt.load_videoflextok(out / "models" / "videoflextok", vidtok=vidtok)
    assert flex.sampler_steps == 1 and flex.video_size == (32, 32)
    table = (out / "gpu_train.md").read_text()
    assert "| vidtok_train |" in table and "| flex |" in table


def test_gpu_training_agenda_stops_a_run_at_its_deadline(tmp_path):
    gpu_train = runpy.run_path(str(REPO / "benchmarks" / "gpu_train.py"))
    waits_for_sigterm = [sys.executable, "-c", "import signal, sys, time; "
                         "signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)); time.sleep(60)"]
    began = time.monotonic()
    status = gpu_train["run"](waits_for_sigterm, tmp_path / "log.txt", dict(os.environ), deadline=began + 2)
    assert status == gpu_train["STOPPED_BY_SIGTERM"] and time.monotonic() - began < 30
    assert (tmp_path / "log.txt").read_text().startswith("$ ")
