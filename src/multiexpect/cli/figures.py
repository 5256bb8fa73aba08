"""Figures and escaping of the HTML report, one function per figure (matplotlib, Agg
backend, PNG as ``data:`` URIs): what the report and the analysis kinds draw with.

``esc`` HTML-escapes every user or results-file string; ``label`` escapes ``$`` so that
matplotlib never reads user text as mathematics.
"""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from .fields import StudyError

__all__ = ["BASE_COLOUR", "MAIN_COLOUR", "curve_figure", "esc", "estimates_figure", "img",
           "label", "num", "numeric_rows", "pli_figure", "png", "pyplot", "seconds",
           "sobol_figure"]

MAIN_COLOUR, BASE_COLOUR = "#1f5fa8", "#d9822b"


def esc(value) -> str:
    """HTML-escape any value's text (quotes included)."""
    return html.escape(str(value), quote=True)


def label(text) -> str:
    """A figure label: ``$`` escaped so matplotlib never parses user text as mathtext."""
    return str(text).replace("$", r"\$")


def num(value, digits: int = 6) -> str:
    """A number in ``digits`` significant digits; anything else escaped as text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return esc(value)
    return f"{value:.{digits}g}"


def seconds(value) -> str:
    """Seconds to one decimal (a non-number escaped as text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:.1f}"


def pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise StudyError("", "the HTML report needs matplotlib: pip install "
                         "'multiexpect[report]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png(fig) -> str:
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def numeric_rows(record) -> list[dict]:
    """The record's rows, their numbers as floats (``"nan"``/``"inf"`` as JSON writes them)."""
    if not record:
        return []
    return [{**row, **{k: float(row[k]) for k in ("estimate", "stderr", "low", "high")}}
            for row in record["rows"]]


def estimates_figure(main: dict, baseline: dict | None, level: float) -> str:
    """Each estimate with its interval (and the baseline's), one panel per quantity."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    rows, brows = numeric_rows(main), numeric_rows(baseline)
    n = len(rows)
    pct = f"{round(level * 100)}%"
    if n > 12:
        fig, ax = plt.subplots(figsize=(9.5, 3.6))
        series = [(main, rows, 0.0, "o", MAIN_COLOUR)]
        if brows:
            series.append((baseline, brows, 0.3, "s", BASE_COLOUR))
        for record, rws, shift, marker, colour in series:
            est = np.array([r["estimate"] for r in rws])
            ax.errorbar(np.arange(n) + shift, est, yerr=[est - [r["low"] for r in rws],
                                                         [r["high"] for r in rws] - est],
                        fmt=marker, ms=3, color=colour, label=record["method"])
        ax.set_xlabel("quantity (in table order)")
        ax.set_ylabel(f"estimate and {pct} interval")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)
        return png(fig)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 1.9 * nrows + 0.3),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        series = [(main["method"], rows[k], MAIN_COLOUR)]
        if brows:
            series.append((baseline["method"], brows[k], BASE_COLOUR))
        for pos, (_, row, colour) in enumerate(series):
            ax.errorbar([row["estimate"]], [pos], xerr=[[row["estimate"] - row["low"]],
                                                        [row["high"] - row["estimate"]]],
                        fmt="o", color=colour, capsize=4, ms=5)
        ax.set_yticks(range(len(series)))
        ax.set_yticklabels([label(s[0]) for s in series], fontsize=8)
        ax.set_ylim(-0.6, len(series) - 0.4)
        ax.set_title(label(rows[k]["name"]), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.xaxis.get_major_formatter().set_useOffset(False)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"estimates with {pct} intervals", fontsize=10)
    fig.tight_layout()
    return png(fig)


def sobol_figure(result, baseline, level: float) -> str:
    """Grouped bars: first and total order per input, with intervals (and the baseline)."""
    plt = pyplot()
    series = [result] + ([baseline] if baseline else [])
    bars = [(res, order) for res in series for order in res.orders]
    d = len(result.names)
    width = 0.8 / len(bars)
    colours = {"first": ("#1f5fa8", "#8fb3dc"), "total": ("#c2452d", "#e8a293")}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * d + 2), 3.6))
    x = np.arange(d)
    intervals = [res.confidence_interval(level) for res in series]
    for k, (res, order) in enumerate(bars):
        which = 0 if res is result else 1
        est, _ = res.indices(order)
        low, high = intervals[which][order]
        legend = "first order $S_i$" if order == "first" else "total order $S_{Ti}$"
        if baseline is not None:
            legend += f" ({label(res.method)})"
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, est, width,
               color=colours[order][which], yerr=[est - low, high - est], capsize=3,
               label=legend, error_kw={"elinewidth": 1})
    ax.set_xticks(x)
    ax.set_xticklabels([label(n) for n in result.names])
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_ylabel(f"index and {round(level * 100)}% interval")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return png(fig)


def pli_figure(result, baseline, level: float) -> str:
    plt = pyplot()
    k = len(result.names)
    fig, ax = plt.subplots(figsize=(7.5, max(2.4, 0.32 * k + 1)))
    y = np.arange(k)
    series = [(result, MAIN_COLOUR)] + ([(baseline, BASE_COLOUR)] if baseline else [])
    h = 0.8 / len(series)
    for j, (res, colour) in enumerate(series):
        low, high = res.confidence_interval(level)
        ax.barh(y + (j - (len(series) - 1) / 2) * h, res.indices, h, color=colour,
                xerr=[res.indices - low, high - res.indices], capsize=2,
                label=label(res.method))
    ax.set_yticks(y)
    ax.set_yticklabels([label(n) for n in result.names], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_xlabel(f"perturbed-law index ({result.form}) and {round(level * 100)}% interval")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def curve_figure(result, baseline, level: float) -> str:
    """``P(Y > t)`` on a log scale: each threshold's estimate with its pointwise interval
    (a band), an estimate without a hit drawn as its upper bound (a down triangle), one with
    few effective hits hollow (not to be trusted), the quantiles ``q(a)`` with their
    intervals on the horizontal line ``P = a``; the baseline's curve beside it."""
    from ..curves import ExceedanceCurve
    from ..intervals import FEW_HITS, FLAG_FEW_HITS, FLAG_NO_HIT

    plt = pyplot()
    pct = f"{round(level * 100)}%"
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    series = [(result, MAIN_COLOUR, "o", "-")]
    if baseline is not None:
        series.append((baseline, BASE_COLOUR, "s", "--"))
    positive = []
    for k, (res, colour, marker, style) in enumerate(series):
        curve = ExceedanceCurve.from_result(res, level)
        t, p = curve.thresholds, curve.probability
        flags = np.array(res.trust)
        hit = flags != FLAG_NO_HIT
        low = np.where(curve.low > 0, curve.low, np.nan)
        positive += [v for v in (*p[hit], *curve.high, *low[hit]) if v > 0]
        ax.fill_between(t[hit], low[hit], curve.high[hit], color=colour,
                        alpha=0.18 if k == 0 else 0.10, lw=0,
                        label=f"{label(res.method)}: {pct} pointwise interval")
        ax.plot(t[hit], p[hit], style, color=colour, lw=1.2)
        trusted = hit & (flags != FLAG_FEW_HITS)
        ax.plot(t[trusted], p[trusted], marker, color=colour, ms=5, ls="none",
                label=f"{label(res.method)}: P(Y > t)")
        few = flags == FLAG_FEW_HITS
        if few.any():
            ax.plot(t[few], p[few], marker, mfc="white", mec=colour, ms=6, ls="none",
                    label=f"{label(res.method)}: fewer than {FEW_HITS:g} effective hits "
                          f"(not to be trusted)")
        if (~hit).any():
            ax.plot(t[~hit], curve.high[~hit], "v", color=colour, ms=7, ls="none",
                    label=f"{label(res.method)}: no hit, {pct} upper bound")
            ax.vlines(t[~hit], curve.high[~hit] / 30.0, curve.high[~hit], color=colour,
                      lw=0.8, ls=":")
        if k == 0:
            for a, (q, q_low, q_high) in curve.quantiles.items():
                ax.axhline(a, color="#777", lw=0.7, ls=":")
                if math.isfinite(q):
                    err = [[q - q_low if math.isfinite(q_low) else 0.0],
                           [q_high - q if math.isfinite(q_high) else 0.0]]
                    ax.errorbar([q], [a], xerr=err, fmt="D", color="#2a8a4a", ms=5,
                                capsize=4)
                    ax.annotate(f"q({a:g}) = {q:.5g}", (q, a), textcoords="offset points",
                                xytext=(6, 5), fontsize=8, color="#2a8a4a")
    ax.set_yscale("log")
    if positive:
        ax.set_ylim(min(positive) / 40.0, min(1.0, max(positive) * 3.0))
    y = result.names[0].rsplit(" ", 2)[0][2:] if result.names else "Y"  # "P(Y > t0)"
    ax.set_xlabel("threshold t")
    ax.set_ylabel(label(f"P({y} > t)"))
    ax.set_title(f"exceedance curve with {pct} pointwise intervals", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    return png(fig)
