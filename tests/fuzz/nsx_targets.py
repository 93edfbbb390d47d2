"""Fuzz targets for what NSX-T hands us: snapshot files, and the Policy API's answers.

Both end in `consume`, which does with a snapshot everything spoofwatch's commands and daemon
do: the ports with their bindings and effective profiles, the SpoofGuard audit and its JSON
(`nsx audit`), the import into a binding table (`run`, `replay --nsx-snapshot`), and the save
that `nsx snapshot --out` and the daemon's state file make. `nsx_api` drives the real client
and `pull` through an in-process HTTP transport answering from the input, so a hostile
manager's pages, objects and bodies reach every one of those.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx

from detector.errors import ConfigError, NsxError


def consume(doc: dict[str, Any]) -> str:
    """Every use of a checked snapshot; its audit as JSON text."""
    from detector.config.settings import Config
    from detector.nsx import audit, realized, snapshot
    from detector.runners.pipeline import Pipeline
    from tests.conftest import MemorySink

    unprintable = [s for s in _strings(doc) if not s.isprintable()]
    if unprintable:
        raise AssertionError(f"manager text that reaches a terminal as it is: {unprintable[:3]}")
    ports = list(realized.ports(doc))
    result = json.dumps(audit.to_json(audit.audit(doc), doc), sort_keys=True)
    Pipeline(Config(), MemorySink()).import_nsx_ports(ports)
    saved = snapshot.dumps(doc).encode("utf-8")  # what the file and the state store hold
    again = snapshot.check(json.loads(saved), "saved")
    back = json.dumps(audit.to_json(audit.audit(again), again), sort_keys=True)
    if back != result:
        raise AssertionError(f"the saved snapshot audits otherwise:\n{result}\n{back}")
    return result


def _strings(value: Any) -> Iterator[str]:
    """Every string of a JSON value, keys included (iteratively: values nest deep)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v)
            stack.extend(v.values())


def nsx_snapshot(data: bytes) -> None:
    """An NSX snapshot file (the Policy API's answers as kept on disk), read as `--nsx-snapshot`
    reads it."""
    from detector.nsx import snapshot
    from tests.fuzz.targets import as_file

    with as_file(data, ".json") as path:
        try:
            doc = snapshot.load(path)
        except ConfigError:
            return
    consume(doc)


class _Answers:
    """The fuzz input as a manager: `lists` paged by `page_size`, `objects`, and `raw`
    bodies served as they are for a path (a string as bytes, anything else as JSON)."""

    def __init__(self) -> None:
        from tests.nsx_manager import PASSWORD, USER, Manager

        self.manager = Manager()
        self.auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.raw: dict[str, Any] = {}

    def load(self, doc: dict[str, Any]) -> bool:
        lists, objects, raw = (doc.get(k, {}) for k in ("lists", "objects", "raw"))
        size = doc.get("page_size", 2)
        if not (isinstance(lists, dict) and isinstance(objects, dict) and isinstance(raw, dict)):
            return False
        if not isinstance(size, int) or not 1 <= size <= 1000:
            return False
        if not all(isinstance(v, list) for v in lists.values()):
            return False
        self.manager.lists, self.manager.objects, self.manager.page_size = lists, objects, size
        self.raw = raw
        return True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        from tests.nsx_manager import API

        path = request.url.path
        rel = path[len(API) :]
        if rel in self.raw:
            body = self.raw[rel]
            text = body if isinstance(body, str) else json.dumps(body)
            return httpx.Response(200, content=text.encode("utf-8", "surrogatepass"))
        if rel not in self.manager.lists and rel not in self.manager.objects:
            # a list the estate does not name is empty; an object, empty too
            empty = {} if rel.endswith("/state") else {"results": [], "result_count": 0}
            return httpx.Response(200, json=empty)
        query = parse_qs(request.url.query.decode())
        status, headers, body = self.manager.answer(path, query, self.auth)
        return httpx.Response(status, headers=headers, content=body)


@functools.cache
def _client() -> tuple[Any, _Answers]:
    """One client for the run (a TLS context is costly to make), its transport in-process."""
    from detector.config.nsx import NsxConfig
    from detector.nsx.client import NsxClient

    answers = _Answers()
    cfg = NsxConfig(url="https://nsx.fuzz", max_requests_per_second=1e9, max_concurrency=1)
    client = NsxClient(cfg)
    client.http.close()
    client.http = httpx.Client(transport=httpx.MockTransport(answers), timeout=5.0)
    return client, answers


def nsx_api(data: bytes) -> None:
    """The Policy API's answers, pulled as `spoofwatch nsx snapshot` and `run` pull them: the
    pulled document passes the snapshot check, and every use of it keeps its property."""
    from detector.nsx import pull, snapshot

    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return
    client, answers = _client()
    if not isinstance(doc, dict) or not answers.load(doc):
        return
    try:
        pulled = pull.pull(client)
    except (NsxError, ConfigError):
        return
    try:
        snapshot.check(pulled, "pulled")
    except ConfigError as exc:
        raise AssertionError(f"a pull that a snapshot load refuses: {exc}") from exc
    consume(pulled)


def seeds_api() -> list[bytes]:
    """The integration tests' estates, as the answers of a manager."""
    from tests.integration.test_nsx import audit_estate, seed_estate

    out = []
    for estate in (seed_estate(), audit_estate(False), audit_estate(True)):
        doc = {"page_size": 2, "lists": estate.lists(), "objects": estate.objects()}
        out.append(json.dumps(doc).encode())
    return out


def seeds_snapshot() -> list[bytes]:
    """The same estates pulled into snapshot files (policies, groups and profiles included)."""
    from detector.nsx import pull, snapshot

    client, answers = _client()
    out = []
    for seed in seeds_api():
        answers.load(json.loads(seed))
        out.append(snapshot.dumps(pull.pull(client)).encode())
    return out
