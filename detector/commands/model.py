"""`spoofwatch model`: train the behaviour model on benign captures, evaluate it, show it."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    m = sub.add_parser(
        "model",
        help="the behaviour model of the anomaly detector: train, evaluate, show",
        description="The anomaly detector compares each port's traffic per window (packets,"
        " bytes, destinations, ports, SYN share, ARP, ND, DHCP, broadcast share, new peers,"
        " the ratio to its own history) with a model of benign behaviour. Train the model on"
        " captures of normal traffic, check it on labelled captures, then set"
        " [anomaly] model = FILE in the configuration of replay or run.",
    )
    actions = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = actions.add_parser(
        "train",
        help="fit a model on benign captures",
        description="Replay benign captures (in order, through one binding table, as replay"
        " does), cut each port's traffic into windows and fit the model on them. Train on"
        " traffic you trust: whatever it holds becomes normal.",
        epilog="example: spoofwatch model train pcaps/behaviour/baseline.pcap.gz --out model.npz",
    )
    t.add_argument("captures", nargs="+", metavar="CAPTURE")
    t.add_argument("--out", required=True, metavar="MODEL", help="the model file to write (.npz)")
    t.add_argument(
        "--window",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="the window each port's traffic is counted in (default 10; scoring uses the same)",
    )
    t.add_argument(
        "--timeline",
        metavar="FILE",
        help="also write the training windows, one row per port and window with every feature"
        " and its score, to FILE (.csv or .parquet), to review what the model calls normal",
    )
    t.add_argument("--config", metavar="FILE", help="TOML configuration (decoding, bindings)")
    e = actions.add_parser(
        "evaluate",
        help="precision, recall and false alerts per hour on labelled captures",
        description="Replay each capture on its own through the anomaly detector and compare"
        " its alerts with the attack intervals of a labels file.",
        epilog="example: spoofwatch model evaluate --model model.npz --labels"
        " pcaps/behaviour/labels.json pcaps/behaviour/attack-*.pcap.gz"
        " pcaps/behaviour/benign-*.pcap.gz",
    )
    e.add_argument("captures", nargs="+", metavar="CAPTURE")
    e.add_argument("--model", required=True, metavar="MODEL", help="a file from model train")
    e.add_argument("--labels", required=True, metavar="FILE", help="attack intervals (JSON)")
    e.add_argument(
        "--threshold", type=float, metavar="FACTOR", help="alert threshold (default: the model's)"
    )
    e.add_argument("--config", metavar="FILE", help="TOML configuration (decoding, bindings)")
    s = actions.add_parser("show", help="what a model file holds and how it was trained")
    s.add_argument("model", metavar="MODEL")
    m.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return {"train": train, "evaluate": evaluate, "show": show}[args.action](args)


def train(args: argparse.Namespace) -> int:
    from detector.behaviour import modelfile
    from detector.commands.summary import ProgressBar
    from detector.config.settings import load_or_default
    from detector.errors import ConfigError
    from detector.runners import train as training

    if not 1 <= args.window <= 3600:
        raise ConfigError(f"--window: expected seconds from 1 to 3600, got {args.window:g}")
    cfg = load_or_default(args.config)
    bar = ProgressBar() if sys.stderr.isatty() else None
    review = _review(args.timeline) if args.timeline else None
    model = training.fit(cfg, args.captures, args.window, bar, review)
    if bar is not None:
        bar.done()
    modelfile.save(model, args.out)
    i = model.info
    print(
        f"spoofwatch: model in {args.out}: {i['windows']:,} windows of {args.window:g} s from"
        f" {i['ports']:,} ports; highest training score {i['highest_training_score']},"
        f" alert threshold {model.threshold:.3f}",
        file=sys.stderr,
    )
    return 0


def _review(path: str):  # type: ignore[no-untyped-def]
    """Write the training windows with their features and scores to a CSV or Parquet file."""
    from detector.behaviour.features import FEATURES
    from detector.errors import ConfigError

    if not path.endswith((".csv", ".parquet")):
        raise ConfigError(f"--timeline {path}: name a .csv or .parquet file")

    def write(got, scores) -> None:  # type: ignore[no-untyped-def]
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame(got.matrix(), columns=list(FEATURES))
        macs = np.concatenate(got.mac).tolist()
        frame.insert(0, "window_start", pd.to_datetime(np.concatenate(got.start_ns), utc=True))
        frame.insert(1, "segment", got.segment)
        frame.insert(2, "mac", [m.to_bytes(6, "big").hex(":") for m in macs])
        if len(scores) == len(frame):
            frame["score"] = scores
        if path.endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)

    return write


def evaluate(args: argparse.Namespace) -> int:
    from detector.config.settings import load_or_default
    from detector.runners import evaluate as ev

    cfg = load_or_default(args.config)
    labels = ev.load_labels(args.labels)
    results = ev.evaluate(cfg, args.model, labels, args.captures, args.threshold)
    print(ev.table(results))
    return 0


def show(args: argparse.Namespace) -> int:
    from detector.behaviour import modelfile

    model = modelfile.load(args.model)
    print(f"window: {model.window_seconds:g} s, threshold: {model.threshold:.3f}")
    for key, value in model.info.items():
        print(f"{key}: {value}")
    print(f"known peers: {len(model.peers):,}")
    for segment, b in model.baselines.items():
        print(f"baseline {segment}: {b.windows:,} windows")
    return 0
