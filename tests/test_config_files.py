"""The helpers the three config readers share: YAML numbers, key checks with suggestions, named files."""

from __future__ import annotations

import pytest

import vidtok_jax as vt
from vidtok_jax.runtime.config_files import check_keys, find_named_file, read_yaml, read_yaml_file


def test_yaml_reads_exponent_numbers_as_floats_as_omegaconf_does():
    doc = read_yaml("lr: 1e-3\nother: 2.5E+2\nname: e5\nlist: [1e-4, '1x']")
    assert doc == {"lr": 1e-3, "other": 250.0, "name": "e5", "list": [1e-4, "1x"]}


def test_a_bad_yaml_file_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(vt.ConfigError, match="bad.yaml is not valid YAML"):
        read_yaml_file(path)
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(vt.ConfigError, match="nested too deeply"):
        read_yaml_file(path)


def test_unknown_and_missing_keys_are_named_with_a_suggestion():
    with pytest.raises(vt.ConfigError, match=r"unknown key 'data.batch_sise' \(did you mean 'batch_size'\?\)"):
        check_keys("data", {"batch_sise": 2}, {"batch_size", "seed"})
    with pytest.raises(vt.ConfigError, match=r"unknown keys 'a.x', 'a.y'; allowed: b"):
        check_keys("a", {"x": 1, "y": 2, "b": 3}, {"b"})
    with pytest.raises(vt.ConfigError, match="missing keys in a: c, d"):
        check_keys("a", {"b": 1}, {"b", "c", "d"}, {"c", "d"})
    with pytest.raises(vt.ConfigError, match="a must be a mapping, got list"):
        check_keys("a", [1], {"b"})
    check_keys("a", {"b": 1}, {"b", "c"}, {"b"})


def test_named_files_are_found_by_bare_name_only_and_misspellings_get_suggestions(tmp_path):
    (tmp_path / "tiny_cpu.yaml").write_text("steps: 1\n")
    assert find_named_file("tiny_cpu", [tmp_path], "preset") == tmp_path / "tiny_cpu.yaml"
    assert find_named_file("tiny_cpu.yaml", [tmp_path], "preset") == tmp_path / "tiny_cpu.yaml"
    with pytest.raises(vt.ConfigError, match="did you mean tiny_cpu"):
        find_named_file("tiny_cp", [tmp_path], "preset")
    with pytest.raises(vt.ConfigError, match="neither a file nor a bundled name"):
        find_named_file("elsewhere/tiny_cpu", [tmp_path], "preset")
