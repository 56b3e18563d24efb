"""The base of our restricted unpicklers: `find_class` returns only the globals of an allow-list.

`pickle.load` calls whatever importable function a file names. A subclass of `AllowListUnpickler`
gives `allowed`, a map from `(module, name)` to the object to return (an entry of None is refused
too), and `refusal`, what may appear instead; any other global raises `CheckpointError` naming the
file and the global.
"""

from __future__ import annotations

import pickle
from typing import Any, Mapping

from vidtok_jax.errors import CheckpointError


class AllowListUnpickler(pickle.Unpickler):
    allowed: Mapping[tuple[str, str], Any] = {}
    refusal = ""

    def __init__(self, file, source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise CheckpointError(f"{self._source}: refusing to load the global '{module}.{name}': {self.refusal}")
        return found
