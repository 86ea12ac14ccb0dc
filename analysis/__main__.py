"""``python -m analysis tables|figures|report``: read a results directory, write tables and figures.

The functions in ``analysis.tables`` and ``analysis.figures`` take DataFrames; this module
is the only part that reads results and writes files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from study.results.paths import TABLES_OUT, TRIALS
from study.results.schema import C
from study.results.sink import read_embeddings, read_heatmaps, read_history, read_scores, read_trials

EXTENSIONS = {"markdown": "md", "latex": "tex", "csv": "csv"}


def _load(results: str, study: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials = read_trials(results)
    if trials.empty:
        raise SystemExit(f"error: no trials under {results}/{TRIALS}; run `python -m study.launch` first")
    if study is not None:
        if study not in set(trials[C.study]):
            raise SystemExit(f"error: study {study!r} not in {results}; present: {sorted(set(trials['study']))}")
        trials = trials[trials[C.study] == study]
    return trials, read_scores(results)


def _tables(trials: pd.DataFrame, scores: pd.DataFrame, results: str):
    """(study, table) for every study with finished trials; the others are named and skipped."""
    from analysis.tables.build import build_table
    from study.results.study_meta import read_study_meta

    meta = read_study_meta(results)
    for study in sorted(set(trials[C.study])):
        try:
            yield study, build_table(study, trials, scores, meta.get(study))
        except ValueError as e:
            print(f"[analysis] skipping {study}: {e}", file=sys.stderr)


def cmd_tables(args: argparse.Namespace) -> int:
    """Each study's table, then its AUROC per defect type (``<study>_by_defect``)."""
    from analysis.tables.metrics import defect_table
    from analysis.tables.formats import render, render_defects

    trials, scores = _load(args.results, args.study)
    out = Path(args.out) if args.out else (Path(args.results) / TABLES_OUT if args.format != "markdown" else None)
    written = 0
    for study, table in _tables(trials, scores, args.results):
        defects = defect_table(study, trials, table.dataset)
        texts = {study: render(table, args.format)}
        if defects is not None:
            texts[f"{study}_by_defect"] = render_defects(defects, args.format)
        for name, text in texts.items():
            if args.format == "markdown":
                print(text)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"{name}.{EXTENSIONS[args.format]}"
                path.write_text(text)
                print(f"[analysis] wrote {path}", file=sys.stderr)
        written += 1
    return 0 if written else 1


def _figure_root(trials: pd.DataFrame, data_root: str | None):
    """The dataset the sample figures draw from: --data-root, else the generated one."""
    from trainables.data import resolve_data_root

    if data_root:
        return resolve_data_root(data_root, verbose=False)
    names = set(trials[C.dataset].dropna().astype(str))
    if names and all(n.startswith("generated@") for n in names):
        return resolve_data_root(None, verbose=False)
    return None


def cmd_figures(args: argparse.Namespace) -> int:
    from analysis.figures import charts as CH
    from analysis.figures import per_image as F
    from analysis.stats.summary import group_of
    from analysis.tables.build import describe_dataset

    trials, scores = _load(args.results, args.study)
    embeddings = read_embeddings(args.results)
    heatmaps = read_heatmaps(args.results)
    history = read_history(args.results)
    out = Path(args.out)
    made: list[str] = []

    def keep(fig, name: str) -> None:
        if fig is not None:
            made.extend(F.save(fig, out, name))
            print(f"[analysis] {name}", flush=True)

    for study, table in _tables(trials, scores, args.results):
        keep(CH.category_bars(table), f"{study}_bars")
        keep(CH.critical_difference(table), f"{study}_cd")
        if not history.empty:
            keep(CH.learning_curves(history, trials, study, table.kind.metric), f"{study}_learning_curve")
        keep(CH.ablation_curves(trials, study, table.kind.metric), f"{study}_ablation")
        keep(F.roc_curves(trials, scores, study), f"{study}_roc")
        study_keys = set(trials.loc[trials[C.study] == study, C.trial_key])
        if not embeddings.empty:
            keep(F.tsne_embeddings(embeddings[embeddings[C.trial_key].isin(study_keys)], trials), f"{study}_tsne")
        if not heatmaps.empty:
            keep(F.heatmap_grid(heatmaps[heatmaps[C.trial_key].isin(study_keys)], trials), f"{study}_heatmaps")

    root = _figure_root(trials, args.data_root)
    if root is None:
        print("[analysis] sample grid skipped: pass --data-root with the dataset the results came from",
              file=sys.stderr)
    else:
        from analysis.stats.summary import category_order
        cats = category_order(trials[C.category].dropna())
        textures = [c for c in cats if group_of(c) == "texture"][:2]
        picks = (textures + [c for c in cats if c not in textures])[:4]
        dataset, _ = describe_dataset(trials)
        keep(F.sample_grid(root, picks, dataset=dataset), "samples")
    print(f"[analysis] {len(made)} files in {out}")
    return 0 if made else 1


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report.build import write_report
    from study.results.sink import read_trials

    if not args.running and read_trials(args.results).empty:
        raise SystemExit(f"error: no trials under {args.results}/{TRIALS}; run `python -m study.launch` first")
    path = write_report(args.results, args.out, running=args.running, figures=args.figures)
    print(f"[analysis] wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tables", help="the paper's tables from <results>/trials, paper numbers beside")
    t.add_argument("--results", default="results")
    t.add_argument("--study", default=None, help="one study (default: every study present)")
    t.add_argument("--format", choices=list(EXTENSIONS), default="markdown")
    t.add_argument("--out", default=None, help="folder for files (default: print markdown; "
                                               "latex/csv go to <results>/tables)")
    f = sub.add_parser("figures", help="bar charts, ablation curves, ROC, samples, t-SNE, heatmaps")
    f.add_argument("--results", default="results")
    f.add_argument("--study", default=None)
    f.add_argument("--out", required=True)
    f.add_argument("--data-root", default=None, help="dataset for the sample grid (default: the generated one)")
    r = sub.add_parser("report", help="one self-contained HTML page: tables, figures, trials, provenance")
    r.add_argument("--results", default="results")
    r.add_argument("--out", default="report.html")
    r.add_argument("--running", action="store_true",
                   help="the study is still running: the page reloads itself (study.launch --report)")
    r.add_argument("--no-figures", dest="figures", action="store_false", help="tables and trials only (faster)")
    args = ap.parse_args(argv)
    if args.command == "report":
        return cmd_report(args)
    return cmd_tables(args) if args.command == "tables" else cmd_figures(args)


if __name__ == "__main__":
    raise SystemExit(main())
