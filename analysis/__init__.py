"""A study's results read back as the paper reports them: tables, statistics, figures, a report.

One package per concern, lowest first (each imports only those above it in this list):

- :mod:`~analysis.paper`: the paper itself: how each of its tables labels columns and the
  protocol behind its numbers (``protocols``), and those numbers (``reference``);
- :mod:`~analysis.stats`: statistics over seeds and group rows (``summary``), seed
  ensembles (``ensemble``), a cell's bootstrap interval over test images (``bootstrap``),
  paired tests over categories (``significance``) and many-column ranks (``ranks``);
- :mod:`~analysis.tables`: a study's table (``build``), its columns and controls
  (``columns``), per-defect and beside metrics (``metrics``), markdown, LaTeX and CSV
  (``formats``);
- :mod:`~analysis.figures`: charts of a table's numbers (``charts``) and figures of
  per-image scores, samples, embeddings and heatmaps (``per_image``);
- :mod:`~analysis.report`: the self-contained HTML study report.

Functions take DataFrames and return data or Figures; ``python -m analysis`` (``__main__``)
and ``analysis.report`` are the only parts that read results and write files.
"""
