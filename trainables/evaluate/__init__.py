"""Evaluating a trained model: scores, heatmaps and every metric a trial reports.

``pipeline.evaluate`` is one evaluation; it scores images with one GDE over pooled features
(``image``) or every window densely (``patches``), draws GradCAM heatmaps for image-level
models (``gradcam``), scores held-out normals against procedural defects (``validation``:
``val_auc`` and the deployable threshold) and cross-fits null statistics (``crossfit``);
``samples`` keeps what figures need. The densities are ``trainables.models.density``'s.
"""
from trainables.evaluate.crossfit import crossfit_scores, null_stats
from trainables.evaluate.image import Scoring, extract_features
from trainables.evaluate.pipeline import PIXEL_TARGETS, evaluate, pixel_metrics
from trainables.evaluate.samples import embedding_sample, heatmap_rows
from trainables.evaluate.validation import VAL_DEFECT_FAMILY, held_out_normals, split_category, split_train

__all__ = ["PIXEL_TARGETS", "Scoring", "VAL_DEFECT_FAMILY", "crossfit_scores", "embedding_sample", "evaluate",
           "extract_features", "heatmap_rows", "held_out_normals", "null_stats", "pixel_metrics", "split_category",
           "split_train"]
