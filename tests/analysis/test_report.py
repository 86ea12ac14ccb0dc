"""The study report on real results (tiny trials trained by the ``results_dir`` fixture),
opened in a real headless Chromium: tables, trial keys, filtering, a trial's view, pixels."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                                         "google-chrome-stable")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH: install it with "
                                    "`apt-get install -y chromium` (.ci/run does)")


def chromium(*args: str, timeout: int = 120) -> str:
    """Headless Chromium (--no-sandbox: CI and containers run as root), stdout returned."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={Path(os.environ.get('TMPDIR', '/tmp')) / 'report-test-profile'}",
           *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """What the tests read from the rendered DOM: table rows, trial rows, trial views."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[dict]] = {}     # study -> rows of its results table
        self.trial_rows: list[dict] = []            # the trial list, in DOM order
        self.views: dict[str, dict] = {}            # trial key -> its view section
        self.trials_table: dict = {}
        self._study = self._row = self._view = None
        self._in_trials = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "results" in (a.get("class") or ""):
            self._study = a["data-study"]
            self.tables[self._study] = []
        elif tag == "table" and a.get("id") == "trials":
            self._in_trials, self.trials_table = True, a
        elif tag == "tr" and self._study and "data-row" in a:
            self._row = {"row": a["data-row"], "cells": []}
            self.tables[self._study].append(self._row)
        elif tag == "tr" and self._in_trials and "data-key" in a:
            self.trial_rows.append(a | {"hidden": "hidden" in a})
        elif tag == "td" and self._in_trials and self.trial_rows and "data-col" in a:
            self.trial_rows[-1][f"v_{a['data-col']}"] = a.get("data-v")
        elif tag == "td" and self._row is not None:
            self._row["cells"].append("")
        elif tag == "section" and "trial" in (a.get("class") or ""):
            self._view = {"hidden": "hidden" in a, "points": [], "images": 0}
            self.views[a["data-key"]] = self._view
        elif tag == "polyline" and self._view is not None:
            self._view["points"].append(len(a["points"].split()))
        elif tag == "img" and self._view is not None and a.get("src", "").startswith("data:image/png;base64,"):
            self._view["images"] += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._study, self._row, self._in_trials = None, None, False
        elif tag == "tr":
            self._row = None
        elif tag == "section":
            self._view = None

    def handle_data(self, data):
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data


@pytest.fixture(scope="module")
def report(results_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = subprocess.run([sys.executable, "-m", "analysis", "report", "--results", str(results_dir),
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def dom(report) -> Dom:
    return Dom(chromium("--dump-dom", report.as_uri()))


@needs_chromium
def test_rendered_page_has_every_table_cell_and_every_trial_key(results_dir, dom):
    from analysis.tables.formats import wide
    from analysis.tables.build import build_table
    from study.results.sink import read_scores, read_trials
    from study.results.study_meta import read_study_meta
    trials, scores, meta = read_trials(results_dir), read_scores(results_dir), read_study_meta(results_dir)
    for study in sorted(set(trials["study"])):
        table = build_table(study, trials, scores, meta.get(study))
        expected = wide(table)
        shown = {r["row"]: r["cells"] for r in dom.tables[study]}
        ok = trials[(trials["study"] == study) & (trials["status"] == "ok")]
        assert set(ok["category"]) <= set(shown), study
        assert list(shown) == list(expected[""]), study           # categories, then group rows, in order
        for line in expected.to_dict("records"):
            cells = shown[line[""]][1:]
            for col, cell in zip(list(expected.columns)[1:], cells):
                assert cell.startswith(line[col]), (study, line[""], col, cell)   # then [CI] small print
    keys = set(trials["trial_key"])
    assert {r["data-key"] for r in dom.trial_rows} == keys
    assert set(dom.views) == keys and all(v["hidden"] for v in dom.views.values())
    assert not any(r["hidden"] for r in dom.trial_rows)


@needs_chromium
def test_category_in_the_url_filters_the_trial_list_to_that_category(results_dir, report):
    from study.results.sink import read_trials
    trials = read_trials(results_dir)
    for category in ("bottle", "carpet"):
        dom = Dom(chromium("--dump-dom", report.as_uri() + f"#category={category}&sort=-image_auc"))
        shown = [r for r in dom.trial_rows if not r["hidden"]]
        assert {r["data-category"] for r in shown} == {category}
        assert sorted(r["data-key"] for r in shown) == sorted(trials.loc[trials["category"] == category, "trial_key"])
        assert int(dom.trials_table["data-shown"]) == len(shown) < len(trials)
        aucs = [float(r["v_image_auc"]) for r in shown]
        assert aucs == sorted(aucs, reverse=True)        # and sorted by the fragment's column


# drives the page's own controls in an iframe: a category picked in the <select>, the
# image AUC header clicked twice (descending), then a row clicked; reports what is shown
DRIVER = """<!DOCTYPE html><html><body><pre id="out">not run</pre>
<iframe id="f" src="%s" width="1200" height="800"></iframe><script>
document.getElementById('f').addEventListener('load', function () {
  var d = this.contentDocument, w = this.contentWindow;
  var sel = d.getElementById('f-category'); sel.value = '%s'; sel.dispatchEvent(new w.Event('change'));
  var th = d.querySelector('#trials th[data-col="image_auc"]'); th.click(); th.click();
  var rows = Array.prototype.filter.call(d.querySelectorAll('#trials tbody tr'), function (r) { return !r.hidden; });
  rows[0].click();
  var open = Array.prototype.filter.call(d.querySelectorAll('section.trial'), function (s) { return !s.hidden; });
  document.getElementById('out').textContent = JSON.stringify({hash: w.location.hash,
    rows: rows.map(function (r) { return [r.getAttribute('data-key'), r.getAttribute('data-category'),
      r.querySelector('td[data-col=image_auc]').getAttribute('data-v')]; }),
    open: open.map(function (s) { return s.getAttribute('data-key'); })});
});
</script></body></html>"""


@needs_chromium
def test_the_pages_own_controls_filter_sort_and_open_a_trial(results_dir, report):
    import json
    import re
    from study.results.sink import read_trials
    trials = read_trials(results_dir)
    driver = report.parent / "driver.html"
    driver.write_text(DRIVER % (report.name, "carpet"))
    dom = chromium("--allow-file-access-from-files", "--dump-dom", driver.as_uri())
    got = json.loads(html_unescape(re.search(r'<pre id="out">(.*?)</pre>', dom, re.S).group(1)))
    carpet = trials[trials["category"] == "carpet"]
    assert sorted(k for k, _, _ in got["rows"]) == sorted(carpet["trial_key"])
    assert {c for _, c, _ in got["rows"]} == {"carpet"}
    aucs = [float(v) if v else float("-inf") for _, _, v in got["rows"]]
    assert aucs == sorted(aucs, reverse=True)
    assert got["open"] == [got["rows"][0][0]]
    assert got["hash"] == f"#category=carpet&sort=-image_auc&trial={got['rows'][0][0]}"


def html_unescape(text: str) -> str:
    import html
    return html.unescape(text)


@needs_chromium
def test_trial_view_shows_its_learning_curve_and_heatmaps(results_dir, report):
    from study.results.sink import read_heatmaps, read_history, read_trials
    trials, history, heatmaps = read_trials(results_dir), read_history(results_dir), read_heatmaps(results_dir)
    n_steps = history.groupby("trial_key")["step"].nunique()
    curve_key = n_steps.idxmax()
    assert n_steps.max() >= 2
    heat_key = sorted(set(heatmaps["trial_key"]))[0]
    doms = {}
    for key in (curve_key, heat_key):
        dom = doms[key] = Dom(chromium("--dump-dom", report.as_uri() + f"#trial={key}"))
        assert not dom.views[key]["hidden"]
        assert all(v["hidden"] for k, v in dom.views.items() if k != key)
        selected = [r for r in dom.trial_rows if "selected" in (r.get("class") or "")]
        assert [r["data-key"] for r in selected] == [key]
        assert len(dom.views) == len(trials)
    assert max(doms[curve_key].views[curve_key]["points"]) == n_steps.max()   # a point per evaluation
    assert doms[heat_key].views[heat_key]["images"] == 1
    assert doms[curve_key].views[curve_key]["images"] == 0 or curve_key in set(heatmaps["trial_key"])


@needs_chromium
def test_screenshot_of_the_report_is_not_blank(report, tmp_path):
    from PIL import Image
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,1000", report.as_uri())
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1000)
    colours = img.getcolors(maxcolors=1 << 20)
    assert len(colours) > 200                               # text, tables and charts, not one fill
    top = max(colours)[0] / (img.size[0] * img.size[1])
    assert top < 0.9                                        # no single colour covers the page


def test_running_page_reloads_itself_and_the_final_page_does_not(results_dir, tmp_path):
    from analysis.report.build import write_report
    out = tmp_path / "r.html"
    write_report(str(results_dir), out, running=True, figures=False)
    live = out.read_text()
    inode = out.stat().st_ino
    write_report(str(results_dir), out, running=False, figures=False)
    final = out.read_text()
    assert "location.reload()" in live and '<meta name="report-running" content="1">' in live
    assert "location.reload()" not in final and '<meta name="report-running" content="0">' in final
    assert out.stat().st_ino != inode                       # replaced by a rename, never rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]   # no temporary file left behind


def test_values_from_the_results_are_escaped(results_dir, tmp_path):
    from analysis.report.build import build_report, load
    from study.results.schema import failed_row
    from trainables.config import TrialConfig
    res = load(str(results_dir))
    bad = failed_row("table7_optim", TrialConfig(category="bottle").to_dict(), "k<b>1</b>",
                     "Traceback: <script>alert('x')</script> & more")
    res.trials = pd.concat([res.trials, pd.DataFrame([bad])], ignore_index=True)
    text = build_report(res, figures=False)
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in text
    assert 'data-key="k&lt;b&gt;1&lt;/b&gt;"' in text


def test_no_trials_gives_a_waiting_page_while_running_and_an_error_after(tmp_path):
    out = tmp_path / "r.html"
    cmd = [sys.executable, "-m", "analysis", "report", "--results", str(tmp_path / "empty"), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "no trials under" in done.stderr and not out.exists()
    done = subprocess.run(cmd + ["--running"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "No finished trials yet" in out.read_text() and "location.reload()" in out.read_text()
