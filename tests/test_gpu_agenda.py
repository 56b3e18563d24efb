"""The GPU agenda (benchmarks/gpu_agenda.py) runs every section in its smoke mode, so it cannot rot before a GPU comes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration  # the whole agenda script, every section, tiny shapes


def test_gpu_agenda_smoke_runs_every_section_and_writes_its_tables(tmp_path):
    out = tmp_path / "agenda"
    result = subprocess.run([sys.executable, "benchmarks/gpu_agenda.py", "--out", str(out), "--smoke"], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
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
