"""Read the legacy (non-zip, before PyTorch 1.6) `torch.save` format, which the lpips weight files use.

`vidtok_jax.checkpoints.torch_pickle.read_torch_archive` hands such files to this module. A legacy file is
a sequence of pickles: a magic number, the protocol version (1001), a dict of system info (byte
order), the saved object, whose tensors name their storages by persistent id
`('storage', type, key, device, numel, view)`, and the list of storage keys; then each storage's
raw bytes, preceded by its element count as a little-endian int64. The saved object comes before
the bytes it needs, so it is unpickled twice: first to learn each storage's dtype, then with the
storages read. Both passes use the restricted unpickler of `torch_pickle` (the same allowed
globals: tensor rebuilds, storage types, `OrderedDict`, plain containers).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from vidtok_jax.checkpoints import torch_pickle
from vidtok_jax.checkpoints.restricted_pickle import AllowListUnpickler
from vidtok_jax.errors import CheckpointError

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


class _LegacyUnpickler(torch_pickle.TorchUnpickler):
    """The restricted torch unpickler, with storages given by key (or zeros while probing dtypes)."""

    def __init__(self, file, source: str, storages: dict[str, np.ndarray] | None = None):
        AllowListUnpickler.__init__(self, file, source)
        self._storages = storages
        self.storage_dtypes: dict[str, np.dtype] = {}

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise CheckpointError(f"{self._source}: unknown persistent id {pid!r}")
        _, storage_type, key, _device, numel, view = pid
        if not isinstance(storage_type, torch_pickle.StorageType):
            raise CheckpointError(f"{self._source}: storage of unsupported type {storage_type!r}")
        self.storage_dtypes[key] = storage_type.dtype
        storage = np.zeros(numel, storage_type.dtype) if self._storages is None else self._storages[key]
        if view is not None:
            _view_key, offset, size = view
            storage = storage[offset:offset + size]
        return storage


def _read_storages(file, keys: list[str], dtypes: dict[str, np.dtype], source: str) -> dict[str, np.ndarray]:
    storages = {}
    for key in keys:
        count = int.from_bytes(file.read(8), "little", signed=True)
        raw = file.read(count * dtypes[key].itemsize)
        if len(raw) < count * dtypes[key].itemsize:
            raise CheckpointError(f"{source}: storage '{key}' is truncated; download the file again")
        storages[key] = np.frombuffer(raw, dtypes[key])
    return storages


def read_legacy_torch_file(path: str | Path) -> Any:
    """Return the object a legacy `torch.save` file holds, tensors as numpy arrays.

    Raises `CheckpointError` for a missing, truncated, corrupt, big-endian or unsafe file.
    """
    source = str(path)
    try:
        with open(path, "rb") as file:
            magic, protocol, system_info = (_LegacyUnpickler(file, source).load() for _ in range(3))
            if magic != LEGACY_MAGIC_NUMBER or protocol != LEGACY_PROTOCOL_VERSION:
                raise CheckpointError(f"{source} is not a legacy torch.save file")
            if not system_info.get("little_endian", True):
                raise CheckpointError(f"{source}: big-endian torch files are not supported")
            object_start = file.tell()
            probe = _LegacyUnpickler(file, source)
            probe.load()
            keys = _LegacyUnpickler(file, source).load()
            storages = _read_storages(file, keys, probe.storage_dtypes, source)
            file.seek(object_start)
            return _LegacyUnpickler(file, source, storages).load()
    except CheckpointError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError,
            AttributeError) as err:
        raise CheckpointError(f"{source}: unreadable torch file ({type(err).__name__}: {err})") from err
