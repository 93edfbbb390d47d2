"""Per-port timeline plots (matplotlib, Agg): packets per second by source address, as PNG bytes."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

COLOURS = ["#c0392b", "#8e44ad", "#d35400", "#2c3e50", "#16a085", "#7f8c8d"]
BOUND_COLOUR = "#2e86c1"


def port_plot(
    rows: pd.DataFrame,
    bucket_seconds: float,
    bound: set[str],
    change: pd.Timestamp | None,
    title: str,
) -> bytes:
    """One port's activity: a step line per source address; the bound addresses shaded, the
    first alert (the change) marked with a vertical line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate = rows.assign(src=rows["src_ip"].fillna("(no address)")).pivot_table(
        index="time", columns="src", values="packets", aggfunc="sum", fill_value=0
    )
    rate = rate.sort_index() / bucket_seconds
    if len(rate) == 1:  # one bucket: give the step a width
        rate.loc[rate.index[0] + pd.Timedelta(seconds=bucket_seconds)] = rate.iloc[0]
    fig, ax = plt.subplots(figsize=(9, 2.6), dpi=100)
    try:
        x = rate.index.tz_convert(None) if rate.index.tz is not None else rate.index
        others = 0
        for src in sorted(rate.columns, key=lambda s: (s not in bound, s)):
            y = rate[src].to_numpy()
            if src in bound:
                ax.fill_between(x, y, step="post", alpha=0.35, color=BOUND_COLOUR)
                ax.step(x, y, where="post", color=BOUND_COLOUR, label=f"{src} (bound)")
            else:
                colour = COLOURS[others % len(COLOURS)]
                others += 1
                ax.step(x, y, where="post", color=colour, linewidth=2, label=src)
        if change is not None and not pd.isna(change):
            ax.axvline(change.tz_convert(None), color="black", linestyle="--", linewidth=1)
            ax.annotate(
                "first alert",
                (change.tz_convert(None), ax.get_ylim()[1] * 0.92),
                fontsize=8,
                xytext=(4, 0),
                textcoords="offset points",
            )
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel("packets/s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def incident_plots(
    incidents: pd.DataFrame, timeline: pd.DataFrame, meta: dict[str, Any], top: int
) -> list[tuple[pd.Series, bytes]]:
    """A plot for each of the `top` worst ports that the timeline covers."""
    if not len(timeline) or not len(incidents):
        return []
    worst = incidents.head(top)
    keys = set(zip(worst["segment"], worst["mac"], strict=True))
    mine = timeline[timeline["mac"].isin({m for _, m in keys})]
    bucket = float(meta.get("bucket_seconds", 1.0))
    out = []
    for _, inc in worst.iterrows():
        rows = mine[(mine["segment"] == inc["segment"]) & (mine["mac"] == inc["mac"])]
        if not len(rows):
            continue
        bound = {a for a in str(inc["bound"]).split() if a}
        title = f"{inc['mac']} in {inc['segment']}"
        out.append((inc, port_plot(rows, bucket, bound, inc["first_seen"], title)))
    return out
