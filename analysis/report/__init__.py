"""``python -m analysis report``: a results folder as one self-contained HTML page.

``build`` reads the results once and assembles the page, ``sections`` renders its escaped
HTML fragments (tables, provenance, trial list, a trial's view), ``page`` is the skeleton,
style and script.
"""
from analysis.report.build import Results, build_report, load, write_report

__all__ = ["Results", "build_report", "load", "write_report"]
