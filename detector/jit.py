"""numba's compiled-kernel cache: on where a writable place exists, off (compile at start) where
none does, such as a read-only container root without NUMBA_CACHE_DIR on a volume."""

from __future__ import annotations

import logging
import os

import numba

log = logging.getLogger("spoofwatch")


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


def cache_usable() -> bool:
    """Would numba find a cache locator? It tries NUMBA_CACHE_DIR alone when that is set, else
    the __pycache__ beside the sources, then ~/.cache/numba; with none, `cache=True` raises."""
    configured = str(getattr(numba.config, "CACHE_DIR", "") or "")  # from NUMBA_CACHE_DIR
    if configured:
        if _writable(configured):
            return True
        log.warning(
            "NUMBA_CACHE_DIR %s is not writable: kernels compile at every start", configured
        )
        return False
    here = os.path.join(os.path.dirname(__file__), "__pycache__")
    return _writable(here) or _writable(os.path.join(os.path.expanduser("~"), ".cache", "numba"))


CACHE = cache_usable()
