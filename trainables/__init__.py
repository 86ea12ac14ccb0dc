"""The ground floor: one trial without Ray (data, augmentations, models, training, evaluation).

Imports nothing from ``study``, ``analysis`` or ``bench`` (``tests/test_architecture.py``).
"""
