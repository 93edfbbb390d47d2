"""Fixtures of the integration tests that need the host: a veth pair in a namespace (root)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.live_util import TAG, sh


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A namespace holding one end of a veth pair; the other end stays here for capture."""
    ns, inside, outside = f"swr{TAG}", f"swa{TAG}", f"swb{TAG}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
        # no IPv6 on either end: the links' own router solicitations would be captured too
        sh("sysctl", "-qw", f"net.ipv6.conf.{outside}.disable_ipv6=1")
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{inside}.disable_ipv6=1")
        sh("ip", "link", "set", outside, "up")
        sh("ip", "-n", ns, "link", "set", inside, "up")
        yield ns, outside
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
