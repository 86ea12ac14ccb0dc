"""The paper (Li et al. 2021): its tables' layouts and protocols, and its numbers.

``protocols`` says, per paper table, how columns are named and which trials follow the
paper's protocol closely enough to sit beside its number; ``reference`` reads those numbers
from the CSVs under ``analysis/paper/reference/``.
"""
from analysis.paper.protocols import (METHOD_FIELDS, NOT_METHOD_FIELDS, TABLE_KINDS, Protocol, TableKind,
                                      table_kind)
from analysis.paper.reference import paper_value

__all__ = ["METHOD_FIELDS", "NOT_METHOD_FIELDS", "Protocol", "TABLE_KINDS", "TableKind", "paper_value",
           "table_kind"]
