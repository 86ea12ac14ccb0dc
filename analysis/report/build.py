"""``python -m analysis report``: a results folder as one self-contained HTML page.

The page holds every study's table (the marks, intervals, control columns and tests that
``analysis.tables`` computes), the figures of ``analysis.figures`` (PNG, inline as data
URIs), a trial list to sort and filter with a view per trial
(config, costs, learning curve, heatmaps), and the provenance of each study. Nothing is
fetched: the file can be mailed. ``--running`` (what ``study.launch --report`` passes
while a study runs) makes the page reload itself; the launcher's final write omits it.
The file is written under a temporary name and renamed, so a browser never loads half.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.report import sections as S
from analysis.report.page import page
from analysis.report.sections import esc
from study.results.schema import OK, C

RELOAD_SECONDS = 10.0


@dataclass
class Results:
    """Everything the page shows, read once (``load``); the builders below do no I/O."""
    location: str
    trials: pd.DataFrame
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    heatmaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    embeddings: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict = field(default_factory=dict)


def load(results: str) -> Results:
    from study.results.sink import read_embeddings, read_heatmaps, read_history, read_scores, read_trials
    from study.results.study_meta import read_study_meta
    return Results(results, read_trials(results), read_scores(results), read_history(results),
                   read_heatmaps(results), read_embeddings(results), read_study_meta(results))


def png_uri(fig) -> str | None:
    """A Figure as an inline ``data:image/png`` URI (closes the figure)."""
    if fig is None:
        return None
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _configs(trials: pd.DataFrame) -> pd.Series:
    """Each trial's configuration as its table names it (``lr=0.1``, ``control: untrained``);
    trials that did not finish get their variant, or their control's label."""
    from analysis.tables.columns import assign_columns, with_defaults
    from study.controls import control_kind, is_control
    label = pd.Series([f"control: {control_kind(r)}" if is_control(r) else str(r.get(C.variant))
                       for r in with_defaults(trials).to_dict("records")], index=trials.index, dtype=object)
    for study in set(trials[C.study]):
        ok = trials[(trials[C.study] == study) & (trials[C.status] == OK)]
        if len(ok):
            try:
                named = assign_columns(with_defaults(ok))[0]
                label.loc[named.index] = named["tcol"].astype(str)
            except (ValueError, KeyError):   # a study whose rows analysis cannot lay out: keep variants
                pass
    return label


def _figures(res: Results, study: str, table, log, slow: bool) -> list[tuple[str, str]]:
    """(name, data URI) of every figure ``analysis figures`` draws for a study; without
    ``slow``, not the t-SNE (seconds to minutes on 2 cores, too slow to redo per trial)."""
    from analysis.figures import charts as CH
    from analysis.figures import per_image as F
    out = []
    keys = set(res.trials.loc[res.trials[C.study] == study, C.trial_key])
    makers = [("per-category AUC", lambda: CH.category_bars(table)),
              ("critical difference", lambda: CH.critical_difference(table)),
              ("learning curves", lambda: None if res.history.empty else
               CH.learning_curves(res.history, res.trials, study, table.kind.metric)),
              ("ablation", lambda: CH.ablation_curves(res.trials, study, table.kind.metric)),
              ("ROC", lambda: F.roc_curves(res.trials, res.scores, study)),
              ("t-SNE", lambda: None if res.embeddings.empty or not slow else
               F.tsne_embeddings(res.embeddings[res.embeddings[C.trial_key].isin(keys)], res.trials)),
              ("heatmaps", lambda: None if res.heatmaps.empty else
               F.heatmap_grid(res.heatmaps[res.heatmaps[C.trial_key].isin(keys)], res.trials))]
    for name, make in makers:
        try:
            uri = png_uri(make())
        except Exception as e:   # one figure that cannot be drawn must not cost the page
            log(f"[analysis] report: {study} {name} figure skipped: {type(e).__name__}: {e}")
            continue
        if uri:
            out.append((name, uri))
    return out


def _study_section(res: Results, study: str, trials: pd.DataFrame, with_figures: bool, log, slow: bool) -> str:
    from analysis.tables.metrics import defect_table
    from analysis.tables.build import build_table
    part = trials[trials[C.study] == study]
    meta = res.meta.get(study)
    try:
        table = build_table(study, res.trials, res.scores, meta)
        cap, body = S.caption(table), S.study_table(table)
        defects = defect_table(study, res.trials, table.dataset)
        body += S.defects_table(defects) if defects is not None else ""
    except ValueError as e:
        table, cap, body = None, "", f'<p class="muted">No table yet: {esc(e)}</p>'
    figs = _figures(res, study, table, log, slow) if with_figures and table is not None else []
    fig_html = "".join(f'<figure><figcaption>{esc(n)}</figcaption><img alt="{esc(study)} {esc(n)}" '
                       f'src="{uri}"></figure>' for n, uri in figs)
    return (f'<section class="study" id="study-{esc(study)}"><h2>Study {esc(study)}</h2>'
            f'{S.provenance(part, meta)}{cap}<div class="cols"><div>{body}{S.search_best(part)}</div>'
            f'<div class="figs">{fig_html}</div></div></section>')


def _heatmap_uri(res: Results, heatmaps: pd.DataFrame | None) -> str | None:
    """One trial's heatmaps (its rows of ``res.heatmaps``) as a PNG for its view."""
    if heatmaps is None:
        return None
    from analysis.figures.per_image import heatmap_grid
    return png_uri(heatmap_grid(heatmaps, res.trials, max_images=4))


def build_report(res: Results, *, running: bool = False, reload_seconds: float = RELOAD_SECONDS,
                 figures: bool = True, log=lambda msg: print(msg, file=sys.stderr)) -> str:
    """The page as a string (``write_report`` puts it on disk). While ``running`` the page
    reloads itself and leaves out the t-SNE, which the final write draws."""
    from trainables.config import FIELD_TYPES
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    trials = res.trials
    title = "CutPaste study report"
    if trials.empty:
        body = ('<section class="panel"><p>No finished trials yet under '
                f"<code>{esc(res.location)}</code>.</p></section>")
        return page(title=title, subtitle=esc(f"{res.location}, written {now}"), body=body, n_trials=0,
                    running=running, reload_seconds=reload_seconds)
    trials = trials.assign(config=_configs(trials))
    studies = sorted(set(trials[C.study]))
    sections = [_study_section(res, s, trials, figures, log, slow=not running) for s in studies]
    order = trials.sort_values([C.study, C.category, "config", C.seed], kind="stable")
    curves = S.learning_curves(res.history)
    config_fields = [f for f in FIELD_TYPES if f in trials.columns] + [C.dataset, C.budget, C.code_version]
    maps = dict(tuple(res.heatmaps.groupby(C.trial_key))) if not res.heatmaps.empty else {}
    views = [S.trial_view(r, config_fields, curves.get(r[C.trial_key], ""),
                          _heatmap_uri(res, maps.get(r[C.trial_key]))) for r in order.to_dict("records")]
    nav = " · ".join(f'<a href="#study-{esc(s)}">{esc(s)}</a>' for s in studies)
    machine = f"{platform.node()}, {platform.platform()}, Python {platform.python_version()}"
    body = (f'<section class="panel">Studies: {nav} · <a href="#trial-list">trials</a>'
            f'<dl class="prov"><dt>results</dt><dd><code>{esc(res.location)}</code></dd>'
            f"<dt>report written</dt><dd>{esc(now)} on {esc(machine)}</dd></dl></section>"
            + "".join(sections)
            + f'<section class="panel" id="trial-list"><h2>Trials</h2>{S.trial_list(order)}{"".join(views)}</section>')
    counts = ", ".join(f"{n} {s}" for s, n in sorted(trials[C.status].value_counts().items()))
    return page(title=title, subtitle=esc(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}, "
                                          f"{len(trials)} trials ({counts}); written {now}"),
                body=body, n_trials=len(trials), running=running, reload_seconds=reload_seconds)


def write_report(results: str, out: str | os.PathLike, *, running: bool = False,
                 reload_seconds: float = RELOAD_SECONDS, figures: bool = True) -> Path:
    """Read ``results``, write the page to ``out`` atomically (temporary file, then rename)."""
    out = Path(out)
    text = build_report(load(results), running=running, reload_seconds=reload_seconds, figures=figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
