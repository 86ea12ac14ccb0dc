"""HTML fragments of the study report: a study's table, its provenance, the trial list and a
trial's view. Each function takes DataFrames (or a ``Table``) and returns escaped HTML:
every value from the results goes through :func:`esc`, so a category or an error message
can never become markup. ``analysis.report.build`` puts the fragments on the page.
"""
from __future__ import annotations

import html
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.tables.formats import test_lines, wide
from analysis.tables.build import MARK, Table
from study.results.schema import OK, C

# the trial list: (column in the row frame, header); numbers sort numerically in the page
TRIAL_LIST = ((C.study, "study"), (C.category, "category"), ("config", "configuration"), (C.seed, "seed"),
              (C.status, "status"), (C.image_auc, "image AUC"), (C.pixel_auc, "pixel AUC"),
              (C.val_auc, "val AUC"), ("train_seconds", "train s"), ("eval_seconds", "eval s"),
              ("images_per_second", "img/s"), (C.trial_key, "trial key"))
# what a trial's view lists under "costs"; everything else from the config goes under "config"
COSTS = ("train_seconds", "eval_seconds", "images_per_second", "device", "hostname", "node_id",
         "started_at", "finished_at", "restored_from_step")


def esc(value) -> str:
    """Text for HTML: None/NaN become empty, floats stay as Parquet gave them."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _escaped(str(value))


@lru_cache(maxsize=65536)
def _escaped(text: str) -> str:
    """``html.escape``, remembered: a 10,000-trial page escapes the same few values ~2M times."""
    return html.escape(text, quote=True)


def _num(value, digits: int = 4) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{float(value):.{digits}f}"


def study_table(table: Table) -> str:
    """The table as ``analysis tables`` prints it (marks, Δ and control columns), with the
    95% bootstrap interval under each of our cells where analysis computed one."""
    w = wide(table)
    ours = {h: h.removesuffix(f" {MARK}") for h in w.columns if h.removesuffix(f" {MARK}") in table.columns}
    data = table.data.set_index(["row", "column"])
    group_rows = set(table.data.loc[table.data["row_type"] == "group", "row"])
    controls = set(table.controls)
    head = "".join(f'<th class="{"control" if _base(h) in controls else ""}">{esc(h)}</th>' for h in w.columns)
    lines = []
    for rec in w.to_dict("records"):
        row = rec[""]
        cells = [f"<td>{esc(row)}</td>"]
        for h in list(w.columns)[1:]:
            text = esc(rec[h])
            col = ours.get(h)
            if col is not None and (row, col) in data.index:
                r = data.loc[(row, col)]
                if not pd.isna(r.get("ci_low", np.nan)):
                    text += f" <small>[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]</small>"
            cls = "control" if _base(h) in controls else ""
            cells.append(f'<td class="{cls}">{text}</td>')
        lines.append(f'<tr class="{"group" if row in group_rows else "category"}" data-row="{esc(row)}">'
                     f'{"".join(cells)}</tr>')
    tests = "".join(f"<li>{esc(t)}</li>" for t in test_lines(table))
    return (f'<table class="results" data-study="{esc(table.study)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(lines)}</tbody></table>'
            + (f'<h3>Tests</h3><ul class="tests">{tests}</ul>' if tests else ""))


def defects_table(defects) -> str:
    """``analysis.tables.metrics``' AUROC per defect type, folded (it is long)."""
    from analysis.tables.formats import wide_defects
    w = wide_defects(defects)
    head = "".join(f"<th>{esc(h)}</th>" for h in w.columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in line) + "</tr>" for line in w.itertuples(index=False))
    return (f'<details class="defects"><summary>AUROC per defect type</summary><p class="caption">'
            f'{esc(defects.caption)}</p><table data-study="{esc(defects.study)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></details>")


def caption(table: Table) -> str:
    return (f'<p class="caption">{esc(table.caption)} [small print]: 95% bootstrap interval over test '
            f'images (and seeds).</p>')


def _base(header: str) -> str:
    """The table column a displayed header belongs to ("x †", "x paper", "x Δ ctrl" -> x)."""
    for suffix in (f" {MARK}", " paper", " Δ ctrl", " Δ"):
        header = header.removesuffix(suffix)
    return header


def _values(series: pd.Series, limit: int = 6) -> str:
    vals = sorted({str(v) for v in series.dropna()}) if len(series) else []
    text = ", ".join(vals[:limit]) + (f" (+{len(vals) - limit} more)" if len(vals) > limit else "")
    return esc(text or "unrecorded")


def provenance(trials: pd.DataFrame, meta: dict | None) -> str:
    """Code version, dataset and its fingerprint, budget and machine of a study's trials."""
    meta = meta or {}
    col = lambda c: trials[c] if c in trials else pd.Series(dtype=object)   # noqa: E731
    datasets = col(C.dataset).dropna().astype(str)
    fingerprints = sorted({d.partition("@")[2] for d in datasets if "@" in d})
    started, finished = col("started_at").dropna(), col("finished_at").dropna()
    counts = trials[C.status].value_counts().to_dict() if C.status in trials else {}
    items = [
        ("description", esc(meta.get("description", "")) or "unrecorded"),
        ("spec", esc(meta.get("spec_path", "")) or "unrecorded"),
        ("trials", esc(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))),
        ("dataset", _values(datasets.str.partition("@")[0] if len(datasets) else datasets)),
        ("dataset fingerprint", esc(", ".join(fingerprints)) or "unrecorded"),
        ("budget", _values(col("budget"))),
        ("code version", _values(col("code_version"))),
        ("torch / ray", f"{_values(col('torch_version'))} / {_values(col('ray_version'))}"),
        ("machine", f"{_values(col('hostname'))} ({col('node_id').nunique()} node(s))"),
        ("device", _values(col("device"))),
        ("ran", esc(f"{started.min()} to {finished.max()}") if len(started) and len(finished) else "unrecorded"),
        ("train time", esc(f"{col('train_seconds').sum():.0f} s in all") if len(col("train_seconds")) else ""),
    ]
    return '<dl class="prov">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def search_best(trials: pd.DataFrame) -> str:
    """For a search (trials with ``val_auc``): each category's best trial by validation AUC
    and how far its test AUC is from it: the optimism a search's own objective carries."""
    ok = trials[(trials[C.status] == OK)] if C.status in trials else trials.iloc[:0]
    if C.val_auc not in ok or ok[C.val_auc].isna().all():
        return ""
    ok = ok.dropna(subset=[C.val_auc])
    best = ok.loc[ok.groupby(C.category)[C.val_auc].idxmax()].sort_values(C.category)
    rows = "".join(f'<tr><td>{esc(r.category)}</td><td class="key">{esc(r.trial_key)}</td>'
                   f"<td>{esc(r.config)}</td><td>{_num(r.val_auc)}</td><td>{_num(r.image_auc)}</td>"
                   f"<td>{_num(r.image_auc - r.val_auc)}</td></tr>" for r in best.itertuples())
    return ("<h3>Best trial per category by val_auc</h3><table><thead><tr><th>category</th><th>trial</th>"
            "<th>configuration</th><th>val_auc</th><th>image_auc (test)</th><th>test - val</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def trial_list(rows: pd.DataFrame) -> str:
    """The sortable, filterable list: one <tr> per trial with its filter fields as data-*."""
    from analysis.report.page import FILTER_FIELDS
    selects = []
    for f in FILTER_FIELDS:
        opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(set(rows[f].astype(str))))
        selects.append(f'<label>{f} <select id="f-{f}"><option value="">all</option>{opts}</select></label>')
    head = "".join(f'<th data-col="{c}">{esc(h)}</th>' for c, h in TRIAL_LIST)
    body = []
    for r in rows.to_dict("records"):
        attrs = " ".join(f'data-{f}="{esc(r[f])}"' for f in FILTER_FIELDS)
        tds = []
        for c, _ in TRIAL_LIST:
            v = r.get(c)
            shown = _num(v, 4 if "auc" in c else 1) if isinstance(v, (float, np.floating)) else esc(v)
            cls = f' class="st-{esc(v)}"' if c == C.status else (' class="key"' if c == C.trial_key else "")
            tds.append(f'<td data-col="{c}" data-v="{esc(v)}"{cls}>{shown}</td>')
        body.append(f'<tr data-key="{esc(r["trial_key"])}" {attrs}>{"".join(tds)}</tr>')
    return (f'<div class="filters">{"".join(selects)}<label>search <input id="f-q" type="search" '
            f'placeholder="key, variant..."></label><span class="muted"><span id="shown">{len(rows)}</span> '
            f'of {len(rows)} trials shown; click a header to sort, a row for its view</span></div>'
            f'<table id="trials" data-shown="{len(rows)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def svg_curve(steps, values, label: str, width: int = 260, height: int = 150) -> str:
    """A learning curve as inline SVG (no image per trial to render): points, line, ranges."""
    pts = [(float(s), float(v)) for s, v in zip(steps, values) if v is not None and not pd.isna(v)]
    if not pts:
        return ""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1e-9
    pad_l, pad_b, pad_t = 44, 22, 18
    sx = lambda x: pad_l + (x - x0) / (x1 - x0) * (width - pad_l - 8)          # noqa: E731
    sy = lambda y: pad_t + (1 - (y - y0) / (y1 - y0)) * (height - pad_t - pad_b)  # noqa: E731
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5"><title>step {x:g}: {y:.4g}</title>'
                   f"</circle>" for x, y in pts)
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{esc(label)}" font-size="10">'
            f'<text x="{pad_l}" y="12" font-weight="600">{esc(label)}</text>'
            f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 8}" y2="{height - pad_b}" stroke="#999"/>'
            f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" stroke="#999"/>'
            f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end">{max(ys):.3g}</text>'
            f'<text x="{pad_l - 4}" y="{height - pad_b}" text-anchor="end">{min(ys):.3g}</text>'
            f'<text x="{pad_l}" y="{height - 6}">step {x0:g}</text>'
            f'<text x="{width - 8}" y="{height - 6}" text-anchor="end">{max(xs):g}</text>'
            f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>'
            f'<g fill="#1f77b4">{dots}</g></svg>')


def learning_curves(history: pd.DataFrame) -> dict[str, str]:
    """Each trial's learning curves as inline SVG, one per numeric ``history`` column, by trial
    key: the history is sorted (by key, then step) and split once for all trials."""
    if history.empty:
        return {}
    metrics = [c for c in history.columns
               if c not in (C.trial_key, C.step) and pd.api.types.is_numeric_dtype(history[c])]
    h = history.sort_values([C.trial_key, C.step], kind="stable")
    keys, steps = h[C.trial_key].to_numpy(), h[C.step].to_numpy()
    values = {m: h[m].to_numpy() for m in metrics}
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return {keys[a]: "".join(svg_curve(steps[a:b], values[m][a:b], m) for m in metrics)
            for a, b in zip(starts, np.r_[starts[1:], len(keys)])}


def trial_view(row: dict, config_fields: list[str], curves: str, heatmap_png: str | None) -> str:
    """One trial's view (hidden until its row is clicked or ``#trial=<key>`` names it); ``curves``
    is its learning curves' SVG (``learning_curves``)."""
    key = row[C.trial_key]
    cfg = "".join(f"<tr><td>{esc(f)}</td><td>{esc(row.get(f))}</td></tr>" for f in config_fields
                  if f in row and not _missing(row.get(f)))
    costs = "".join(f"<tr><td>{esc(f)}</td><td>{esc(_num(row.get(f), 2) if f.endswith(('seconds', 'second')) else row.get(f))}"
                    f"</td></tr>" for f in COSTS if f in row and not _missing(row.get(f)))
    error = f'<pre class="error">{esc(row.get("error"))}</pre>' if not _missing(row.get("error")) else ""
    return (f'<section class="trial" data-key="{esc(key)}" id="trial-{esc(key)}" hidden>'
            f'<h3>Trial <span class="key">{esc(key)}</span>: {esc(row.get("study"))}, {esc(row.get("category"))}, '
            f'{esc(row.get("config"))}, seed {esc(row.get("seed"))}, {esc(row.get("status"))}</h3>{error}'
            f'<div class="curves">{curves or "<p class=muted>no learning curve recorded</p>"}</div>'
            + (f'<h3>Heatmaps</h3><img alt="heatmaps of {esc(key)}" src="{heatmap_png}">' if heatmap_png else "")
            + f'<div class="curves"><div><h3>Config</h3><table>{cfg}</table></div>'
            f'<div><h3>Costs</h3><table>{costs}</table></div></div></section>')


def _missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float):                 # the common cases first: a view asks ~60 fields per trial
        return v != v
    if isinstance(v, str):
        return False
    try:
        return bool(pd.isna(v)) if np.ndim(v) == 0 else False
    except (TypeError, ValueError):
        return False
