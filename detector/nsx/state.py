"""NSX's state for a run: a snapshot file, else one pull when [nsx] is configured, else none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from detector.config.nsx import NsxConfig
from detector.nsx import snapshot


def load(
    path: str | None, cfg: NsxConfig | None, say: Callable[[str], None] | None
) -> dict[str, Any] | None:
    """The snapshot in `path`; else what the manager in `cfg` answers now (`say` hears the
    pull's progress); else None. The API client (and httpx) is imported only to pull."""
    if path:
        return snapshot.load(path)
    if cfg is None:
        return None
    from detector.nsx import pull

    return pull.fetch(cfg, say)
