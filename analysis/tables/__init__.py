"""A study's table in the paper's layout: build it (``build``), name its columns and pair
them with their controls (``columns``), add per-defect and beside metrics (``metrics``) and
write it as markdown, LaTeX or CSV (``formats``).
"""
from analysis.tables.build import Table, build_table, describe_dataset
from analysis.tables.columns import assign_columns, with_defaults
from analysis.tables.formats import render, render_defects, wide, wide_defects
from analysis.tables.metrics import DefectTable, defect_table

__all__ = ["DefectTable", "Table", "assign_columns", "build_table", "defect_table", "describe_dataset", "render",
           "render_defects", "wide", "wide_defects", "with_defaults"]
