"""The digest chart: incidents per week by service (stacked bars) and the MTTR trend (a line), as a PNG.

Drawn with matplotlib's Agg canvas on a Figure of its own (no pyplot, no global state), so worker
threads can draw at the same time. Labels come from signals (service names): matplotlib draws them
as text, and `$` is escaped so no label is read as mathtext.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from incident_core.insights import WeeklySeries

# Colour-blind friendly (Okabe–Ito); "other" is grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"
MTTR_COLOUR = "#222222"


@dataclass(frozen=True)
class ChartSize:
    """Pixels = inches × dpi."""

    width: float = 8.0
    height: float = 4.0
    dpi: int = 100


FULL = ChartSize()
COMPACT = ChartSize(width=6.4, height=3.2, dpi=75)  # fits a Teams card (28 KB per message) once quantized


def _label(text: str) -> str:
    return text.replace("$", r"\$")[:40]


def render_chart(series: WeeklySeries, *, title: str, size: ChartSize = FULL, palette_colours: int = 0) -> bytes:
    """The PNG bytes; `palette_colours` > 0 quantizes to that many colours (much smaller files)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported on first use: it takes a while
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size.width, size.height), dpi=size.dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    labels = [w.start.strftime("%d %b") for w in series.weeks]
    positions = list(range(len(series.weeks)))
    bottoms = [0] * len(series.weeks)
    for n, service in enumerate(series.services):
        heights = [w.counts.get(service, 0) for w in series.weeks]
        colour = OTHER_COLOUR if service == "other" else PALETTE[n % len(PALETTE)]
        ax.bar(positions, heights, bottom=bottoms, color=colour, label=_label(service), width=0.7)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set_ylabel("incidents opened")
    ax.set_ylim(0, max([*bottoms, 1]) * 1.45)  # room for the legend above the bars
    ax.set_title(_label(title) if len(title) <= 40 else title.replace("$", r"\$")[:80], fontsize=10)
    mttr = [None if w.mttr_seconds is None else w.mttr_seconds / 3600 for w in series.weeks]
    trend = ax.twinx()
    points = [(p, m) for p, m in zip(positions, mttr, strict=True) if m is not None]
    if points:
        trend.plot([p for p, _ in points], [m for _, m in points], color=MTTR_COLOUR, marker="o", linewidth=1.5,
                   label="MTTR (h)")
        trend.set_ylim(0, max(m for _, m in points) * 1.25)
    trend.set_ylabel("MTTR (hours)")
    handles, names = ax.get_legend_handles_labels()
    more, more_names = trend.get_legend_handles_labels()
    if handles or more:
        ax.legend(handles + more, names + more_names, fontsize=7, loc="upper left", ncol=2, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    return _quantized(png, palette_colours) if palette_colours else png


def _quantized(png: bytes, colours: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=colours)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
        return out.getvalue()
