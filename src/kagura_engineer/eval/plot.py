"""`--plot FILE.png`: paired bars per issue (green rate, mean cost), drawn with matplotlib's Agg.

matplotlib is the optional extra `plot`; `require_matplotlib()` is asked before any run, so a
missing extra costs nothing but one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kagura_engineer.errors import ConfigError
from kagura_engineer.eval.report import Report

EXTRA = "pip install 'kagura-engineer[plot]'"
COLORS = {"on": "#4c72b0", "off": "#c0c0c0"}


def require_matplotlib() -> Any:
    """The matplotlib module, or ConfigError (exit 2) naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(f"--plot needs matplotlib, which is not installed: {EXTRA}") from None
    return matplotlib


def write_plot(report: Report, path: str | Path) -> Path:
    """Two panels of paired bars (recall on / off) per issue: green rate and mean cost."""
    matplotlib = require_matplotlib()
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    labels = [f"#{n}" for n in report.issues] + ["all"]
    arms = {arm: [report.arm(arm, n) for n in report.issues] + [report.arm(arm)] for arm in ("on", "off")}
    fig = Figure(figsize=(max(5.0, 1.2 * len(labels) + 2), 6.0), dpi=100)
    panels = fig.subplots(2, 1, sharex=True)
    width = 0.38
    xs = list(range(len(labels)))
    for ax, metric, title in ((panels[0], "green", "green rate"), (panels[1], "cost", "mean cost (USD)")):
        for offset, arm in ((-width / 2, "on"), (width / 2, "off")):
            values = [s.green_rate if metric == "green" else s.mean("cost_usd") for s in arms[arm]]
            ax.bar([x + offset for x in xs], values, width, label=f"recall {arm}", color=COLORS[arm])
        ax.set_ylabel(title)
        if metric == "green":
            ax.set_ylim(0, 1.0)
    panels[1].set_xticks(xs, labels)
    handles, names = panels[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize="small", frameon=False)
    fig.suptitle(f"kagura-engineer eval · {report.repeat} repeat(s) per arm")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
