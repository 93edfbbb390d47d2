"""The container image: the Containerfile's posture, and a real build with podman whose image is
then run as its unprivileged user (podman itself where the machine lets it start containers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PCAPS, ROOT
from tests.integration.daemon_util import free_port, wait_for

CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"
IMAGE = "localhost/spoofwatch:test"
BASE = "localhost/spoofwatch-base:bookworm"
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin")
can_build = pytest.mark.skipif(
    shutil.which("podman") is None or shutil.which("debootstrap", path="/usr/sbin") is None
    or os.geteuid() != 0,
    reason="needs podman, debootstrap and root",
)  # fmt: skip


def test_the_containerfile_runs_unprivileged_with_a_health_check_and_labels() -> None:
    text = CONTAINERFILE.read_text()
    assert "\nUSER 10001:10001\n" in text
    assert "HEALTHCHECK" in text and "/metrics" in text.split("HEALTHCHECK", 1)[1]
    assert "setcap cap_net_raw,cap_net_admin+ep /opt/spoofwatch/bin/python3" in text
    for label in ("title", "version", "licenses", "description"):
        assert f"org.opencontainers.image.{label}=" in text
    assert 'ENTRYPOINT ["/opt/spoofwatch/bin/python3", "-m", "detector"]' in text


def podman(
    *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    assert not check or out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def base_image() -> None:
    """A Debian base made with debootstrap (no image registry is reachable from here)."""
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as root:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             "bookworm", root, "http://deb.debian.org/debian"],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "-", BASE], stdin=tar.stdout, check=True, capture_output=True
        )
        tar.wait()


@pytest.fixture(scope="module")
def image() -> Iterator[dict[str, Any]]:
    base_image()
    args = ["build", "--isolation", "chroot", "--format", "docker", "--build-arg", f"BASE={BASE}"]
    bundle = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    if bundle:  # behind a TLS-intercepting proxy, pip inside the build needs its CA
        args += ["--build-arg", f"PIP_CERT={bundle}", "-v", f"{bundle}:{bundle}:ro"]
    cache = Path.home() / ".cache" / "pip"
    if cache.is_dir():  # the wheels `make` already fetched for the virtualenv
        args += ["-v", f"{cache}:/root/.cache/pip"]
    podman(*args, "-f", str(CONTAINERFILE), "-t", IMAGE, str(ROOT))
    yield json.loads(podman("image", "inspect", IMAGE).stdout)[0]


@pytest.fixture
def rootfs() -> Iterator[Path]:
    """A writable root filesystem of the image (a created, never started, container)."""
    name = podman("create", IMAGE).stdout.strip()
    try:
        yield Path(podman("mount", name).stdout.strip())
    finally:
        podman("umount", name, check=False)
        podman("rm", "-f", name, check=False)


def as_user(rootfs: Path, *command: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command of the image as its user 10001, as the image's entrypoint would."""
    assert CHROOT is not None
    env = {"PATH": "/opt/spoofwatch/bin:/usr/bin:/bin", "HOME": "/var/lib/spoofwatch",
           "NUMBA_CACHE_DIR": "/var/lib/spoofwatch/numba"}  # fmt: skip
    return subprocess.run([CHROOT, "--userspec=10001:10001", str(rootfs), *command],
                          env=env, capture_output=True, text=True, timeout=300, **kw)  # fmt: skip


@can_build
def test_the_image_is_built_unprivileged_with_its_health_check(image: dict[str, Any]) -> None:
    config = image["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/spoofwatch/bin/python3", "-m", "detector"]
    assert "http://127.0.0.1:9750/metrics" in " ".join(image["Healthcheck"]["Test"])
    assert config["Labels"]["org.opencontainers.image.title"] == "spoofwatch"


@can_build
def test_only_the_collectors_interpreter_can_capture(image: dict[str, Any], rootfs: Path) -> None:
    caps = subprocess.run(["getcap", str(rootfs / "opt/spoofwatch/bin/python3")],
                          capture_output=True, text=True)  # fmt: skip
    assert caps.stdout.split()[-1] == "cap_net_admin,cap_net_raw=ep"
    probe = "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)"
    assert as_user(rootfs, "/opt/spoofwatch/bin/python3", "-c", probe).returncode == 0
    denied = as_user(rootfs, "/opt/spoofwatch/bin/python", "-c", probe)
    assert "Operation not permitted" in denied.stderr


@can_build
def test_the_image_replays_and_serves_metrics_its_health_check_reads(
    image: dict[str, Any], rootfs: Path
) -> None:
    entry = image["Config"]["Entrypoint"]
    with open(PCAPS / "geneve-ip-change.pcap", "rb") as capture:
        replay = as_user(rootfs, *entry, "replay", "-", "--quiet", stdin=capture)
    assert replay.returncode == 0, replay.stderr
    assert [json.loads(x)["kind"] for x in replay.stdout.splitlines()] == [
        "binding-limit",
        "unbound-source",
    ]
    udp = free_port()
    (rootfs / "etc/spoofwatch/spoofwatch.toml").write_text(
        f'[decode]\ngeneve_ports = [{udp}]\n[source]\nkind = "udp"\nlisten = "127.0.0.1:{udp}"\n'
        '[metrics]\nlisten = "127.0.0.1:9750"\n[state]\npath = "/var/lib/spoofwatch/state.db"\n'
    )
    assert CHROOT is not None
    daemon = subprocess.Popen(
        [CHROOT, "--userspec=10001:10001", str(rootfs), *entry, *image["Config"]["Cmd"]],
        env={"HOME": "/var/lib/spoofwatch", "NUMBA_CACHE_DIR": "/var/lib/spoofwatch/numba"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    health = image["Healthcheck"]["Test"][1:]  # after "CMD"
    try:
        wait_for(lambda: as_user(rootfs, *health).returncode == 0, timeout=120, what="healthy")
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, _ = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, out
    assert (rootfs / "var/lib/spoofwatch/state.db").exists()


@can_build
def test_podman_runs_the_image(image: dict[str, Any]) -> None:
    run = podman("run", "--rm", "--network", "none", IMAGE, "--version", check=False, timeout=120)
    if run.returncode != 0 and "setrlimit" in run.stderr:
        pytest.skip(
            "podman cannot start containers on this machine: the OCI runtime's setrlimit is"
            " refused (root here lacks CAP_SYS_RESOURCE); the image was run by chroot instead"
        )
    assert run.returncode == 0 and run.stdout.strip() == "spoofwatch 0.1.0", run.stderr
