"""`make bench`: one NSX pull of 10,000 ports from the local test manager over TLS, spread as real
estates are: 100 segments under 50 Tier-1 gateways and 20 in 10 projects (those without
`overlay_id`, so their VNI is read from the realized logical switch).

Prints the request count by status, the time, the seconds spent honouring 429s (20 of the
`/state` requests answer 429 with Retry-After: 1), what a manager at 100 requests/s would take,
and the snapshot's size. Usage: nsx_pull.py [requests-per-second].
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.config.nsx import NsxConfig  # noqa: E402
from detector.nsx import snapshot  # noqa: E402
from detector.nsx.client import NsxClient  # noqa: E402
from detector.nsx.pull import pull  # noqa: E402
from tests.nsx_manager import PASSWORD, USER, Estate, Manager, entry, make_ca  # noqa: E402


def main() -> None:
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0
    tmp = Path(tempfile.mkdtemp())
    ca, cert, key = make_ca(tmp)
    estate = Estate()
    where = [{"tier1": f"t1-{t}"} for t in range(50) for _ in range(2)]
    where += [{"project": f"tenant-{j}"} for j in range(10) for _ in range(2)]
    ports = 0
    for s, place in enumerate(where):
        intent = None if "project" in place else 5000 + s
        seg = estate.segment(f"seg{s}", vni=intent, realized_vni=5000 + s, **place)
        count = 10_000 // len(where) + (s < 10_000 % len(where))
        for p in range(count):
            mac = f"00:50:56:{s:02x}:{p // 256:02x}:{p % 256:02x}"
            ip = f"10.{s}.{p // 256}.{p % 256}"
            estate.port(seg, f"p{ports}", f"vif-{s}-{p}", realized=[entry(ip, mac)])
            ports += 1
    manager = Manager(page_size=1000)
    manager.load(estate)
    manager.fail("/state", 429, times=20, **{"Retry-After": "1"})
    server = manager.serve(cert, key)
    (tmp / "pw").write_text(PASSWORD)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    cfg = NsxConfig(url=url, username=USER, password_file=str(tmp / "pw"), ca_file=str(ca),
                    max_requests_per_second=rate)  # fmt: skip
    client = NsxClient(cfg)
    started = time.monotonic()
    snap = pull(client)
    seconds = time.monotonic() - started
    client.close()
    server.shutdown()
    cost = snap["cost"]
    total = sum(cost["requests"].values())
    size = len(snapshot.dumps(snap).encode())
    print(
        f"\nNSX pull under 50 Tier-1s and 10 projects: {snapshot.census(snap)}"
        f" (local TLS test manager, cap {rate:g}/s,"
        f" {cfg.max_concurrency} in flight): {total:,} requests {cost['requests']} in"
        f" {seconds:.1f} s ({total / seconds:,.0f}/s); {cost['waited_seconds']:.0f} s honouring"
        f" 429 Retry-After; a manager at 100 requests/s would take {total / 100 / 60:.1f} min;"
        f" snapshot {size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
