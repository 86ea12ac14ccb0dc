"""Statistics of a study's numbers, computed the way the paper reports them, with their uncertainty.

``summary`` (mean ± SE over seeds, group rows, category order), ``ensemble`` (a config's
seeds pooled from their per-image scores), ``bootstrap`` (a cell's interval over test
images and seeds), ``significance`` (paired Wilcoxon tests over categories, Holm), ``ranks``
(Friedman, average ranks, critical-difference cliques and diagram).
"""
from analysis.stats.bootstrap import bootstrap_auc_interval
from analysis.stats.ensemble import ensemble_auc, ensembles
from analysis.stats.ranks import average_ranks, cd_diagram, critical_difference_cliques, friedman
from analysis.stats.significance import holm, min_attainable_p, paired_tests, wilcoxon_method
from analysis.stats.summary import GROUP_ROWS, category_order, group_of, group_rows, seed_summary

__all__ = ["GROUP_ROWS", "average_ranks", "bootstrap_auc_interval", "category_order", "cd_diagram",
           "critical_difference_cliques", "ensemble_auc", "ensembles", "friedman", "group_of", "group_rows",
           "holm", "min_attainable_p", "paired_tests", "seed_summary", "wilcoxon_method"]
