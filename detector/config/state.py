"""The [state] section: where realized bindings persist (a SQLite file, a shared PostgreSQL)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from detector.config import checks as v
from detector.errors import ConfigError


def _postgres_url(name: str, value: Any) -> str:
    """postgresql://[user@]host[:port]/database, with no password in it."""
    url = v.string(name, value)
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"{name}: expected postgresql://[user@]host[:port]/database, got {url!r}")
    if parts.password:
        raise ConfigError(
            f"{name}: keep the password out of the URL (configs end up in logs and tickets);"
            " put it in a file named by state.password_file"
        )
    return url


def _collector(name: str, value: Any) -> str:
    """1-64 letters, digits and . _ : -."""
    text = v.string(name, value)
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", text):
        raise ConfigError(f"{name}: 1-64 characters of letters, digits and . _ : -, got {text!r}")
    return text


CHECKS: dict[str, v.Check] = {
    "path": v.string,
    "url": _postgres_url,
    "password_file": v.string,
    "collector": _collector,
    "queue_max": v.integer(1, 10_000_000),
    "sync_seconds": v.integer(1, 3600),
}


@dataclass(frozen=True, slots=True)
class StateConfig:
    """`path`: this collector's SQLite file. `url`: the fleet's PostgreSQL, where claims are
    settled first-writer-wins; with both, the file is the local journal of what the database
    has not yet confirmed."""

    path: str = ""
    url: str = ""
    password_file: str = ""
    collector: str = ""  # this collector's name in the claims it makes (default: the hostname)
    queue_max: int = 100_000  # claims kept while the database is unreachable
    sync_seconds: int = 30  # the periodic re-read of recent claims, beside LISTEN/NOTIFY


def parse(got: dict[str, Any], base: Path | None) -> StateConfig:
    def path(key: str) -> str:
        value = str(got.get(key, ""))
        if value and base is not None and not Path(value).is_absolute():
            return str(base / value)
        return value

    if got.get("password_file") and not got.get("url"):
        raise ConfigError("state.password_file: only with state.url")
    d = StateConfig()
    return StateConfig(
        path=path("path"),
        url=got.get("url", ""),
        password_file=path("password_file"),
        collector=got.get("collector") or socket.gethostname()[:64],
        queue_max=got.get("queue_max", d.queue_max),
        sync_seconds=got.get("sync_seconds", d.sync_seconds),
    )


def redact(url: str) -> str:
    """The URL without any password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()
