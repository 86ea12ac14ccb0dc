"""Figures of a study (functions return matplotlib Figures, ``save`` writes PNG and PDF):
``charts`` draws a table's numbers (per-category bars, critical difference, learning and
ablation curves), ``per_image`` what the trials stored per test image (ROC curves, sample
grids, t-SNE of embeddings, heatmaps).
"""
from analysis.figures.charts import ablation_curves, category_bars, critical_difference, learning_curves
from analysis.figures.per_image import heatmap_grid, roc_curves, sample_grid, save, tsne_embeddings

__all__ = ["ablation_curves", "category_bars", "critical_difference", "heatmap_grid", "learning_curves",
           "roc_curves", "sample_grid", "save", "tsne_embeddings"]
