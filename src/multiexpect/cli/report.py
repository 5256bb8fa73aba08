"""One self-contained HTML report of a finished study.

Everything is inline: the styles in a ``<style>`` element, the figures as base64 PNG
``data:`` URIs drawn by matplotlib (Agg backend, the ``report`` extra). The page has no
script and fetches nothing; a Content-Security-Policy forbids both, so even a mistake in
escaping could not run code. Every string that comes from the user (study name, input names,
law names, the study file) is HTML-escaped, and ``$`` is escaped in figure labels so that
matplotlib does not read it as mathematics.

Sections: settings; per analysis a table of estimates with intervals (and the baseline side
by side with the variance ratio when the study ran one; the effective hits of event
probabilities, those not to be trusted flagged), a plot of the estimates with their
intervals, an exceedance curve on a log scale, Sobol' first/total-order bars with
intervals, perturbed-law index bars, the
adaptation history (predicted final error per stage, mixture weights); reproducibility
(seed, versions, model runs spent, store); the study file.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone

import numpy as np

from ..intervals import FEW_HITS, FEW_POINTS, FLAG_FEW_HITS, FLAG_FEW_POINTS, FLAG_NO_HIT
from ..sampling.rqmc import interval_line
from .fields import StudyError
from .figures import MAIN_COLOUR, esc, img, label, num, numeric_rows, png, pyplot, seconds
from .kinds import KINDS
from .quantities import result_from_dict
from .schema import validate_results

__all__ = ["load_results", "render_report", "write_report"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2733;
background:#f6f7f9;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px;background:#fff;
box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:1.7em;margin:.2em 0 .1em}h2{font-size:1.3em;margin-top:1.8em;
border-bottom:2px solid #dfe4ea;padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.3em}
.lede{color:#4a5868;margin:.2em 0 1em}.kpi{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0}
.kpi div{background:#eef3f8;border-radius:8px;padding:8px 14px}.kpi b{display:block;
font-size:1.25em}table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{padding:4px 10px;border-bottom:1px solid #e3e7ec;text-align:right}
th{background:#f0f3f6;font-weight:600}td.l,th.l{text-align:left}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}img{max-width:100%;height:auto;display:block;
margin:.5em 0}.note{color:#5b6775;font-size:.9em}pre{background:#f4f6f8;padding:10px;
overflow-x:auto;font-size:.85em;border-radius:6px}code{font-size:.95em}
details summary{cursor:pointer;color:#29507a}.warn{color:#b3261e}
"""

_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "script-src 'none'; base-uri 'none'; form-action 'none'")



# ---------------------------------------------------------------------- loading
def load_results(source: str) -> tuple[dict, str]:
    """The results document from a results JSON file or the store it sits next to."""
    from .runner import RESULTS_FORMAT, results_path_for

    if not os.path.exists(source):
        raise StudyError("", f"{source}: no such file")
    path = source
    if not source.endswith(".json"):
        path = results_path_for(source)
        if not os.path.exists(path):
            raise StudyError("", f"{source}: no results file next to this store (expected "
                             f"{path}); run 'multiexpect run' first")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyError("", f"{path}: not a multiexpect results file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise StudyError("", f"{path}: not a multiexpect results file (expected format "
                         f"{RESULTS_FORMAT!r})")
    try:
        validate_results(doc)
    except StudyError as exc:
        raise StudyError("", f"{path}: {exc}") from exc
    return doc, path


def _history(result) -> list[dict]:
    history = getattr(result, "history", None)
    if not history:
        history = getattr(result, "diagnostics", {}).get("history") or []
    return [h for h in history if isinstance(h, dict) and "predicted_error" in h]


def _history_figure(history: list[dict], chosen) -> str:
    """Predicted final error per stage (log scale) and the mixture weights per stage."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    stages = [int(h.get("index", i)) for i, h in enumerate(history)]
    errors = [float(h["predicted_error"]) if not isinstance(h["predicted_error"], str)
              else float("nan") for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.3))
    ax1.plot(stages, errors, "o-", color=MAIN_COLOUR)
    if all(e > 0 for e in errors if math.isfinite(e)):
        ax1.set_yscale("log")
    if chosen is not None and chosen in stages:
        ax1.axvline(chosen, color="#2a8a4a", ls="--", lw=1, label=f"kept: stage {chosen}")
        ax1.legend(frameon=False, fontsize=8)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_xlabel("stage (0 = pilot)")
    ax1.set_ylabel("predicted final error $E_t$")
    ax1.set_title("adaptation: predicted final error", fontsize=10)
    ax1.grid(alpha=0.3)
    labels: list[str] = []
    for h in history:
        for name in h.get("components") or []:
            if name not in labels:
                labels.append(name)
    weights = np.zeros((len(history), max(len(labels), 1)))
    for i, h in enumerate(history):
        for name, a in zip(h.get("components") or [], h.get("alpha") or []):
            weights[i, labels.index(name)] += float(a)
    if labels:
        cmap = plt.get_cmap("tab20")
        bottom = np.zeros(len(history))
        for j, name in enumerate(labels):
            ax2.bar(stages, weights[:, j], bottom=bottom, color=cmap(j % 20),
                    label=label(name), width=0.7)
            bottom += weights[:, j]
        if len(labels) <= 12:
            ax2.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    else:
        ax2.text(0.5, 0.5, "no mixture fitted", ha="center", va="center")
    ax2.set_xlabel("stage")
    ax2.set_ylabel("mixture weight α")
    ax2.set_title("adaptation: mixture weights", fontsize=10)
    fig.tight_layout()
    return png(fig)


# ---------------------------------------------------------------------- HTML pieces
def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f'<th class="l">{h}</th>' if i < left else f"<th>{h}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' if i < left
                                    else f'<td class="num">{c}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _settings_html(doc: dict) -> str:
    s = doc["settings"]
    out = ["<h2>Settings</h2>"]
    model = s["model"]
    if "python" in model:
        desc = f"Python function <code>{esc(model['python'])}</code>"
        desc += "" if model.get("vectorized", True) else " (called point by point)"
    else:
        desc = "command <code>" + esc(" ".join(model["command"])) + "</code>"
    out.append(f"<p>Model: {desc}, output column {esc(model.get('output', 0))}.</p>")
    rows = []
    for spec in s["inputs"]:
        params = ", ".join([num(a) for a in spec.get("args", [])]
                           + [f"{esc(k)}={num(v)}" for k, v in spec.get("params", {}).items()])
        rows.append([esc(spec["name"]), f"<code>scipy.stats.{esc(spec['dist'])}</code>",
                     esc(params)])
    out.append("<h3>Inputs</h3>" + _table(["input", "distribution", "parameters"], rows,
                                           left=3))
    if s.get("correlation"):
        names = [esc(i["name"]) for i in s["inputs"]]
        rows = [[names[i]] + [num(v, 3) for v in row] for i, row in enumerate(s["correlation"])]
        out.append("<h3>Gaussian-copula correlation</h3>" + _table(["", *names], rows))
    rows = []
    for a in s["analyses"]:
        extra = {k: v for k, v in a.items()
                 if k not in ("kind", "budget", "method", "baseline", "options", "sampling",
                              "baseline_sampling")
                 and v not in (None, [], {})}
        sampling = a.get("sampling", "mc")
        base = a.get("baseline_sampling")
        if a["baseline"] and base and base != sampling:
            sampling = f"{sampling} (baseline {base})"
        rows.append([esc(a["kind"]), esc(a["method"]), esc(a["baseline"] or "–"),
                     esc(sampling),
                     esc(json.dumps(extra, ensure_ascii=False)),
                     esc(json.dumps(a["options"]) if a["options"] else "defaults"),
                     esc(a["budget"])])
    out.append("<h3>Analyses</h3>" + _table(
        ["analysis", "method", "baseline", "sampling", "quantities", "options",
         "budget (runs)"], rows, left=6))
    return "\n".join(out)


def _short_note(note, limit: int = 40) -> str:
    """A stage's note cut to ``limit`` characters (the ladder's levels of a curve's many
    thresholds would widen the table past the page), the whole note as its tooltip."""
    text = str(note)
    if len(text) <= limit:
        return esc(text)
    return f'<span title="{esc(text)}">{esc(text[:limit])}…</span>'


def _trust_cells(result, n_rows: int) -> list[str] | None:
    """The effective hits of each event probability of ``result``, flagged when the
    estimate is not to be trusted (:attr:`~multiexpect.ExpectationResult.trust`); None
    when the result has no event probability (``n_rows``: the table's rows, a curve's
    quantiles after its thresholds)."""
    k_eff = getattr(result, "effective_hits", None)
    if k_eff is None or np.all(np.isnan(k_eff)):
        return None
    cells = []
    for k, flag in zip(k_eff, result.trust):
        text = "–" if np.isnan(k) else f"{k:.3g}"
        if flag == FLAG_FEW_HITS:
            text = f'<b class="warn">{text} ⚠ few</b>'
        elif flag == FLAG_NO_HIT:
            text += " (no hit)"
        cells.append(text)
    return (cells + ["–"] * n_rows)[:n_rows]


def _points_cells(result, n_rows: int) -> list[str] | None:
    """The effective points of each quantity of ``result`` that is no event probability,
    flagged below ``FEW_POINTS`` (:attr:`~multiexpect.ExpectationResult.trust`); None when
    the result records none (``n_rows`` as :func:`_trust_cells`)."""
    points = getattr(result, "effective_points", None)
    if points is None:
        return None
    points = np.where(np.isnan(result.effective_hits), points, np.nan)
    if np.all(np.isnan(points)):
        return None
    cells = []
    for m, flag in zip(points, result.trust):
        text = "–" if np.isnan(m) else f"{m:.3g}"
        if flag == FLAG_FEW_POINTS:
            text = f'<b class="warn">{text} ⚠ few</b>'
        cells.append(text)
    return (cells + ["–"] * n_rows)[:n_rows]


def _interval_kind(result, level: float) -> str:
    """Which interval an RQMC result has at ``level`` (``""`` for none or an i.i.d. result)."""
    if result is None:
        return ""
    if hasattr(result, "interval_note"):
        return result.interval_note(level)
    return interval_line(getattr(result, "diagnostics", None) or {}, level)


def _estimates_table(main: dict, baseline: dict | None, level: float, result=None,
                     base=None) -> str:
    pct = f"{round(level * 100)}%"
    main_rows, base_rows = numeric_rows(main), numeric_rows(baseline)
    trust = _trust_cells(result, len(main_rows))
    points = _points_cells(result, len(main_rows))
    base_trust = _trust_cells(base, len(main_rows)) if baseline else None
    base_points = _points_cells(base, len(main_rows)) if baseline else None
    header = ["quantity", f"estimate ({esc(main['method'])})", "std. error",
              f"{pct} interval"] + (["eff. hits"] if trust else []) + (
                  ["eff. points"] if points else [])
    if baseline:
        header += [f"estimate ({esc(baseline['method'])})", "std. error", f"{pct} interval"]
        header += (["eff. hits"] if base_trust else []) + (
            ["eff. points"] if base_points else []) + ["variance ratio"]
    rows = []
    for k, r in enumerate(main_rows):
        row = [esc(r["name"]), num(r["estimate"]), num(r["stderr"], 3),
               f"[{num(r['low'])}, {num(r['high'])}]"] + ([trust[k]] if trust else [])
        row += [points[k]] if points else []
        if baseline:
            b = base_rows[k]
            ratio = "–"
            if r["stderr"] > 0 and math.isfinite(b["stderr"]) and b["stderr"] > 0:
                # equal budgets: the runs crude MC needs for the same precision, per run here
                scale = baseline["runs"]["spent"] / max(main["runs"]["spent"], 1)
                ratio = f"{scale * (b['stderr'] / r['stderr']) ** 2:.3g}"
            row += [num(b["estimate"]), num(b["stderr"], 3),
                    f"[{num(b['low'])}, {num(b['high'])}]"]
            row += ([base_trust[k]] if base_trust else []) + (
                [base_points[k]] if base_points else []) + [ratio]
        rows.append(row)
    note = ""
    if trust or base_trust:
        note += (f'<p class="note">Eff. hits: the effective hits of an event probability, '
                 f'p̂²(1 − p̂) / s.e.², at most its raw hits (the hits crude Monte Carlo '
                 f'would need for the same relative error). Below {FEW_HITS:g} (⚠ few): '
                 f'neither the estimate nor its standard error is to be trusted (few hits '
                 f'make a skewed, unstable estimate whose standard error is itself '
                 f'uncertain). With no hit the estimate is 0 and the interval an upper '
                 f'confidence bound.</p>')
    if points or base_points:
        note += (f'<p class="note">Eff. points: Kish\'s effective sample size of a '
                 f'quantity\'s final importance-sampling responses φ f / g, '
                 f'(Σ|y|)² / Σ y² (the equally weighted points that carry the estimate). '
                 f'Below {FEW_POINTS:g} (⚠ few): a few points carry the estimate, and '
                 f'neither it nor its standard error is to be trusted.</p>')
    for res, record in ((result, main), (base, baseline)):
        kind = _interval_kind(res, level)
        if record and kind:
            note += f'<p class="note">{esc(record["method"])}: {esc(kind)}.</p>'
    if baseline:
        note += ('<p class="note">Variance ratio: (baseline s.e. / main s.e.)² × (baseline '
                 'runs / main runs) — how many times more runs the baseline would need for '
                 'the same precision (– when the baseline has no standard error: no hit).'
                 '</p>')
    return _table(header, rows) + note


def _analysis_html(analysis: dict, level: float) -> str:
    main, baseline = analysis["main"], analysis["baseline"]
    result = result_from_dict(main["result"])
    base = result_from_dict(baseline["result"]) if baseline else None
    out = [f"<h2>{esc(analysis['title'])}</h2>"]
    runs = main["runs"]
    out.append(f'<p class="lede">Method <b>{esc(main["method"])}</b>: '
               f'{esc(runs["spent"])} model runs ({esc(runs["new"])} run now, '
               f'{esc(runs["reused"])} read from the store), {seconds(main["seconds"])} s.'
               + (f' Baseline <b>{esc(baseline["method"])}</b>: '
                  f'{esc(baseline["runs"]["spent"])} '
                  f'runs.' if baseline else "") + "</p>")
    kind = KINDS.get(analysis["kind"])
    if kind is None:
        raise StudyError("", f"not a valid results file: unknown analysis kind "
                         f"{analysis['kind']!r}")
    out += kind.notes(result)
    out.append(_estimates_table(main, baseline, level, result, base))
    out.append(kind.figure(result, base, main, baseline, level))
    history = _history(result)
    if history:
        chosen = result.diagnostics.get("chosen_stage")
        out.append("<h3>Adaptation history</h3>")
        out.append(img(_history_figure(history, chosen), "adaptation history"))
        rows = []
        for h in history:
            comps = h.get("components") or []
            alpha = h.get("alpha") or []
            top = sorted(zip(alpha, comps), reverse=True)[:4]
            mix = ", ".join(f"{esc(c)} {float(a):.2f}" for a, c in top) or "the law itself"
            rows.append([esc(h.get("index")), esc(h.get("n_points")), esc(h.get("runs_used")),
                         num(h["predicted_error"], 3), mix + ("" if len(comps) <= 4 else ", …"),
                         _short_note(h.get("note") or "")])
        out.append(_table(["stage", "points", "runs so far", "predicted final error",
                           "largest mixture weights", "note"], rows))
        if chosen is not None:
            out.append(f'<p class="note">The final stage drew a fresh sample from the proposal '
                       f'of stage {esc(chosen)} ({esc(result.diagnostics.get("n_final"))} '
                       f'points), with everything frozen: the estimate is unbiased and its '
                       f'standard error comes from that sample alone.</p>')
    return "\n".join(out)


def _repro_html(doc: dict) -> str:
    r = doc["reproducibility"]
    runs = r["model_runs"]
    rows = [["seed", esc(r["seed"])],
            ["model runs spent", f"{esc(runs['spent'])} ({esc(runs['new'])} run in the last "
                                 f"session, {esc(runs['reused'])} read from the store)"],
            ["wall time of the last session", f"{seconds(r['seconds'])} s"],
            ["started", esc(r["started"])],
            ["executor", esc(r.get("executor") or "in-process")
             + (f", {esc(r['workers'])} workers" if r.get("workers") else "")],
            ["store", f"<code>{esc(r['store'])}</code>"]]
    rows += [[esc(k), esc(v)] for k, v in r["versions"].items()]
    study = doc["study"]
    return ("<h2>Reproducibility</h2>" + _table(["", ""], rows, left=2)
            + f'<p class="note">Re-run: <code>multiexpect run {esc(study["file"])} --store '
              f'{esc(r["store"])}</code> (reads every stored run, runs nothing new).</p>'
            + "<details><summary>The study file</summary><pre>"
            + esc(study.get("source", "")) + "</pre></details>")


def render_report(doc: dict) -> str:
    """The report of a results document, as one HTML string.

    Raises
    ------
    StudyError
        The document does not follow the results schema (one line naming the key), or a
        value in it cannot be drawn.
    """
    validate_results(doc)
    try:
        return _render(doc)
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, StudyError):
            raise
        raise StudyError("", f"not a valid results file: {type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]}") from exc


def _render(doc: dict) -> str:
    study = doc["study"]
    level = float(doc.get("level", 0.95))
    runs = doc["reproducibility"]["model_runs"]
    n_est = sum(len(a["main"]["rows"]) for a in doc["analyses"])
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(study['name'])} — multiexpect report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{esc(study['name'])}</h1>",
    ]
    if study.get("description"):
        parts.append(f'<p class="lede">{esc(study["description"])}</p>')
    parts.append(
        '<div class="kpi">'
        f"<div><b>{n_est}</b>estimates</div>"
        f"<div><b>{esc(runs['spent'])}</b>model runs</div>"
        f"<div><b>{len(doc['analyses'])}</b>analyses</div>"
        f"<div><b>{round(level * 100)}%</b>intervals</div></div>")
    version = doc["reproducibility"]["versions"].get("multiexpect")
    parts.append(f'<p class="note">multiexpect {esc(version)}'
                 f", report generated {generated}. Intervals are normal-theory: estimate ± "
                 f"z × standard error; for event probabilities Wilson's interval from the "
                 f"effective hits, an upper bound without a hit.</p>")
    parts.append(_settings_html(doc))
    for analysis in doc["analyses"]:
        parts.append(_analysis_html(analysis, level))
    parts.append(_repro_html(doc))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write_report(doc: dict, path: str) -> None:
    """Write :func:`render_report` to ``path``."""
    text = render_report(doc)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StudyError("", f"cannot write the report: folder {folder} does not exist")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
