"""Read PyTorch `torch.save` archives (Lightning `.ckpt`, `.pth`) without importing torch.

A torch archive is a zip file holding `data.pkl` (a pickle) and one raw file per tensor
storage. The pickle is read with a restricted unpickler: only tensor rebuild functions,
storage and dtype markers, `OrderedDict`, `torch.Size` and plain containers are allowed,
the same set PyTorch's own `weights_only` loader accepts. Any other global is refused with
an error that names it, so a malicious file cannot run code. Tensors come back as numpy
arrays. Files in the legacy (pre-1.6, non-zip) format are read by `legacy_torch`, with the
same allowed globals.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from vidtok_jax.checkpoints.restricted_pickle import AllowListUnpickler
from vidtok_jax.errors import CheckpointError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

_TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64, "long": np.int64, "int32": np.int32, "int": np.int32,
    "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class StorageType:
    """Stands in for a `torch.*Storage` class: only remembers the element dtype."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


class _TorchDtype:
    """Stands in for a `torch.dtype` object found in a pickle."""

    def __init__(self, name: str):
        self.name = name
        self.numpy = np.dtype(_TORCH_DTYPES[name])


class _TorchSize(tuple):
    """Stands in for `torch.Size`: a plain tuple."""


def _device(*args):
    return "device(" + ", ".join(map(str, args)) + ")"


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    array = storage
    size, stride = tuple(size), tuple(stride)
    if not size:
        return np.array(array[storage_offset])
    itemsize = array.dtype.itemsize
    needed = storage_offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1
    if any(s == 0 for s in size):
        return np.zeros(size, array.dtype)
    if needed > array.size:
        raise CheckpointError(
            f"a tensor of shape {size} reads past the end of its storage ({needed} > {array.size} "
            "elements): the checkpoint is truncated or corrupt; download it again")
    view = np.lib.stride_tricks.as_strided(
        array[storage_offset:], shape=size, strides=[st * itemsize for st in stride])
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *state):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): None,
    ("torch.nn.parameter", "Parameter"): None,
    ("torch", "Size"): _TorchSize,
    ("torch", "device"): _device,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
_ALLOWED_GLOBALS.update({("torch", name): StorageType(dt) for name, dt in _STORAGE_DTYPES.items()})
_ALLOWED_GLOBALS.update({("torch", name): _TorchDtype(name) for name in _TORCH_DTYPES})


class TorchUnpickler(AllowListUnpickler):
    """Unpickler that rebuilds tensors from the archive's storages and refuses other globals."""

    allowed = _ALLOWED_GLOBALS
    refusal = ("only tensors and plain containers may appear in a checkpoint (this file may be unsafe, or was "
               "saved with objects other than weights; re-save its state_dict alone)")

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(io.BytesIO(data), source)
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, np.ndarray] = {}

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self._source}: unknown persistent id {pid!r} in data.pkl")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType):
            raise CheckpointError(f"{self._source}: storage of unsupported type {storage_type!r}")
        if key not in self._storages:
            name = f"{self._prefix}data/{key}"
            try:
                raw = self._archive.read(name)
            except KeyError as err:
                raise CheckpointError(
                    f"{self._source}: storage '{name}' is missing: the checkpoint is truncated or "
                    "corrupt; download it again") from err
            dtype = storage_type.dtype
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(
                    f"{self._source}: storage '{name}' holds {len(raw)} bytes, expected "
                    f"{numel * dtype.itemsize}: the checkpoint is truncated; download it again")
            self._storages[key] = np.frombuffer(raw, dtype=dtype, count=numel)
        return self._storages[key]


def read_torch_archive(path: str | Path) -> Any:
    """Return the object a `torch.save` zip archive holds, with tensors as numpy arrays.

    Raises `CheckpointError` for a missing, truncated, corrupt or unsafe file.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {source}")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        with open(path, "rb") as f:
            head = f.read(1)
        if head == b"\x80":
            from vidtok_jax.checkpoints.legacy_torch import read_legacy_torch_file
            return read_legacy_torch_file(path)
        raise CheckpointError(
            f"{source} is not a readable torch checkpoint (not a zip archive: truncated or "
            "corrupt?); download it again") from err
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{source}: expected one data.pkl in the archive, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        order = f"{prefix}byteorder"
        if order in archive.namelist() and archive.read(order).strip() not in (b"little", b""):
            raise CheckpointError(f"{source}: big-endian checkpoints are not supported")
        try:
            data = archive.read(pickles[0])
            return TorchUnpickler(data, archive, prefix, source).load()
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                IndexError, KeyError, OSError) as err:
            raise CheckpointError(
                f"{source}: the checkpoint is corrupt ({type(err).__name__}: {err}); download it again"
            ) from err
