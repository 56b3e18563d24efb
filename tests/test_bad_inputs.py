"""The public surface's bad inputs, as a table: each call and the error it must give.

Every row is a mistake a user makes (wrong shape, dtype, range, frame count, path, file, id out of
range); the error must be the project's own exception type with a message that names the problem,
raised before any compiled program runs. Rows run with the bundled default model, a small
random-weight FSQ model and a small random-weight VideoFlexTok.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

import vidtok_jax as vt
from tests.conftest import REPO
from tests.helpers import small
from vidtok_jax.cli import main
from vidtok_jax.train.command import main as train_main
from vidtok_jax.vidtok.tokenizer import init_params


@pytest.fixture(scope="module")
def kl():
    return vt.load_tokenizer()


@pytest.fixture(scope="module")
def fsq():
    cfg = vt.load_model_config("vidtok_fsq_causal_488_4096")
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, ch=8),
                              decoder=dataclasses.replace(cfg.decoder, ch=8))
    return vt.Tokenizer(cfg, init_params(cfg))


@pytest.fixture(scope="module")
def flex():
    return small()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_files")
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    (folder / "empty.safetensors").write_bytes(b"")
    exported = folder / "default.safetensors"
    vt.export_safetensors(vt.load_tokenizer(), exported)
    (folder / "truncated.safetensors").write_bytes(exported.read_bytes()[:5000])
    (folder / "a_folder").mkdir()
    return folder


def _video(shape=(1, 9, 32, 32, 3), dtype=np.float32, low=-1.0, high=1.0):
    return np.random.default_rng(0).uniform(low, high, shape).astype(dtype)


API_ROWS = [
    # (id, call(kl, fsq, flex, files), exception, message pattern)
    ("frames without a batch axis", lambda kl, fsq, flex, f: kl.encode(_video()[0]), vt.InputError, r"add a batch axis"),
    ("channels first", lambda kl, fsq, flex, f: kl.encode(np.moveaxis(_video((1, 3, 32, 32, 3)), -1, 1)[:, :, :3]),
     vt.InputError, r"channels"),
    ("uint8 pixels", lambda kl, fsq, flex, f: kl.encode(_video(dtype=np.uint8, low=0, high=255)), vt.InputError,
     r"float pixels"),
    ("pixels in [0, 255]", lambda kl, fsq, flex, f: kl.encode(_video(low=0, high=255)), vt.InputError, r"\[-1, 1\]"),
    ("height not a multiple of the spatial factor", lambda kl, fsq, flex, f: kl.encode(_video((1, 9, 30, 32, 3))),
     vt.InputError, r"multiples of 4"),
    ("no frames", lambda kl, fsq, flex, f: kl.encode(_video((1, 0, 32, 32, 3))), vt.InputError, r"at least one frame"),
    ("chunk length not a multiple of the temporal factor",
     lambda kl, fsq, flex, f: kl.encode(_video(), chunk_frames=3), vt.InputError, r"chunk_frames must be a positive multiple"),
    ("latents with the wrong channel count", lambda kl, fsq, flex, f: kl.decode(np.zeros((1, 3, 8, 8, 4), np.float32)),
     vt.InputError, r"expected latents \[B, t, h, w, 16\]"),
    ("more frames asked back than decoded", lambda kl, fsq, flex, f: kl.decode(np.zeros((1, 3, 8, 8, 16), np.float32),
                                                                              num_frames=100),
     vt.InputError, r"num_frames=100"),
    ("token ids of a KL model", lambda kl, fsq, flex, f: kl.tokenize(_video()), vt.InputError, r"KL model"),
    ("token id out of range", lambda kl, fsq, flex, f: fsq.detokenize(np.full((1, 3, 4, 4), 4096, np.int32)),
     vt.InputError, r"out of range|4096"),
    ("float token ids", lambda kl, fsq, flex, f: fsq.detokenize(np.zeros((1, 3, 4, 4), np.float32)), vt.InputError,
     r"integer"),
    ("VideoFlexTok token id out of range", lambda kl, fsq, flex, f: flex.detokenize_latents(
        np.full((1, 1, 8), 10**6, np.int32), latent_size=(8, 8)), vt.InputError, r"out of range|token id"),
    ("missing checkpoint", lambda kl, fsq, flex, f: vt.load_tokenizer(checkpoint=str(f / "missing.ckpt")),
     vt.CheckpointError, r"not found"),
    ("a text file as checkpoint", lambda kl, fsq, flex, f: vt.load_tokenizer(checkpoint=str(REPO / "README.md")),
     vt.CheckpointError, r"not a checkpoint"),
    ("empty safetensors", lambda kl, fsq, flex, f: vt.load_tokenizer("vidtok_jax_default", str(f / "empty.safetensors")),
     vt.CheckpointError, r"empty.safetensors"),
    ("truncated safetensors", lambda kl, fsq, flex, f: vt.load_tokenizer("vidtok_jax_default",
                                                                         str(f / "truncated.safetensors")),
     vt.CheckpointError, r"truncated.safetensors"),
    ("weights of another model", lambda kl, fsq, flex, f: vt.load_tokenizer("vidtok_kl_causal_488_4chn",
                                                                            str(f / "default.safetensors")),
     vt.CheckpointError, r"default.safetensors"),
    ("unknown config name", lambda kl, fsq, flex, f: vt.load_model_config("vidtok_kl_causal_488_4chm"), vt.ConfigError,
     r"did you mean vidtok_kl_causal_488_4chn"),
    ("float16 compute", lambda kl, fsq, flex, f: vt.load_tokenizer(dtype="float16"), vt.InputError, r"float16"),
    ("missing video file", lambda kl, fsq, flex, f: vt.read_video(f / "missing.mp4"), vt.InputError, r"no such file"),
    ("corrupt video file", lambda kl, fsq, flex, f: vt.read_video(f / "corrupt.mp4"), vt.InputError,
     r"corrupt.mp4: not a readable video"),
    ("a folder as video", lambda kl, fsq, flex, f: vt.read_video(f / "a_folder"), vt.InputError, r"not a regular file"),
    ("writing a batch of two videos", lambda kl, fsq, flex, f: vt.write_video(f / "two.mp4", _video((2, 3, 8, 8, 3)), 8),
     vt.InputError, r"one video"),
]


@pytest.mark.parametrize("row", API_ROWS, ids=[row[0] for row in API_ROWS])
def test_api_bad_input(row, kl, fsq, flex, files):
    _, call, error, pattern = row
    with pytest.raises(error, match=pattern):
        call(kl, fsq, flex, files)


CLI_ROWS = [
    # (id, arguments with {f} for the files folder, exit status, message pattern)
    ("missing input video", ["reconstruct", "{f}/missing.mp4", "{f}/out.mp4"], 1, r"no such file"),
    ("corrupt input video", ["reconstruct", "{f}/corrupt.mp4", "{f}/out.mp4"], 1, r"not a readable video"),
    ("output into a missing folder", ["encode", "{f}/corrupt.mp4", "{f}/nowhere/out.npz"], 1, r"does not exist"),
    ("output is a folder", ["encode", "{f}/corrupt.mp4", "{f}/a_folder"], 1, r"is a folder"),
    ("output is the input", ["reconstruct", "{f}/corrupt.mp4", "{f}/corrupt.mp4"], 1, r"is the input"),
    ("shards into the folder of the videos", ["encode-dir", "{f}", "{f}/a_folder/.."], 1, r"folder of the input videos"),
    ("a report into the folder of the videos", ["evaluate", "--data", "{f}", "--out", "{f}/a_folder/..", "--no-fvd"], 1,
     r"folder of the input videos"),
    ("a size the model cannot take", ["reconstruct", "{f}/corrupt.mp4", "{f}/out.mp4", "--size", "102"], 2,
     r"--size"),
    ("a chunk length the model cannot take", ["reconstruct", "{f}/corrupt.mp4", "{f}/out.mp4", "--chunk-frames", "6"], 2,
     r"chunk"),
    ("unknown config", ["reconstruct", "{f}/corrupt.mp4", "{f}/out.mp4", "--config", "nope"], 1, r"nope"),
    ("unknown command", ["reconstrct"], 2, r"invalid choice"),
    ("a token file that is not one", ["decode", "{f}/empty.safetensors", "{f}/out.mp4"], 1, r"not a token file"),
    ("truncated checkpoint", ["reconstruct", "{f}/corrupt.mp4", "{f}/out.mp4", "--config", "vidtok_jax_default",
                              "--checkpoint", "{f}/truncated.safetensors"], 1, r"truncated.safetensors|not a readable"),
]


@pytest.mark.parametrize("row", CLI_ROWS, ids=[row[0] for row in CLI_ROWS])
def test_cli_bad_input(row, files, capsys):
    _, arguments, status, pattern = row
    before = sorted(p.name for p in files.iterdir())
    assert main([a.format(f=files) for a in arguments]) == status
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) <= 3 and "Traceback" not in err, err
    assert __import__("re").search(pattern, err), err
    assert sorted(p.name for p in files.iterdir()) == before, "a failed command left files behind"


def _without(monkeypatch, package: str) -> None:
    """Make ``package`` look uninstalled to the checks that look for it."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else find_spec(name, *a))


def test_training_without_the_train_extra_names_the_install_command(tmp_path, monkeypatch, capsys):
    _without(monkeypatch, "grain")
    assert train_main(["--config", "tiny_cpu", "--workdir", str(tmp_path / "run")]) == 1
    assert "pip install 'vidtok-jax[train]'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_evaluate_without_matplotlib_names_the_install_command_before_any_work(files, tmp_path, monkeypatch, capsys):
    _without(monkeypatch, "matplotlib")
    monkeypatch.setattr("vidtok_jax.cli.load_model", lambda *a: pytest.fail("the model was loaded"))
    assert main(["evaluate", "--data", str(files), "--out", str(tmp_path / "out"), "--no-fvd"]) == 1
    assert "pip install 'vidtok-jax[metrics]'" in capsys.readouterr().err
