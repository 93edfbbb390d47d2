"""`make fuzz`: coverage-guided fuzzing (atheris, libFuzzer's engine) of every target in turn.

    python -m tests.fuzz.run [--seconds S] [TARGET ...]

Each target runs in its own process for S seconds (FUZZ_SECONDS, default 300) with a 2 GiB RSS
limit (libFuzzer's -rss_limit_mb: memory must stay flat), starting from a corpus seeded with
the samples, the real captures and the golden cases, and kept in bench/out/fuzz/<target>/ so
the next run continues from it. Crashes land there too (crash-*, oom-*, timeout-*); each one
found becomes a regression input under tests/fuzz/regressions/ with its fix. Atheris was chosen
because it is libFuzzer for Python: coverage of our own bytecode, well kept, no C to write.
The numba kernels are compiled, not instrumented; the capture target checks them
differentially against the exact path instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "fuzz"
COMPILED = ["detector.fast.kernels", "detector.fast.tlkernels", "detector.sources.walk"]
STATS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


def child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["detector"], exclude=COMPILED):
        import detector.bindings.manual
        import detector.config
        import detector.decoders
        import detector.decoders.ipfix.decoder
        import detector.nsx.realized
        import detector.nsx.snapshot
        import detector.pipeline
        import detector.report.load  # noqa: F401
    from tests.fuzz.targets import ALLOWED, TARGETS

    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        with contextlib.suppress(*ALLOWED):
            target(data)

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def run(name: str, seconds: int) -> dict[str, int | str]:
    from tests.fuzz.targets import seeds

    home = OUT / name
    corpus = home / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, data in enumerate(seeds(name)):
            (corpus / f"seed-{i:04d}").write_bytes(data)
    scratch = home / "scratch"
    scratch.mkdir(exist_ok=True)
    args = [
        f"-max_total_time={seconds}",
        "-rss_limit_mb=2048",
        "-timeout=30",
        "-max_len=65536",
        f"-artifact_prefix={home}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    env = dict(os.environ, SPOOFWATCH_FUZZ_SCRATCH=str(scratch))
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "--child", name, "--", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    found = STATS.findall(done.stderr)
    runs, cov, ft = (int(x) for x in found[-1]) if found else (0, 0, 0)
    crashes = sorted(
        p.name for p in home.glob("*") if p.name.startswith(("crash-", "oom-", "timeout-", "leak-"))
    )
    if done.returncode and not crashes:
        crashes = [f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"]
    return {
        "target": name,
        "inputs": runs,
        "cov": cov,
        "ft": ft,
        "findings": ", ".join(crashes) or "none",
    }


def main() -> int:
    from tests.fuzz.targets import TARGETS

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help=f"some of: {', '.join(TARGETS)}")
    p.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "300")))
    p.add_argument("--child", help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:split])
    if args.child:
        child(args.child, argv[split + 1 :])  # libFuzzer's own flags and the corpus
        return 0
    names = args.targets or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        p.error(f"unknown target {unknown[0]}; known: {', '.join(TARGETS)}")
    print(f"fuzzing {len(names)} targets, {args.seconds} s each (corpora in {OUT})")
    print(
        f"{'target':<14} {'inputs':>12} {'inputs/s':>9} {'coverage':>9} {'features':>9}  findings"
    )
    failed = False
    for name in names:
        r = run(name, args.seconds)
        rate = int(r["inputs"]) / max(args.seconds, 1)
        print(
            f"{name:<14} {r['inputs']:>12,} {rate:>9,.0f} {r['cov']:>9,} {r['ft']:>9,}  {r['findings']}",
            flush=True,
        )
        failed |= r["findings"] != "none"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
