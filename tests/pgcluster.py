"""A throw-away PostgreSQL cluster (Debian's postgresql) on loopback, for tests and benches.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user the
package made; the cluster lives in a folder of its own and is removed by `destroy()`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
AVAILABLE = bool(BINS)
USER = "spoofwatch"


class Cluster:
    """initdb, start, stop and destroy one cluster listening on 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = BINS[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="spoofwatch-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, query: str) -> str:
        """Run one statement with psql; its rows as text (unaligned, tab-separated)."""
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", self.url, "-c", query],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )
