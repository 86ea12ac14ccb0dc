"""The metrics of a trial: their names (``names``), image-level (``image``), pixel-level
(``pixel``, with AUPRO) and the deployable threshold (``threshold``).

Each function takes arrays and returns numbers; nothing here knows about models or data.
"""
from trainables.metrics.image import auc_by_defect, detection_metrics, f1_max, image_ap, image_auc
from trainables.metrics.names import ANOMALY_METRICS, EVAL_METRICS, HISTORY_METRICS, TRIAL_METRICS
from trainables.metrics.pixel import Pixels, aupro, flat_pixels, localization_metrics, pixel_ap, pixel_auc, pro_curve
from trainables.metrics.threshold import flag_rates, threshold_at_fpr, threshold_metrics

__all__ = ["ANOMALY_METRICS", "EVAL_METRICS", "HISTORY_METRICS", "TRIAL_METRICS", "Pixels", "auc_by_defect",
           "aupro", "detection_metrics", "f1_max", "flag_rates", "flat_pixels", "image_ap", "image_auc",
           "localization_metrics", "pixel_ap", "pixel_auc", "pro_curve", "threshold_at_fpr", "threshold_metrics"]
