"""From a trial to the inspection line: its bundle, one ONNX graph, and prediction without torch.

- :mod:`~trainables.deploy.bundle`: a finished trial's bundle (encoder weights, the density's
  parameters, the threshold with what it promises, preprocessing, config, key, dataset,
  metrics), written atomically; ``python -m trainables.run ... --save DIR``;
- :mod:`~trainables.deploy.graph` and :mod:`~trainables.deploy.export`: the bundle as one ONNX
  graph (uint8 NHWC images -> preprocessing -> encoder -> features -> density as matrix
  products -> score, and the anomaly map for patch-level variants); ``python -m trainables.export``;
- :mod:`~trainables.deploy.predict` and :mod:`~trainables.deploy.calibrate`: scoring images and
  re-fitting the threshold on known-good ones with ONNX Runtime alone; ``python -m trainables.predict``;
- :mod:`~trainables.deploy.threshold` and :mod:`~trainables.deploy.metadata`: what a threshold
  guarantees (the order-statistic FPR bound) and the model's metadata.

This package's ``__init__`` imports nothing that imports torch (``predict`` runs where torch is
not installed); import ``bundle``, ``graph`` and ``export`` by their module names.
"""
from trainables.deploy.threshold import CONFIDENCE, describe, fpr_bound, normals_in, too_few_warning

__all__ = ["CONFIDENCE", "describe", "fpr_bound", "normals_in", "too_few_warning"]
