"""Benchmarks of this project's training loop, and the per-image PIL reference they compare with.

``python -m bench`` (``bench/__main__.py``) measures throughput; ``bench/gpu.sh`` is the one
prepared, time-bounded run for a lent GPU. Modules: ``common`` (synthetic images, timing),
``throughput`` (augmentation, training step, PIL reference), ``end_to_end`` (whole training
runs: ours against PIL CutPaste in DataLoader workers, and against its own model-only rate),
``packing`` (K trials sharing a device), ``phases`` (one trial's CPU and wall seconds phase by
phase, ``python -m bench.phases``), ``reference_pil`` (the per-image reference itself), ``deploy`` (an exported model's inference:
ONNX Runtime against PyTorch eager, ``python -m bench.deploy``). This package sits above every layer: it
may import ``trainables`` and ``study``; nothing imports it.
"""
