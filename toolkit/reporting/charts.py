"""The report's charts: matplotlib figures rendered to SVG text (no browser, no network), with
their text kept as text so the page stays small, searchable and sharp in print."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen before pyplot is imported
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "toolkit",
        "text.parse_math": False,  # labels are the user's text (event names): never mathtext
        "text.usetex": False,
    }
)
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#bab0ac",
    "#ff9da6",
)
WIDTH = 7.2  # inches: fits a laptop screen's column and an A4 page


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prologue or doctype


def _figure(height: float = 2.8) -> tuple[Figure, Axes]:
    return plt.subplots(figsize=(WIDTH, height))


def stacked_bars(labels: list[str], series: dict[str, list[int]], ylabel: str) -> str:
    """One bar a label, stacked by series (messages per day by source)."""
    figure, axes = _figure()
    bottom = [0] * len(labels)
    for index, (name, values) in enumerate(series.items()):
        axes.bar(
            range(len(labels)),
            values,
            bottom=bottom,
            label=name,
            color=PALETTE[index % len(PALETTE)],
            width=0.8,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _day_ticks(axes, labels)
    axes.set_ylabel(ylabel)
    _counts(axes.yaxis)
    # above the bars, clear of the slanted day labels below them
    axes.legend(
        frameon=False,
        fontsize=8,
        ncol=min(4, max(1, len(series))),
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
    )
    return _svg(figure)


def horizontal_bars(
    labels: list[str], values: list[float], xlabel: str, notes: list[str] | None = None
) -> str:
    """Largest first, top to bottom; `notes` written at the end of each bar."""
    figure, axes = _figure(max(1.4, 0.28 * len(labels) + 0.6))
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=PALETTE[0])
    axes.set_yticks(positions, labels)
    axes.set_xlabel(xlabel)
    for position, value, note in zip(positions, values, notes or [f"{v:,}" for v in values], strict=True):
        axes.text(value, position, f" {note}", va="center", fontsize=8)
    axes.set_xlim(0, (max(values, default=0) or 1) * 1.35)
    _counts(axes.xaxis)
    return _svg(figure)


def flow(parts: list[tuple[str, int]], total_label: str) -> str:
    """Where every message read went: one bar of the total, split into its parts."""
    figure, axes = _figure(1.5)
    left = 0
    total = sum(count for _, count in parts) or 1
    for index, (name, count) in enumerate(parts):
        axes.barh(
            [0],
            [count],
            left=left,
            color=PALETTE[index % len(PALETTE)],
            label=f"{name}: {count:,} ({count / total:.1%})",
        )
        left += count
    axes.set_yticks([0], [total_label])
    axes.set_xlabel("messages")
    _counts(axes.xaxis)
    axes.legend(frameon=False, fontsize=8, ncol=2, loc="lower left", bbox_to_anchor=(0, 1.0))
    return _svg(figure)


def bars(labels: list[str], values: list[int], xlabel: str, ylabel: str, log: bool = False) -> str:
    figure, axes = _figure(2.6)
    axes.bar(range(len(labels)), values, color=PALETTE[0])
    axes.set_xticks(
        range(len(labels)),
        labels,
        rotation=30 if len(labels) > 8 else 0,
        ha="right" if len(labels) > 8 else "center",
    )
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if log:
        axes.set_yscale("log")
        axes.yaxis.set_minor_formatter(NullFormatter())  # the decades labelled, as plain numbers
    _counts(axes.yaxis)
    return _svg(figure)


def rank_frequency(
    ranks: list[int], counts: list[int], slope: float | None, intercept: float | None, verdict: str
) -> str:
    """Item popularity on log-log axes, with diagnose.py's fitted line."""
    figure, axes = _figure(3.0)
    axes.loglog(ranks, counts, ".", color=PALETTE[0], markersize=3, label="items")
    if slope is not None and intercept is not None and ranks:
        axes.loglog(
            ranks,
            [10 ** (intercept + slope * _log10(r)) for r in ranks],
            "--",
            color=PALETTE[1],
            label=f"fit: slope {slope:.2f}",
        )
    axes.set_xlabel("item rank")
    axes.set_ylabel("interactions")
    for axis in (axes.xaxis, axes.yaxis):  # plain numbers: no mathtext, which labels never parse
        _counts(axis)
        _counts(axis, minor=True)
    # wrapped: a title wider than the axes would widen the figure and shrink the chart on the page
    axes.set_title(textwrap.fill(verdict, 100), fontsize=8, loc="left")
    axes.legend(frameon=False, fontsize=8)
    return _svg(figure)


def heatmap(rows: list[str], grid: list[list[int]]) -> str:
    figure, axes = _figure(2.4)
    image = axes.imshow(grid, aspect="auto", cmap="Blues")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel("hour of day (UTC)")
    figure.colorbar(image, ax=axes, label="interactions")
    return _svg(figure)


def line(labels: list[str], values: list[int], ylabel: str) -> str:
    figure, axes = _figure(2.4)
    axes.plot(range(len(labels)), values, "-", color=PALETTE[0], marker="." if len(labels) < 60 else None)
    _day_ticks(axes, labels)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    _counts(axes.yaxis)
    return _svg(figure)


def histogram(lows: list[float], highs: list[float], rows: list[int]) -> str:
    """A numerical column's values in equal bins (a profile card's chart: small)."""
    figure, axes = plt.subplots(figsize=(3.2, 1.4))
    axes.bar(
        lows,
        rows,
        width=[high - low for low, high in zip(lows, highs, strict=True)],
        align="edge",
        color=PALETTE[0],
        edgecolor="white",
    )
    axes.set_ylabel("rows", fontsize=7)
    axes.tick_params(labelsize=7)
    _counts(axes.yaxis)
    _counts(axes.xaxis)
    axes.xaxis.set_major_locator(MaxNLocator(4))
    return _svg(figure)


def _counts(axis, minor: bool = False) -> None:
    """Counts as people write them (1,200,000), never as an offset or 1e6 above the axis."""
    from matplotlib.ticker import FuncFormatter

    (axis.set_minor_formatter if minor else axis.set_major_formatter)(
        FuncFormatter(lambda value, _: f"{value:,.0f}" if value == int(value) else f"{value:,.2g}")
    )


def _day_ticks(axes: Axes, labels: list[str]) -> None:
    step = max(1, len(labels) // 12)
    # anchored at each label's end, so that the first date stays inside the figure
    axes.set_xticks(
        range(0, len(labels), step), labels[::step], rotation=30, ha="right", rotation_mode="anchor"
    )


def _log10(value: float) -> float:
    import math

    return math.log10(value)
