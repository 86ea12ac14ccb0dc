"""The study report's page: skeleton, style and script, inline so the file travels alone.

One ``string.Template`` with the sections ``analysis.report.build`` fills in (already escaped
HTML). The script sorts and filters the trial list and opens a trial's view. Its state
lives in the URL fragment (``report.html#category=bottle&sort=-image_auc&trial=<key>``),
read on load, written back on every change: a filtered view can be linked, it survives
the page's own reload while a study runs, and a headless browser shows it without clicks.
"""
from __future__ import annotations

from string import Template

from study.results.schema import C

# fragment keys the script reads; the trial list's <select>s carry the same names
FILTER_FIELDS = (C.study, C.category, "config", C.status)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#17324d;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;opacity:.85}
main{padding:8px 24px 40px;max-width:1500px}
section.study,section.panel{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 18px;margin:16px 0}
h2{font-size:18px;margin:6px 0 8px} h3{font-size:15px;margin:14px 0 6px}
.live{background:#fff3c4;color:#5b4600;padding:6px 24px;border-bottom:1px solid #e6d48a}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e4e8ee;padding:3px 8px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#eef2f6;position:sticky;top:0}
table.results tr.group td{font-weight:600;background:#f3f6fa}
table.results td.control,table.results th.control{color:#5a6675;background:#fafafa}
td small{color:#6b7785;font-size:11px}
.caption{color:#3c4652;font-size:12.5px;max-width:1100px}
ul.tests{font-size:12.5px;color:#3c4652;margin:4px 0 8px 0;padding-left:20px}
.cols{display:grid;grid-template-columns:fit-content(760px) minmax(0,1fr);gap:20px;align-items:start}
@media (max-width:1100px){.cols{grid-template-columns:minmax(0,1fr)}}
.figs figure{margin:0 0 10px} .figs figcaption{font-size:12.5px;color:#3c4652;font-weight:600}
.figs img{max-width:100%;border:1px solid #e4e8ee;margin:4px 0;display:block}
dl.prov{display:grid;grid-template-columns:max-content auto max-content auto;gap:2px 14px;font-size:12.5px;margin:6px 0}
dl.prov dt{color:#5a6675} dl.prov dd{margin:0}
.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:center;margin:6px 0}
.filters label{font-size:12.5px;color:#3c4652}
table#trials tbody tr{cursor:pointer} table#trials tbody tr:hover{background:#eef5ff}
table#trials tbody tr.selected{background:#dbe9ff}
table#trials th{cursor:pointer;user-select:none}
td.st-failed{color:#b00020;font-weight:600} td.st-stopped{color:#8a6d00}
code,.key{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
section.trial{border-top:2px solid #17324d;margin-top:14px;padding-top:6px}
.curves{display:flex;flex-wrap:wrap;gap:12px}
.curves svg{background:#fff;border:1px solid #e4e8ee}
pre.error{background:#fff0f0;border:1px solid #f1c0c0;padding:8px;max-height:300px;overflow:auto;font-size:12px}
.muted{color:#6b7785}
"""

SCRIPT = """
(function () {
  var FIELDS = %(fields)s;
  var table = document.getElementById('trials');
  if (!table) return;
  var body = table.tBodies[0];
  function params() { return new URLSearchParams(location.hash.replace(/^#/, '') || location.search.replace(/^\\?/, '')); }
  function write(p) {
    var text = p.toString();
    history.replaceState(null, '', text ? '#' + text : location.pathname + location.search);
    apply();
  }
  function cell(tr, name) { var c = tr.querySelector('td[data-col="' + name + '"]'); return c ? c.getAttribute('data-v') : ''; }
  function apply() {
    var p = params(), shown = 0, q = (p.get('q') || '').toLowerCase();
    FIELDS.forEach(function (f) { var el = document.getElementById('f-' + f); if (el) el.value = p.get(f) || ''; });
    document.getElementById('f-q').value = q;
    Array.prototype.forEach.call(body.rows, function (tr) {
      var ok = FIELDS.every(function (f) { return !p.get(f) || tr.getAttribute('data-' + f) === p.get(f); });
      if (ok && q) ok = tr.textContent.toLowerCase().indexOf(q) >= 0;
      tr.hidden = !ok;
      if (ok) shown += 1;
    });
    var sort = p.get('sort');
    if (sort) {
      var desc = sort.charAt(0) === '-', col = sort.replace(/^-/, '');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = cell(a, col), y = cell(b, col), nx = parseFloat(x), ny = parseFloat(y), r;
        if (x === '' && y !== '') return 1;
        if (y === '' && x !== '') return -1;
        r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return desc ? -r : r;
      });
      rows.forEach(function (tr) { body.appendChild(tr); });
    }
    table.setAttribute('data-shown', shown);
    document.getElementById('shown').textContent = shown;
    var key = p.get('trial');
    Array.prototype.forEach.call(document.querySelectorAll('section.trial'), function (s) {
      s.hidden = s.getAttribute('data-key') !== key;
    });
    Array.prototype.forEach.call(body.rows, function (tr) { tr.classList.toggle('selected', tr.getAttribute('data-key') === key); });
  }
  FIELDS.concat(['q']).forEach(function (f) {
    var el = document.getElementById('f-' + f);
    el.addEventListener(f === 'q' ? 'input' : 'change', function () {
      var p = params(); if (el.value) p.set(f, el.value); else p.delete(f); write(p);
    });
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener('click', function () {
      var p = params(), col = th.getAttribute('data-col');
      p.set('sort', p.get('sort') === col ? '-' + col : col); write(p);
    });
  });
  body.addEventListener('click', function (e) {
    var tr = e.target.closest('tr'); if (!tr) return;
    var p = params(); p.set('trial', tr.getAttribute('data-key')); write(p);
    var s = document.querySelector('section.trial[data-key="' + tr.getAttribute('data-key') + '"]');
    if (s) s.scrollIntoView({behavior: 'smooth'});
  });
  window.addEventListener('hashchange', apply);
  apply();
})();
"""

# while a study runs: reload (keeping the fragment, so filters and the open trial stay)
RELOAD = "<script>setTimeout(function () { location.reload(); }, $ms);</script>"

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="report-running" content="$running">
<meta name="report-trials" content="$n_trials">
<title>$title</title>
<style>$css</style>
$reload
</head>
<body>
<header><h1>$title</h1><p>$subtitle</p></header>
$live
<main>
$body
</main>
<script>$script</script>
</body>
</html>
""")


def page(*, title: str, subtitle: str, body: str, n_trials: int, running: bool, reload_seconds: float) -> str:
    """The whole document; ``title``/``subtitle`` escaped by the caller like every fragment."""
    import json
    live = (f'<div class="live">Study running: this page reloads every {reload_seconds:g} s and fills '
            f'in as trials finish.</div>') if running else ""
    reload = Template(RELOAD).substitute(ms=int(reload_seconds * 1000)) if running else ""
    return PAGE.substitute(title=title, subtitle=subtitle, body=body, n_trials=n_trials,
                           running="1" if running else "0", css=CSS, live=live, reload=reload,
                           script=SCRIPT % {"fields": json.dumps(list(FILTER_FIELDS))})
