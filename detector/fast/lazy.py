"""A module imported on its first attribute access: numba loads when a batch path first runs."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class Lazy:
    """Stands for the module `name` until an attribute is asked for, then imports it once; each
    attribute read is kept, so the next read of it costs what a module attribute does."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        value = getattr(self._module, attr)
        setattr(self, attr, value)  # found by normal lookup from now on: no __getattr__ call
        return value
