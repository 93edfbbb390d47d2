"""A read-only NSX-T Policy API client: paged lists, a request-rate cap, retries on 429 and 503.

Authentication is HTTP basic (a user of the read-only Auditor role) or a principal-identity client
certificate, never both. Every list is paged by `cursor` until it is missing, repeats, or every
`result_count` result is in. 429 and 503 (and 500 with error_code 607) wait `Retry-After`, else
a jittered back-off from 0.5 s to 5 s, within a bounded number of tries. The password is read
when the client opens and appears in no message, log or snapshot.
"""

from __future__ import annotations

import json
import os
import random
import ssl
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from detector.config.nsx import NsxConfig
from detector.errors import ConfigError, NsxError, NsxRefused

API = "/policy/api/v1"
PASSWORD_ENV = "SPOOFWATCH_NSX_PASSWORD"
RETRYABLE = (429, 503)
MAX_TRIES = 6
REASONS = {401: "check username and password", 403: "the user's role may not read this"}


class RateLimit:
    """At most `rate` request starts a second across threads (evenly spaced)."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.gap
        if start > now:
            time.sleep(start - now)


def _password(cfg: NsxConfig) -> str:
    if cfg.password_file:
        try:
            return Path(cfg.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"nsx.password_file {cfg.password_file}: {exc.strerror}") from exc
    secret = os.environ.get(PASSWORD_ENV, "")
    if not secret:
        raise ConfigError(f"nsx: set nsx.password_file or {PASSWORD_ENV} for {cfg.username}")
    return secret


def _tls(cfg: NsxConfig) -> ssl.SSLContext:
    try:
        if not cfg.verify_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
        if cfg.client_cert:
            ctx.load_cert_chain(cfg.client_cert, cfg.client_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"nsx: TLS files: {exc}") from exc
    return ctx


class NsxClient:
    """GETs against one manager; counts requests by HTTP status (or `error`)."""

    def __init__(self, cfg: NsxConfig) -> None:
        self.cfg = cfg
        self.url = cfg.url.rstrip("/")
        auth = None
        if cfg.username and not cfg.client_cert:
            auth = httpx.BasicAuth(cfg.username, _password(cfg))
        self.http = httpx.Client(
            auth=auth,
            verify=_tls(cfg),
            timeout=cfg.timeout_seconds,
            limits=httpx.Limits(max_connections=cfg.max_concurrency),
            headers={"Accept": "application/json"},
        )
        self.rate = RateLimit(cfg.max_requests_per_second)
        self.requests: Counter[str] = Counter()
        self.waited = 0.0  # seconds spent honouring 429 / 503
        self.lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, api: str = API, **params: str) -> dict[str, Any]:
        """One object (path relative to /policy/api/v1, or to `api`: the Manager API's /api/v1
        for logical switches), retried while the manager is busy."""
        where = f"NSX manager {self.url}: GET {api}{path if path.isprintable() else ascii(path)}"
        for attempt in range(MAX_TRIES):
            self.rate.wait()
            try:
                r = self.http.get(f"{self.url}{api}{path}", params=params or None)
            except httpx.InvalidURL as exc:  # a path the manager named holds a control character
                raise NsxError(f"{where}: not a path that can be requested ({exc})") from exc
            except httpx.TimeoutException as exc:
                self._count("error")
                raise NsxError(f"{where}: no answer within {self.cfg.timeout_seconds:g} s") from exc
            except httpx.HTTPError as exc:
                self._count("error")
                raise NsxError(f"{where}: {_short(exc)}") from exc
            self._count(str(r.status_code))
            if self._busy(r) and attempt < MAX_TRIES - 1:
                self._back_off(r, attempt)
                continue
            if r.status_code != 200:
                hint = REASONS.get(r.status_code, _error_message(r))
                message = f"{where}: HTTP {r.status_code} {r.reason_phrase} ({hint})"
                if r.status_code in (403, 404):
                    raise NsxRefused(message, r.status_code)
                raise NsxError(message)
            try:
                body = r.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise NsxError(f"{where}: the answer is not JSON") from exc
            except RecursionError as exc:
                raise NsxError(f"{where}: the answer is nested too deeply") from exc
            if not isinstance(body, dict):
                raise NsxError(f"{where}: the answer is not a JSON object")
            return body
        raise AssertionError("unreachable")  # the last try raises or returns

    def list(self, path: str, **params: str) -> list[Any]:
        """Every result of a paged list (objects, or strings for IP members)."""
        out: list[Any] = []
        cursor, total = "", None
        while True:
            page = self.get(path, **params, **({"cursor": cursor} if cursor else {}))
            results = page.get("results") or []
            if not isinstance(results, list):
                raise NsxError(f"NSX manager {self.url}: GET {API}{path}: results is not a list")
            out.extend(r for r in results if isinstance(r, (dict, str)))
            if total is None and isinstance(page.get("result_count"), int):
                total = page["result_count"]
            nxt = page.get("cursor") or ""
            if not nxt or nxt == cursor or not results or (total is not None and len(out) >= total):
                return out
            cursor = str(nxt)

    def _busy(self, r: httpx.Response) -> bool:
        if r.status_code in RETRYABLE:
            return True
        return r.status_code == 500 and _error_code(r) == 607  # persistence layer reconfiguring

    def _back_off(self, r: httpx.Response, attempt: int) -> None:
        try:
            delay = min(float(r.headers.get("Retry-After", "")), 60.0)
        except ValueError:
            delay = min(0.5 * 2**attempt, 5.0) * random.uniform(0.8, 1.2)
        with self.lock:
            self.waited += delay
        time.sleep(max(delay, 0.0))

    def _count(self, status: str) -> None:
        with self.lock:
            self.requests[status] += 1


def _error_code(r: httpx.Response) -> int | None:
    try:
        code = r.json().get("error_code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _error_message(r: httpx.Response) -> str:
    try:
        text = r.json().get("error_message")
    except (ValueError, AttributeError):
        text = None
    return str(text)[:200] if text else "no error message"


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
