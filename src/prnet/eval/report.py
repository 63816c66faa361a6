"""Benchmark reports: CSV rows, a Markdown NME table and a CED plot."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prnet.errors import PRNetError
from prnet.eval.metrics import YAW_BIN_LABELS, ced_curve

__all__ = ["markdown_table", "plot_ced", "write_csv"]

_TABLE_KEYS: tuple[str, ...] = (*YAW_BIN_LABELS, "balanced", "mean")


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return repr(value)  # shortest exact round-trip text ('nan' for NaN)
    return value


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write dict rows to a CSV file (parent folders are created).

    Columns are the union of the rows' keys in first-seen order; a missing key is an
    empty cell. Floats are written exactly (``repr``), so ``float(cell)`` round-trips.

    Args:
        path: output ``.csv`` path.
        rows: the rows, e.g. one per image or one :func:`~prnet.eval.metrics.summarize`
            dict per method (add a ``"method"`` key).

    Returns:
        The path written.

    Raises:
        PRNetError: a value is not a scalar (lists and arrays do not fit in a cell).
    """
    out = Path(path)
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    for row in rows:
        for key, value in row.items():
            if np.ndim(value) != 0:
                raise PRNetError(f"write_csv: column {key!r} holds a non-scalar {type(value)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), restval="")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out


def _fmt(value: float | None, scale: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * scale:.{digits}f}"


def markdown_table(
    summaries: Mapping[str, Mapping[str, Mapping[str, Any]]],
    scale: float = 100.0,
    digits: int = 2,
) -> str:
    """A Markdown table of NME summaries, one row per method.

    Args:
        summaries: ``{method: {group: summary}}`` where ``group`` is a column-group label
            such as ``"2D"`` / ``"3D"`` and ``summary`` a dict from
            :func:`~prnet.eval.metrics.summarize`. Groups appear in first-seen order.
        scale: factor applied to the NMEs (100: fractions → percent).
        digits: decimals shown.

    Returns:
        The table text (ending in a newline). Each group has the columns 0-30, 30-60,
        60-90, balanced and mean; a missing group or empty bin shows "n/a", and a balanced
        mean computed over fewer than three bins is marked ``*`` with a footnote.
    """
    groups: dict[str, None] = {}
    for by_group in summaries.values():
        groups.update(dict.fromkeys(by_group))
    header = ["Method"] + [f"{g} {k}" for g in groups for k in _TABLE_KEYS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    flagged = False
    for method, by_group in summaries.items():
        cells = [str(method)]
        for g in groups:
            summary = by_group.get(g, {})
            for key in _TABLE_KEYS:
                text = _fmt(summary.get(key), scale, digits)
                if key == "balanced" and summary and not summary.get("balanced_complete", True):
                    text += "*"
                    flagged = True
                cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    if flagged:
        lines += ["", "\\* balanced mean over the non-empty yaw bins only (a bin had no images)."]
    return "\n".join(lines) + "\n"


def plot_ced(
    path_png: str | Path,
    nme_by_method: Mapping[str, Any],
    max_x: float = 0.1,
    title: str = "Cumulative error distribution",
) -> Path:
    """Plot cumulative error distribution curves (x in percent NME) to a PNG file.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend change).

    Args:
        path_png: output ``.png`` path (parent folders are created).
        nme_by_method: ``{method: (B,) NME fractions}``.
        max_x: right end of the x axis as a fraction (0.1 = 10%).
        title: figure title.

    Returns:
        The path written.

    Raises:
        PRNetError: matplotlib is not installed (``pip install matplotlib``), or as
        :func:`~prnet.eval.metrics.ced_curve`.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PRNetError("plot_ced needs matplotlib: pip install matplotlib") from exc
    out = Path(path_png)
    fig = Figure(figsize=(6, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for method, nme in nme_by_method.items():
        x, y = ced_curve(np.asarray(nme, dtype=np.float64), max_x=max_x)
        ax.plot(x * 100.0, y * 100.0, label=str(method))
    ax.set_xlim(0, max_x * 100.0)
    ax.set_ylim(0, 100)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("Images (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if nme_by_method:
        ax.legend(loc="lower right")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
