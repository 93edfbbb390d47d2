"""`make fuzz`: coverage-guided fuzzing (atheris, libFuzzer's engine) of every target in turn.

    python -m tests.fuzz.run [--seconds S] [--workers W] [--runs N] [--max-len B] [TARGET ...]

Each target runs for S seconds (FUZZ_SECONDS, default 300) in W processes (FUZZ_WORKERS,
default 1: one a core at most) with a 2 GiB RSS limit each (libFuzzer's -rss_limit_mb: memory
must stay flat), starting from a corpus seeded with the samples, the real captures and the
golden cases, and kept in bench/out/fuzz/<target>/ so the next run continues from it. Crashes
land there too (crash-*, oom-*, timeout-*); each one found becomes a regression input under
tests/fuzz/regressions/ with its fix. The workers share the corpus as libFuzzer's -jobs does:
each reloads it every second, so what one finds the others mutate; their inputs are added up
and the highest coverage is shown. With N (FUZZ_RUNS) a target stops after N inputs, or at S
seconds if that comes first. Ctrl-C stops the run: that target's row says "none
(interrupted)", the targets after it are not run, and the exit status is 130. Atheris was
chosen because it is libFuzzer for Python: coverage of our own bytecode, well kept, no C to
write. The numba kernels are compiled, not instrumented; the capture and reader targets check
them differentially against the Python code instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "fuzz"
COMPILED = [
    "detector.fast.hashtable",
    "detector.fast.packets.kernels",
    "detector.fast.timeline.kernels",
    "detector.sources.walk",
]
PROGRESS_SECONDS = 300
STATS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")
EXECUTED = re.compile(r"stat::number_of_executed_units:\s+(\d+)")
INTERRUPTED = 72  # libFuzzer's exit code after SIGINT (-interrupted_exitcode)


def child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    # the columns target's own branches too: they spell what the compiled kernel decided
    with atheris.instrument_imports(
        include=["detector", "tests.fuzz.batch_targets"], exclude=COMPILED
    ):
        import detector.bindings.manual
        import detector.config.settings
        import detector.decoders.chain
        import detector.decoders.ipfix.decoder
        import detector.fast.packets.columns
        import detector.nsx.audit
        import detector.nsx.client
        import detector.nsx.pull
        import detector.nsx.realized
        import detector.nsx.snapshot
        import detector.report.load
        import detector.runners.pipeline  # noqa: F401
        import tests.fuzz.batch_targets  # noqa: F401
    from tests.fuzz.targets import ALLOWED, TARGETS

    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        with contextlib.suppress(*ALLOWED):
            target(data)

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def run(
    name: str, seconds: int, workers: int = 1, runs: int = 0, max_len: int = 65536
) -> dict[str, int | str]:
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
        f"-runs={-(-runs // workers) if runs else -1}",
        "-rss_limit_mb=2048",
        "-timeout=30",
        f"-max_len={max_len}",
        "-reload=1",
        f"-artifact_prefix={home}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    env = dict(os.environ, SPOOFWATCH_FUZZ_SCRATCH=str(scratch))
    command = [sys.executable, "-m", "tests.fuzz.run", "--child", name, "--", *args]
    logs = [home / f"worker-{k}.log" for k in range(workers)]
    procs = []
    for log in logs:
        with log.open("w") as out:
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stderr=out, stdout=out))
    started = time.monotonic()
    interrupted = False
    try:
        while any(p.poll() is None for p in procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[0].wait(timeout=PROGRESS_SECONDS)
            if any(p.poll() is None for p in procs):
                runs, cov, _ = _tally(logs)
                minutes = (time.monotonic() - started) / 60
                print(
                    f"  {name}: {runs:,} inputs, coverage {cov:,} ({minutes:.0f} min)", flush=True
                )
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: they write their stats and stop
        interrupted = True
    codes = [p.wait() for p in procs]
    interrupted |= INTERRUPTED in codes
    elapsed = time.monotonic() - started
    runs, cov, ft = _tally(logs)
    crashes = sorted(
        p.name for p in home.glob("*") if p.name.startswith(("crash-", "oom-", "timeout-", "leak-"))
    )
    for code, log in zip(codes, logs, strict=True):
        if code and code != INTERRUPTED and not crashes:
            last = log.read_text(errors="replace").strip().splitlines()[-1:]
            crashes = [f"exit {code}: {last} (see {log})"]
    return {
        "target": name,
        "inputs": runs,
        "cov": cov,
        "ft": ft,
        "findings": ", ".join(crashes) or ("none (interrupted)" if interrupted else "none"),
        "seconds": round(elapsed),
    }


def _tally(logs: list[Path]) -> tuple[int, int, int]:
    """Inputs run by all workers so far (libFuzzer's final count once a worker has stopped:
    its last status line can be far behind), and the highest coverage and features reached."""
    runs = cov = ft = 0
    for log in logs:
        text = log.read_text(errors="replace")
        found = STATS.findall(text)
        if found:
            n, c, f = (int(x) for x in found[-1])
            final = EXECUTED.search(text)
            runs, cov, ft = runs + (int(final[1]) if final else n), max(cov, c), max(ft, f)
    return runs, cov, ft


def main() -> int:
    from tests.fuzz.targets import TARGETS

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("targets", nargs="*", metavar="TARGET", help=f"some of: {', '.join(TARGETS)}")
    p.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("FUZZ_SECONDS", "300")),
        help="time per target (FUZZ_SECONDS; default 300)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("FUZZ_WORKERS", "1")),
        help="processes per target, sharing its corpus (FUZZ_WORKERS; default 1)",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("FUZZ_RUNS", "0")),
        help="stop a target after this many inputs, shared by its workers (FUZZ_RUNS; "
        "default 0: run for the whole time)",
    )
    p.add_argument(
        "--max-len",
        type=int,
        default=int(os.environ.get("FUZZ_MAX_LEN", "65536")),
        help="longest input in bytes (FUZZ_MAX_LEN; default 65536, a UDP datagram): a smaller "
        "one trades the largest inputs for more of them",
    )
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
    if not 1 <= args.workers <= (os.cpu_count() or 1):
        p.error(f"--workers must be 1 to {os.cpu_count()} (one a core), not {args.workers}")
    per = f", {args.workers} workers" if args.workers > 1 else ""
    print(f"fuzzing {len(names)} targets, {args.seconds} s each{per} (corpora in {OUT})")
    print(
        f"{'target':<14} {'inputs':>12} {'inputs/s':>9} {'coverage':>9} {'features':>9}  findings"
    )
    failed = False
    for name in names:
        r = run(name, args.seconds, args.workers, args.runs, args.max_len)
        rate = int(r["inputs"]) / max(int(r["seconds"]), 1)
        print(
            f"{name:<14} {r['inputs']:>12,} {rate:>9,.0f} {r['cov']:>9,} {r['ft']:>9,}  {r['findings']}",
            flush=True,
        )
        if r["findings"] == "none (interrupted)":
            return 130  # the targets after this one are not run
        failed |= r["findings"] != "none"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
